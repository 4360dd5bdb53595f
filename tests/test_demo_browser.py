"""The README's first command in a real browser, as a newcomer meets it: `yibao demo` (the process itself, not a
helper that builds the pieces differently) → set a PIN → the tablet's assignments, online → 同步 → staff sign-in →
the workbench. Meanwhile the bureau's health must keep answering: nothing the app does may starve it."""

from __future__ import annotations

import threading

import pytest
import requests
from playwright.sync_api import expect

from tests.browser import button, chromium_page, fill, gone, open_app, screenshot, shown, wait_shown
from tests.support import free_port, stop
from tests.test_demo import DEMO_PASSWORD, start_demo
from tests.test_flow_browser import enter_pin

pytestmark = pytest.mark.browser
NEW_PIN = "480163"
HEALTH_TIMEOUT_SECONDS = 5  # a stalled bureau took 28 s; a healthy one answers in milliseconds


class HealthWatch:
    """Asks the bureau's /v1/health every quarter second in a thread; keeps every call that failed or stalled."""

    def __init__(self, url: str):
        self.url, self.calls, self.problems = f"{url}/v1/health", 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.calls += 1
            try:
                requests.get(self.url, timeout=HEALTH_TIMEOUT_SECONDS).raise_for_status()
            except requests.RequestException as exc:
                self.problems.append(repr(exc))

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def test_the_readme_demo_works_in_a_browser_and_the_bureau_keeps_answering(tmp_path):
    bureau_port, app_port = free_port(), free_port()
    proc, _lines = start_demo(tmp_path / "demo", bureau_port, app_port)
    bureau_url, app_url = f"http://127.0.0.1:{bureau_port}", f"http://127.0.0.1:{app_port}/"
    try:
        with HealthWatch(bureau_url) as health, chromium_page() as page:
            open_app(page, app_url)
            wait_shown(page, "请设置 PIN")
            screenshot(page, "demo-1-set-pin")
            enter_pin(page, NEW_PIN, "确定")
            wait_shown(page, "请再输入一次 PIN")
            enter_pin(page, NEW_PIN, "确定")
            wait_shown(page, "我的检查任务")
            wait_shown(page, "已答 0/")  # the drawn assignments, pulled from the bureau at unlock
            expect(page.get_by_text("离线模式", exact=False)).to_have_count(0)
            expect(page.get_by_text("暂无检查任务", exact=False)).to_have_count(0)
            screenshot(page, "demo-2-assignments")

            button(page, "同步").click()
            wait_shown(page, "没有待同步的检查记录", timeout=60000)  # nothing worked yet: the outbox is empty
            screenshot(page, "demo-3-synced")

            button(page, "局端人员登录").click()
            wait_shown(page, "账号")
            fill(page, "账号", "zhuren")
            fill(page, "密码", DEMO_PASSWORD)
            button(page, "登录").click()
            gone(page, "局端人员登录")
            expect(shown(page, "名录库导入")).to_be_visible(timeout=30000)
            screenshot(page, "demo-4-workbench")
        assert health.calls > 0 and health.problems == [], health.problems
    finally:
        stop(proc)
