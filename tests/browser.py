"""Driving the Flet web app in Debian's Chromium with Playwright (the recipe from DESIGN.md)."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("YIBAO_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

FIRST_FRAME_PROBE = """
window.__firstFrameAt = null;
window.addEventListener('flutter-first-frame', () => { window.__firstFrameAt = performance.now(); });
"""


@contextmanager
def chromium_page(viewport=(1280, 900)):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
        page = context.pages[0] if context.pages else context.new_page()
        page.add_init_script(FIRST_FRAME_PROBE)
        try:
            yield page
        finally:
            context.close()


def open_app(page, url: str, timeout_ms: int = 30000) -> float:
    """Load the app, wait for Flutter's first frame, switch semantics on; returns ms to first frame."""
    page.goto(url)
    page.wait_for_function("window.__firstFrameAt !== null", timeout=timeout_ms)
    first_frame = page.evaluate("window.__firstFrameAt")
    enable_semantics(page)
    return first_frame


def enable_semantics(page) -> None:
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=15000)
    page.evaluate("document.querySelector('flt-semantics-placeholder').click()")
    page.wait_for_selector("flt-semantics", state="attached", timeout=15000)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    time.sleep(1.0)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
