"""The Flet app (web mode on loopback; the same code builds for tablets): theme, fonts and the route table.

Views live in `inspector_app/views/` (one module per role) and stay thin over the view-models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import flet as ft

from inspector_app import device
from inspector_app.viewmodels import AppState
from inspector_app.views import inspector, reviewer, supervisor
from inspector_app.views.common import FONTS, Route, UiContext, banner, theme

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
ROUTES: list[Route] = [*inspector.ROUTES, *supervisor.ROUTES, *reviewer.ROUTES]


def _match(route: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        found = re.match(candidate.pattern, route)
        if found:
            return candidate, found.groupdict()
    return None


def build_main(home: Path, server_url: str | None) -> Callable[[ft.Page], None]:
    def main(page: ft.Page) -> None:
        page.title = "医保基金现场检查"
        page.fonts = dict(FONTS)
        page.theme = theme()
        page.theme_mode = ft.ThemeMode.LIGHT

        def render() -> None:
            """Rebuild the view stack for page.route: the route's view on top of its parents."""
            stack: list[ft.View] = []
            route = page.route or "/"
            while route is not None:
                matched = _match(route) or _match("/")
                entry, args = matched
                try:
                    stack.insert(0, entry.build(ctx, **args))
                except device.DeviceError as exc:
                    stack.insert(0, ft.View(route=route, controls=[banner(str(exc), True)]))
                route = entry.parent.format(**args) if entry.parent else None
            page.views.clear()
            page.views.extend(stack)
            page.update()

        ctx = UiContext(page=page, state=AppState.open(home, server_url), render=render)
        page.on_route_change = lambda _e: render()
        page.on_view_pop = lambda _e: ctx.go(page.views[-2].route if len(page.views) > 1 else "/")
        render()

    return main


def asgi_app(home: Path, server_url: str | None):
    """The app as an ASGI application (web mode, no CDN: it must work with no internet at all)."""
    return ft.run(build_main(home, server_url), assets_dir=str(ASSETS_DIR), no_cdn=True, export_asgi_app=True,
                  name="")
