"""The app's first frame in a browser vs. a floor measured in the same run.

The app (`yibao app` on a fresh device home: the PIN screen, the bundled CJK font and its rare-character fallback) is
loaded in headless Chromium, and so is the floor: a bare Flet page (one line of text, no fonts) served the same way
(web mode, no CDN, uvicorn on loopback). Loads alternate, each in a fresh browser profile so nothing is cached; for
each it records the milliseconds to Flutter's first frame, the bytes the browser fetched, and for the app when its
CJK fonts had arrived: before the first frame, no text is ever drawn without its glyphs (boxes, "tofu"). Prints the
medians and the app/floor ratios. Needs /usr/bin/chromium and the test extras (Playwright).

Run: .venv/bin/python bench/bench_first_frame.py [--loads N]. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, FIRST_FRAME_PROBE  # noqa: E402
from tests.support import YIBAO, free_port, wait_for_http  # noqa: E402

FLOOR_APP = """
import sys, flet as ft, uvicorn
app = ft.run(lambda page: page.add(ft.Text("probe")), no_cdn=True, export_asgi_app=True, name="")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def start(args: list[str], port: int, cwd: str | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    wait_for_http(f"http://127.0.0.1:{port}/", proc=proc)
    return proc


FONTS_READY = """Math.max(...performance.getEntriesByType('resource')
    .filter(e => e.name.includes('/fonts/NotoSansSC')).map(e => e.responseEnd), -1)"""


def load_once(pw, url: str) -> tuple[float, int, float]:
    """One cold load: ms to first frame, bytes fetched, ms until the bundled fonts had arrived (-1: none fetched)."""
    fetched: list[Any] = []  # the requests the page made
    with tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.add_init_script(FIRST_FRAME_PROBE)
            page.on("requestfinished", lambda request: fetched.append(request))
            page.goto(url)
            page.wait_for_function("window.__firstFrameAt !== null", timeout=60000)
            first_frame = page.evaluate("window.__firstFrameAt")
            page.wait_for_timeout(1500)  # fonts that arrive after the first frame: count their bytes too
            fonts_ready = page.evaluate(FONTS_READY)
            size = sum(request.sizes()["responseBodySize"] for request in list(fetched))  # while the page is open
        finally:
            context.close()
    return first_frame, size, fonts_ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=5)
    loads = parser.parse_args().loads
    from playwright.sync_api import sync_playwright

    floor_port, app_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as home:
        # away from the repository, whose assets/ Flet would otherwise serve the floor too (fonts included)
        floor = start([sys.executable, "-c", FLOOR_APP, str(floor_port)], floor_port, cwd=home)
        app = start([*YIBAO, "app", "--home", home, "--port", str(app_port)], app_port)
        try:
            results: dict[str, list[tuple[float, int, float]]] = {"floor": [], "app": []}
            with sync_playwright() as pw:
                for _ in range(loads):
                    results["floor"].append(load_once(pw, f"http://127.0.0.1:{floor_port}/"))
                    results["app"].append(load_once(pw, f"http://127.0.0.1:{app_port}/"))
        finally:
            for proc in (floor, app):
                proc.terminate()
                proc.wait(10)
    medians = {name: (statistics.median(ms for ms, _, _ in runs), statistics.median(b for _, b, _ in runs))
               for name, runs in results.items()}
    for name, (ms, size) in medians.items():
        print(f"{name:5}: first frame median {ms:7.0f} ms, fetched {size / 1e6:6.2f} MB ({loads} cold loads)")
    late = [fonts - ms for ms, _, fonts in results["app"]]
    print(f"app  : fonts arrived {statistics.median(late):+7.0f} ms from the first frame (median; negative: before it),"
          f" {sum(1 for d in late if d <= 0)}/{loads} loads had them before the first frame")
    print(f"ratio app/floor: first frame {medians['app'][0] / medians['floor'][0]:.2f}x, "
          f"bytes {medians['app'][1] / medians['floor'][1]:.2f}x")


if __name__ == "__main__":
    main()
