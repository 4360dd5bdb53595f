"""The app shell (web mode on loopback; the same code builds for tablets): theme, fonts and the route table over both
apps — the tablet's screens (`inspector_app.views`) and the bureau staff's (`staff_app.views`). It is the one place
besides the command line that imports both sides."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable

import flet as ft
import flet_web

from inspector_app import device
from inspector_app.store import identities, open_store
from inspector_app.views import inspector
from staff_app.views import login, reviewer, supervisor
from ui_kit.common import FONTS, Route, UiContext, banner, theme

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
FONT_MANIFEST = ASSETS_DIR / "assets" / "FontManifest.json"  # served in place of Flet's own (web mode)
LOADING_SHOWN_AFTER = 0.15  # seconds a screen may take before the progress bar shows
LOG = logging.getLogger(__name__)
ROUTES: list[Route] = [*inspector.ROUTES, *login.ROUTES, *supervisor.ROUTES, *reviewer.ROUTES]


def _match(route: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        found = re.match(candidate.pattern, route)
        if found:
            return candidate, found.groupdict()
    return None


def bureau_url(home: Path, server_url: str | None) -> str | None:
    """The bureau's address: from the command line, else the one this tablet enrolled with (read once at start)."""
    if server_url:
        return server_url
    engine = open_store(home)
    try:
        known = identities(engine)
    finally:
        engine.dispose()
    return known[0].server_url if known else None


def font_manifest(flet_manifest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flet's web `FontManifest.json` with the bundled fonts added. The web engine downloads every font its manifest
    lists before it draws its first frame, so no text is ever painted in a font without CJK glyphs (boxes, "tofu")
    as it is with `page.fonts` alone, which load after the page is drawn. Asset paths are relative to the
    engine's `assets/` folder; the fonts are served from the app's assets folder, one level up."""
    ours = [{"family": family, "fonts": [{"asset": f"../{path}"}]} for family, path in FONTS.items()]
    return [*(entry for entry in flet_manifest if entry["family"] not in FONTS), *ours]


def flet_font_manifest() -> list[dict[str, Any]]:
    """The manifest the installed Flet web client comes with."""
    return json.loads((Path(flet_web.get_package_web_dir()) / "assets" / "FontManifest.json").read_text())


def build_main(home: Path, server_url: str | None) -> Callable[[ft.Page], None]:
    server = bureau_url(home, server_url)

    def main(page: ft.Page) -> None:
        page.title = "医保基金现场检查"
        page.fonts = {} if page.web else dict(FONTS)  # the web engine has them already (`font_manifest`)
        page.theme = theme()
        page.theme_mode = ft.ThemeMode.LIGHT

        # A screen opened is built in a worker thread: a staff screen loads its data from the bureau, a tablet screen
        # decrypts from its store, and neither may hold the event loop (taps, the progress rings, other sessions).
        # Builds run one at a time; one superseded by a newer route while it waited is skipped.
        loading = ft.ProgressBar(visible=False, top=0, left=0, right=0, bar_height=4)
        page.overlay.append(loading)
        building = asyncio.Lock()
        wanted = 0
        shown = [""]  # the route on screen

        def views_for(route: str) -> list[ft.View]:
            """The view stack for `route`: its view on top of its parents'."""
            stack: list[ft.View] = []
            current: str | None = route
            while current is not None:
                entry, args = _match(current) or _match("/") or (ROUTES[0], {})
                try:
                    stack.insert(0, entry.build(ctx, **args))
                except device.DeviceError as exc:
                    stack.insert(0, ft.View(route=current, controls=[banner(str(exc), True)]))
                current = entry.parent.format(**args) if entry.parent else None
            return stack

        async def show(route: str, number: int) -> None:
            async with building:
                if number != wanted:
                    return
                build = asyncio.ensure_future(asyncio.to_thread(views_for, route))
                done, _ = await asyncio.wait({build}, timeout=LOADING_SHOWN_AFTER)
                if not done:  # say at once that something is coming
                    loading.visible = True
                    page.update()
                try:
                    stack = await build
                except Exception as exc:  # a screen that cannot be built says so, in place of the screen
                    LOG.exception("building the screen for %s failed", route)
                    stack = [ft.View(route=route, controls=[banner(f"无法显示此页面：{exc}", True)])]
                loading.visible = False
                if number == wanted:
                    put(route, stack)
                page.update()

        def put(route: str, stack: list[ft.View]) -> None:
            page.views.clear()
            page.views.extend(stack)
            shown[0] = route

        def render() -> None:
            """Show the screens of page.route: another route is built off the event loop (the newest wins); the same
            route again (a redraw after a tap on it) at once, so the next tap lands on the new controls."""
            nonlocal wanted
            wanted += 1
            route = page.route or "/"
            if route == shown[0] and not building.locked():
                put(route, views_for(route))
                page.update()
                return
            page.run_task(show, route, wanted)

        ctx = UiContext(page=page, render=render, home=home, server_url=server)
        page.on_route_change = lambda _e: render()
        page.on_view_pop = lambda _e: ctx.go(page.views[-2].route if len(page.views) > 1 else "/")
        render()

    return main


def asgi_app(home: Path, server_url: str | None):
    """The app as an ASGI application (web mode, no CDN: it must work with no internet at all)."""
    return ft.run(build_main(home, server_url), assets_dir=str(ASSETS_DIR), no_cdn=True, export_asgi_app=True,
                  name="")
