"""What every screen of both apps shares (the tablet's and the bureau staff's): the UI context, touch-sized controls,
the font, times as people read them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import flet as ft

FONT_FAMILY = "NotoSansSC"
FONT_EXT_FAMILY = "NotoSansSCExt"  # the CJK ideographs GB2312 lacks (rare ones in people's names), as a fallback
FONTS = {FONT_FAMILY: "fonts/NotoSansSC-Subset.otf", FONT_EXT_FAMILY: "fonts/NotoSansSC-Subset-Ext.otf"}


def text_style(**options: Any) -> ft.TextStyle:
    """A text style in the bundled font, falling back to the rare-character font (the web client has no other)."""
    return ft.TextStyle(font_family=FONT_FAMILY, font_family_fallback=[FONT_EXT_FAMILY], **options)


def theme() -> ft.Theme:
    """Every text style of the theme in the bundled font with its fallback (a theme's font family alone has none)."""
    styles = {f.name: text_style() for f in dataclasses.fields(ft.TextTheme)
              if f.name.endswith(("_large", "_medium", "_small"))}
    return ft.Theme(font_family=FONT_FAMILY, color_scheme_seed=ft.Colors.BLUE_800, text_theme=ft.TextTheme(**styles))


TIME_FORMATS = {"day": "%Y-%m-%d", "minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S"}


def shown_time(stamp: str | None, precision: str = "minute") -> str:
    """A timestamp as people read it: in this machine's time zone (the bureau's and its tablets': 北京时间 in China,
    as `bureau.review.local_date` counts days). The bureau sends UTC ("…Z") and a tablet's own times carry their
    offset; a time without one (a camera that wrote no EXIF offset) is the wall clock it was taken by, shown as is."""
    if not stamp:
        return "—"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return (moment.astimezone() if moment.tzinfo else moment).strftime(TIME_FORMATS[precision])


TOUCH = 56  # px: comfortably above the 48 px minimum touch target


@dataclass
class UiContext:
    """One browser session: its page, navigation, and what survives a re-render (view-models, services, the tablet's
    state once an inspector screen opened it, the signed-in staff client). `home` is the tablet's data folder,
    `server_url` the bureau's address (from the command line, else the one the tablet enrolled with, if any)."""

    page: ft.Page
    render: Callable[[], None]
    home: Path
    server_url: str | None
    flash: dict[str, Any] = field(default_factory=dict)

    def go(self, route: str) -> None:
        self.page.navigate(route)


def screen_vm(ctx: UiContext, key: str, factory: Callable[[], Any]) -> Any:
    """One view-model per screen per session, so a re-render keeps what the user typed."""
    if key not in ctx.flash:
        ctx.flash[key] = factory()
    return ctx.flash[key]


def service(ctx: UiContext, name: str, factory: Callable[[], Any]) -> Any:
    """One instance per browser session of a Flet service (file picker, geolocator)."""
    if name not in ctx.flash:
        ctx.flash[name] = factory()
    return ctx.flash[name]


def bind(vm: Any, attr: str) -> Callable[[Any], None]:
    """An on_change handler that keeps `vm.attr` equal to the control's value (no redraw: the field shows it)."""
    def handler(e) -> None:
        setattr(vm, attr, e.control.value)
    return handler


def redraw_after(ctx: UiContext, method: Callable[..., Any], *args: Any) -> Callable[[Any], None]:
    """A click handler that calls `method(*args)` on the view-model, then redraws the screen from it."""
    def handler(_e) -> None:
        method(*args)
        ctx.render()
    return handler


@dataclass(frozen=True)
class Route:
    pattern: str  # a regular expression over page.route; named groups become builder arguments
    build: Callable[..., ft.View]
    parent: str | None = None  # the route shown beneath this one (back goes there); may name groups: {id}


def big_button(text: str, on_click: Callable | None, filled: bool = True, icon=None) -> ft.Control:
    cls = ft.FilledButton if filled else ft.OutlinedButton
    return cls(content=text, icon=icon, on_click=on_click, height=TOUCH,
               style=ft.ButtonStyle(text_style=text_style(size=18),
                                    padding=ft.Padding.symmetric(horizontal=20)))


def banner(message: str, warn: bool) -> ft.Control:
    return ft.Container(
        content=ft.Text(message, size=16, color=ft.Colors.BLACK),
        bgcolor=ft.Colors.AMBER_100 if warn else ft.Colors.GREEN_50, padding=12, border_radius=8,
        visible=bool(message),
    )


def back_button(ctx: UiContext, route: str) -> ft.Control:
    return ft.TextButton("返回", icon=ft.Icons.ARROW_BACK, on_click=lambda _e: ctx.go(route), height=TOUCH)


def page_view(route: str, title: str, controls: list[ft.Control], back_to: str | None = None,
              ctx: UiContext | None = None, actions: list[ft.Control] | None = None) -> ft.View:
    app_bar = ft.AppBar(title=ft.Text(title), actions=actions or [],
                        leading=back_button(ctx, back_to) if back_to and ctx else None,
                        leading_width=110 if back_to else None)
    return ft.View(route=route, controls=[app_bar, *controls], scroll=ft.ScrollMode.AUTO, padding=20,
                   horizontal_alignment=ft.CrossAxisAlignment.STRETCH)


def finding_card(number: int, found: dict[str, Any], amount: str, photos: ft.Control) -> ft.Control:
    """One finding of a record as both sides show it (the inspectors before signing, the reviewer after)."""
    return ft.Container(ft.Column([
        ft.Text(f"{number}. {found['title']}（{found['item_id']}）", size=17, weight=ft.FontWeight.BOLD),
        ft.Text(f"违规类别 {found['category']} {found['category_title']} · {found['severity']} 类 · 金额 {amount or '—'}",
                size=15),
        ft.Text(f"问题描述：{found['description'] or '—'}", size=15),
        ft.Text(f"责任人员：{'、'.join(found['staff_codes']) or '—'}", size=15),
        ft.Text(f"依据：{found['legal_basis']}", size=14, color=ft.Colors.GREY_700),
        photos,
    ], spacing=4), padding=10, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)
