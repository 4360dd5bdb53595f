"""Slow actions say so, in a real browser. With the bureau stopped, 登录 says it cannot reach the bureau, and unlocking
lands on the assignment list saying it is offline; 同步 shows its progress and a 取消 button at once, its button
disabled, the app still answering, and 取消 ends it with nothing lost; with the bureau back, 同步 sends the record and
its photos and says so. Screenshots at 1280×800 and 800×1280."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests
from playwright.sync_api import expect

import checklists
from inspector_app import onsite, outbox
from tests.browser import button, chromium_page, fill, gone, open_app, screenshot, shown, until_taken, wait_shown
from tests.support import (
    STAFF_PASSWORD,
    RunningBureau,
    add_staff,
    init_bureau,
    serve_in_interpreter,
    start_app,
    start_bureau,
    stop,
)
from tests.test_flow_browser import enter_pin
from tests.test_onsite_support import PIN
from tests.test_review_support import CHECKIN, _fill, _sign, pin_tablet

pytestmark = pytest.mark.browser
WIDE, TALL = (1280, 800), (800, 1280)


@pytest.fixture
def sqlite_only(bureau_db_url):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite")


def locked_inspection(bureau: RunningBureau, home) -> int:
    """A tablet (I0001 and I0002, with PINs) holding one signed, locked inspection with photos, not yet sent.
    Returns how many photos wait with it."""
    tablet = pin_tablet(bureau, home)
    inspection = onsite.start_inspection(tablet.engine, tablet.assignment("P35010200001").id, "I0001")
    onsite.save_checkin(tablet.engine, tablet.first.data_key, inspection.id, CHECKIN)
    _fill(tablet, inspection.id, checklists.template_for_kind("pharmacy"), {"R-FEE-02": ("代刷", "100.00")}, {})
    _sign(tablet, inspection.id, onsite.SIGNING_ROLES)
    onsite.lock(tablet.engine, tablet.store, tablet.first.data_key, inspection.id, [tablet.first, tablet.second])
    waiting = outbox.status(tablet.engine)
    assert waiting.outbox == 1 and waiting.blobs_total
    return waiting.blobs_total


def serve_again(bureau: RunningBureau) -> subprocess.Popen:
    """The stopped bureau back on its own address (the tablet enrolled with it)."""
    return serve_in_interpreter(bureau.settings, int(bureau.url.rsplit(":", 1)[1]))


def test_offline_at_unlock_and_sync_progress_cancel_and_result(sqlite_only, running_bureau, tmp_path):
    home = tmp_path / "tablet"
    photos = locked_inspection(running_bureau, home)
    stop(running_bureau.process)  # the pharmacy basement: no link
    app, url = start_app(home)
    bureau = None
    try:
        with chromium_page(viewport=WIDE) as page:
            open_app(page, url)
            wait_shown(page, "检查人员 I0001，请输入 PIN")

            # 登录 with no bureau: a clear word within the connect timeout, the button usable again
            button(page, "局端人员登录").click()
            gone(page, "请输入 PIN")
            fill(page, "账号", "zhuren")
            fill(page, "密码", "yibao-demo-2026")
            button(page, "登录").click()
            wait_shown(page, "无法连接局端服务", 20000)
            expect(button(page, "登录")).to_be_enabled(timeout=5000)
            screenshot(page, "busy-00-login-offline-1280x800")
            button(page, "返回").click()
            expect(page.get_by_role("textbox", name="账号")).to_have_count(0, timeout=20000)

            wait_shown(page, "检查人员 I0001，请输入 PIN")
            enter_pin(page, PIN["I0001"], "解锁")
            wait_shown(page, "离线模式：无法连接局端，显示本机已保存的任务", 20000)
            wait_shown(page, "待同步")
            screenshot(page, "busy-01-offline-1280x800")

            # 同步 with no link: at once the progress, the button disabled, 取消 offered; the run keeps retrying
            sync, cancel = button(page, "同步"), button(page, "取消")
            expect(cancel).to_have_count(0)
            sync.click()
            wait_shown(page, "正在同步：检查记录 0/1", 10000)
            expect(sync).to_be_disabled(timeout=5000)
            expect(cancel).to_be_visible(timeout=5000)
            wait_shown(page, "连接局端失败，正在重试", 15000)
            requests.get(url, timeout=5).raise_for_status()  # the app's event loop is free: the sync runs beside it
            screenshot(page, "busy-02-syncing-1280x800")
            page.set_viewport_size({"width": TALL[0], "height": TALL[1]})
            screenshot(page, "busy-03-syncing-800x1280")
            expect(sync).to_be_disabled()  # still running: the retries go on until the deadline or 取消

            # a tap that lands while Flutter lays the new size out can be lost: tap again until it says it stops
            stopping = shown(page, "正在取消").or_(shown(page, "已取消同步")).first
            until_taken(cancel.click, lambda: expect(stopping).to_be_visible(timeout=5000), "取消 was not taken")
            wait_shown(page, "已取消同步：未发送的记录和照片保留在本机，下次同步时继续", 20000)
            expect(sync).to_be_enabled(timeout=5000)
            expect(cancel).to_have_count(0)
            wait_shown(page, "待同步")
            screenshot(page, "busy-04-cancelled-800x1280")

            # the bureau is back: the same button sends the record and its photos, and says so
            bureau = serve_again(running_bureau)
            sync.click()
            wait_shown(page, f"已同步 1 份检查记录、{photos} 张照片", 60000)
            expect(sync).to_be_enabled(timeout=5000)
            expect(page.get_by_text("离线模式", exact=False)).to_have_count(0)
            wait_shown(page, "已同步")
            screenshot(page, "busy-05-synced-800x1280")
            page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})
            screenshot(page, "busy-06-synced-1280x800")
    finally:
        stop(app)
        if bureau is not None:
            stop(bureau)


def test_a_staff_screen_loads_off_the_event_loop(sqlite_only, bureau_settings, tmp_path):
    """A screen whose data comes from the bureau is built in a worker thread: with the bureau frozen (SIGSTOP: the
    connection opens, no answer comes), opening 覆盖情况 leaves the app answering other requests, and the screen
    says what happened once the client gives up (before, the build held the event loop for the read timeout)."""
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    bureau = start_bureau(bureau_settings)
    app, url = start_app(tmp_path / "desk", bureau.url)
    frozen = False
    try:
        with chromium_page(viewport=WIDE) as page:
            open_app(page, url)
            button(page, "局端人员登录").click()
            gone(page, "请输入科室负责人提供的注册码")
            fill(page, "账号", "zhuren")
            fill(page, "密码", STAFF_PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            wait_shown(page, "覆盖情况", 15000)

            os.kill(bureau.process.pid, signal.SIGSTOP)
            frozen = True
            page.get_by_text("覆盖情况", exact=True).click()
            for _ in range(3):  # the app's event loop stays free while the screen waits for the bureau
                requests.get(url, timeout=3).raise_for_status()
                time.sleep(1)
            wait_shown(page, "无法连接局端服务", 30000)
            screenshot(page, "busy-07-staff-screen-bureau-frozen-1280x800")
    finally:
        if frozen:
            os.kill(bureau.process.pid, signal.SIGCONT)
        stop(app)
        stop(bureau.process)
