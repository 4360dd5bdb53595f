"""The app in a real browser: answer, reload, finish, sync — and the bureau has it."""

from __future__ import annotations

import subprocess
import time

import pytest
from sqlmodel import Session, select

from bureau.db import make_engine
from bureau.models import ReceivedRecord
from inspector_app import device
from inspector_app.store import open_store
from tests.browser import chromium_page, open_app, screenshot
from tests.support import start_app, stop

pytestmark = pytest.mark.browser


@pytest.fixture
def sqlite_only(bureau_db_url):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the bureau API is covered on PostgreSQL elsewhere")


def test_answer_reload_finish_sync(sqlite_only, running_bureau, tmp_path):
    home = tmp_path / "tablet"
    engine = open_store(home)
    token = running_bureau.cli("bureau", "enroll-token", "--inspector", "I0001").stdout.strip().splitlines()[-1]
    device.enroll(engine, running_bureau.url, token)
    app, url = start_app(home)
    try:
        with chromium_page() as page:
            first_frame_ms = open_app(page, url)
            print(f"\nfirst frame after {first_frame_ms:.0f} ms")
            page.get_by_text("福州市鼓楼区东街口大药房").first.click()
            page.get_by_text("已答 0 / 21").wait_for(timeout=15000)
            page.get_by_role("button", name="符合").first.click()
            page.get_by_text("已答 1 / 21").wait_for(timeout=15000)
            screenshot(page, "skeleton-answered")

            page.reload()  # the tab closes and comes back: the answer is in the device store
            page.wait_for_function("window.__firstFrameAt !== null", timeout=30000)
            from tests.browser import enable_semantics
            enable_semantics(page)
            page.get_by_text("福州市鼓楼区东街口大药房").first.click()
            page.get_by_text("已答 1 / 21").wait_for(timeout=15000)

            # The rest of the checklist is answered through the same store the app reads.
            inspection = device.inspection_of(engine, device.assignments(engine, "I0001")[0].id)
            answered = device.answers_of(engine, inspection.id)
            assert list(answered) and all(a.result == "pass" for a in answered.values())
            from checklists import template_for_kind
            for item in template_for_kind("pharmacy").items:
                if item.id not in answered:
                    device.save_answer(engine, inspection.id, item.id, "pass")
            page.get_by_role("button", name="返回").click()
            page.get_by_text("已答 21/21").wait_for(timeout=15000)
            page.get_by_text("福州市鼓楼区东街口大药房").first.click()
            page.get_by_role("button", name="完成检查").click()
            page.get_by_text("检查已完成，记录已锁定").wait_for(timeout=15000)
            page.get_by_role("button", name="返回").click()
            page.get_by_role("button", name="同步", exact=True).click()
            page.get_by_text("已同步 1 份检查记录").wait_for(timeout=20000)
            screenshot(page, "skeleton-synced")
    finally:
        stop(app)

    bureau_engine = make_engine(running_bureau.settings.database_url)
    with Session(bureau_engine) as session:
        received = session.exec(select(ReceivedRecord)).all()
    bureau_engine.dispose()
    assert [r.record_id for r in received] == [inspection.id]
    assert len(received[0].record["answers"]) == 21 and received[0].signers == ["I0001"]


def test_app_works_offline_from_the_device_store(sqlite_only, running_bureau, tmp_path):
    home = tmp_path / "tablet"
    engine = open_store(home)
    token = running_bureau.cli("bureau", "enroll-token", "--inspector", "I0001").stdout.strip().splitlines()[-1]
    identity = device.enroll(engine, running_bureau.url, token)
    device.pull_assignments(engine, identity)
    stop(running_bureau.process)  # the bureau goes away: the pharmacy basement
    app, url = start_app(home)
    try:
        with chromium_page() as page:
            open_app(page, url)
            page.get_by_text("离线模式：无法连接局端，显示本机已保存的任务").wait_for(timeout=20000)
            page.get_by_text("福州市鼓楼区东街口大药房").first.click()
            page.get_by_role("button", name="不符合").first.click()
            page.get_by_text("已答 1 / 21").wait_for(timeout=15000)
            time.sleep(0.5)
            screenshot(page, "skeleton-offline")
    finally:
        stop(app)
    inspection = device.inspection_of(engine, device.assignments(engine, "I0001")[0].id)
    assert [a.result for a in device.answers_of(engine, inspection.id).values()] == ["fail"]
