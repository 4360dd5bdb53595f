"""Driving the Flet web app in Debian's Chromium with Playwright (the recipe from DESIGN.md)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("YIBAO_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

FIRST_FRAME_PROBE = """
window.__firstFrameAt = null;
window.addEventListener('flutter-first-frame', () => { window.__firstFrameAt = performance.now(); });
"""


# A tablet's camera: Chromium's fake one, its permission prompt answered yes.
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
_chromium: tuple | None = None  # (Playwright, Browser): the one Chromium of this test process


def _shared_chromium():
    """Chromium, launched once per test process (about 3 s and 1.4 s of a core each time); every test then browses
    in a context of its own (`browser_context`), as isolated as a fresh profile: own cookies, storage, cache."""
    global _chromium
    if _chromium is None or not _chromium[1].is_connected():
        from playwright.sync_api import sync_playwright

        close_chromium()
        pw = sync_playwright().start()
        _chromium = (pw, pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=[*CHROMIUM_ARGS, *FAKE_CAMERA_ARGS]))
    return _chromium[1]


def close_chromium() -> None:
    """Before a test that drives no browser, and at the end of the test process (tests/conftest.py)."""
    global _chromium
    if _chromium is not None:
        pw, browser = _chromium
        _chromium = None
        try:
            browser.close()
        finally:
            pw.stop()


def browser_context(viewport, **options):
    """A new browser context (a fresh profile's worth of state) in this process's Chromium; close it when done.

    It asks for reduced motion (`prefers-reduced-motion: reduce`, an accessibility setting some users have, which
    Flutter's web engine reads as "disable animations"), unless `reduced_motion="no-preference"` is given: Chromium
    draws Flutter in software, frame by frame, and the animations left out took a fifth of the CPU of a browser test
    (test_app_browser and test_supervisor_browser: 40.6 → 32.0 CPU-s, all processes). The README demo's walk keeps
    the motion a default browser shows."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/test.sh installs Debian's chromium)")
    options.setdefault("reduced_motion", "reduce")
    return _shared_chromium().new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN",
                                          **options)


@contextmanager
def chromium_page(viewport=(1280, 900), **options):
    context = browser_context(viewport, **options)
    page = context.new_page()
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
    """Switch Flutter's accessibility tree on, and wait until it holds the screen's nodes (a click on the placeholder
    that comes before the engine listens is ignored: click again)."""
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=15000)
    for _attempt in range(3):
        page.evaluate("document.querySelector('flt-semantics-placeholder')?.click()")
        try:
            page.wait_for_function("document.querySelectorAll('flt-semantics').length > 1", timeout=10000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("Flutter's semantics tree never appeared")


# Resolves after the browser has painted twice: what Flutter built by now is on the canvas.
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
SETTLE_MS = 350  # and a Material transition or ripple still in flight (300 ms at most) has ended


def settle(page) -> None:
    """Before a screenshot: the screen painted and at rest (the caller has waited for what it shows)."""
    page.evaluate(PAINTED)
    page.wait_for_timeout(SETTLE_MS)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    settle(page)
    path = ARTIFACTS / f"{name}.png"
    # Written whole, then renamed: tests running at once in other pytest-xdist workers may save the same name.
    partial = path.with_name(f".{name}.{os.getpid()}.png")
    partial.write_bytes(page.screenshot())
    os.replace(partial, path)
    return path


VIEWPORT = (1280, 1000)


def reveal(page, locator):
    """Scroll the Flutter view (mouse wheel) until `locator` is on screen; returns it."""
    for _attempt in range(40):
        if locator.count() and locator.first.is_visible():
            box = locator.first.bounding_box()
            if box and 60 <= box["y"] and box["y"] + box["height"] <= VIEWPORT[1]:
                return locator.first
            delta = -300 if box and box["y"] < 60 else 300
        else:
            delta = 300
        page.mouse.move(VIEWPORT[0] - 40, VIEWPORT[1] // 2)
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(150)
    raise AssertionError(f"never scrolled into view: {locator}")


def gone(page, text: str) -> None:
    """Wait until the previous screen has left: during a page transition both screens are in the tree, and a tap
    then may land on the one going away. If it never leaves, the screen as it stayed is saved for the reader."""
    try:
        expect(page.get_by_text(text, exact=False)).to_have_count(0, timeout=20000)
    except AssertionError:
        screenshot(page, f"stuck-{text[:20]}")
        raise


def button(scope, name: str):
    return scope.get_by_role("button", name=name, exact=True)


def tap(page, scope, name: str) -> None:
    reveal(page, button(scope, name)).click()


def page_of(scope):
    """The page of a locator, or the page itself."""
    return getattr(scope, "page", scope)


def until_taken(act, taken, failure: str) -> None:
    """Do `act` and wait for `taken` (an expectation that raises AssertionError), up to three times: a tap or a
    keystroke that lands while Flutter is still settling the previous one can be lost. Only for acts that change
    nothing when repeated after all."""
    for _attempt in range(3):
        act()
        try:
            taken()
            return
        except AssertionError:
            continue
    raise AssertionError(failure)


def check(scope, label: str) -> None:
    """Tick a checkbox and make sure it took."""
    box = scope.get_by_role("checkbox", name=label)
    until_taken(lambda: reveal(page_of(scope), box).click(), lambda: expect(box).to_be_checked(timeout=3000),
                f"the checkbox {label} did not take the tick")


def fill(scope, label: str, text: str, nth: int = 0) -> None:
    """Type into a Flutter text field (the `nth` of those with this label) and make sure the field took the text."""
    field = scope.get_by_role("textbox", name=label).nth(nth)

    def type_in() -> None:
        reveal(page_of(scope), field).click()
        # Let Flutter attach its editing to the field the click focused: Chromium 156.0.8078.114 hands text filled
        # at once to the input alone, so the field showed it but the app never heard of it (seen on the check-in).
        page_of(scope).wait_for_timeout(200)
        field.fill(text)

    until_taken(type_in, lambda: expect(field).to_have_value(text, timeout=3000),
                f"the field {label} did not take {text!r}")
    # The browser's input holds the text; Flutter reads it on its next frame and only then tells the app. Let it
    # do so before the next tap, which otherwise may reach the app first on a loaded machine.
    page_of(scope).wait_for_timeout(300)


def shown(page, text: str):
    """Text on screen, wherever Flutter's semantics put it: as text, or merged into the label of a node beside it
    (a card's texts become the aria-label of its group, or of a text field in it)."""
    return page.get_by_text(text, exact=False).or_(page.locator(f"flt-semantics-host [aria-label*={text!r}]")).first


def wait_shown(page, text: str, timeout: int = 20000) -> None:
    shown(page, text).wait_for(timeout=timeout)


def choose(scope, label: str) -> None:
    """Pick a radio button and make sure it took."""
    radio = scope.get_by_role("radio", name=label, exact=True)
    until_taken(lambda: reveal(page_of(scope), radio).click(), lambda: expect(radio).to_be_checked(timeout=3000),
                f"the choice {label} did not take")
