"""What every screen of both apps shares (the tablet's and the bureau staff's): the UI context, touch-sized controls,
the font, times as people read them, and slow actions run off the event loop (`busy`).

Flet runs every event handler of every browser session on one asyncio event loop: a slow call made there (a PIN's
key derivation, a request to the bureau, a PDF) would freeze every session until it returned. `busy` runs such work
in a worker thread while its buttons are disabled and a progress ring says what is happening.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence, TypeVar

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
# A ResponsiveRow column: one per line on a portrait tablet (800 px), two side by side in landscape (1280 px)
HALF: dict[str | ft.ResponsiveRowBreakpoint, int | float] = {"xs": 12, "lg": 6}


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
    screens: set[str] = field(default_factory=set)  # the keys in `flash` that hold a screen's view-model

    def go(self, route: str) -> None:
        self.page.navigate(route)


def screen_vm(ctx: UiContext, key: str, factory: Callable[[], Any]) -> Any:
    """One view-model per screen per session, so a re-render keeps what the user typed."""
    if key not in ctx.flash:
        ctx.flash[key] = factory()
        ctx.screens.add(key)
    return ctx.flash[key]


def forget_screens(ctx: UiContext) -> None:
    """Drop every screen's view-model: when another person signs in, in a session a reload reattached, nothing the
    previous one loaded or typed may show."""
    for key in list(ctx.screens):
        ctx.flash.pop(key, None)
    ctx.screens.clear()


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


class Status:
    """Where a slow action says what it is doing (a progress ring and a line of text) and how it ended (the result
    in green, or what went wrong in red). Put `control` in a column, where its text wraps in the width beside the
    ring; an `inline` one (a few words) goes in a row, beside its button."""

    def __init__(self, size: int = 16, inline: bool = False):
        self.ring = ft.ProgressRing(width=24, height=24, stroke_width=3, bgcolor=ft.Colors.BLUE_GREY_100,
                                    visible=False)
        self.text = ft.Text("", size=size, expand=not inline)
        self.control = ft.Row([self.ring, self.text], spacing=12, visible=False, tight=inline)
        self.running = False
        self._page: ft.Page | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: str | None = None

    def show(self, text: str, error: bool = False) -> None:
        """A result (`error`: what went wrong); "" hides it. Sent with the next page update."""
        self.ring.visible = False
        self.text.value, self.text.color = text, ft.Colors.RED_800 if error else ft.Colors.GREEN_800
        self.control.visible = bool(text)

    def start(self, page: ft.Page, message: str) -> None:
        """On the event loop: the ring turns and `message` says what is being done."""
        self.running, self._page, self._loop = True, page, asyncio.get_running_loop()
        self.ring.visible = self.control.visible = True
        self.text.value, self.text.color = message, ft.Colors.BLUE_GREY_800

    def stop(self) -> None:
        self.running = False
        self.show("")

    def tell(self, text: str) -> None:
        """From the worker thread: say what the work is doing now. The text changes on the event loop (Flet's
        controls are not thread-safe); a burst of calls sends only the latest."""
        assert self._loop is not None  # called by work that `busy` started
        with self._lock:
            idle, self._pending = self._pending is None, text
        if idle:
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            text, self._pending = self._pending, None
        if self.running and text is not None and self._page is not None:
            self.text.value = text
            self._page.update()


_log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_busy(ctx: UiContext, work: Callable[[], T], done: Callable[[T], object], *, status: Status,
                   message: str, controls: Sequence[ft.Control] = (), shown: Sequence[ft.Control] = ()) -> None:
    """Run the slow `work` in a worker thread. At once: `controls` disabled, `shown` visible, `status` turning with
    `message`; afterwards all as before, then `done(result)` on the event loop shows the result (it may redraw the
    screen, and may be a coroutine). A failure nobody expected is said in `status` and logged. While the work runs,
    another tap on the same action does nothing."""
    if status.running:
        return
    disabled = [c.disabled for c in controls]
    for control in controls:
        control.disabled = True
    for control in shown:
        control.visible = True
    status.start(ctx.page, message)
    ctx.page.update()

    def settle() -> None:
        for control, was in zip(controls, disabled):
            control.disabled = was
        for control in shown:
            control.visible = False
        status.stop()

    try:
        result = await asyncio.to_thread(work)
    except Exception as exc:  # a bug or a failure the view-model does not expect: said on screen, kept in the log
        _log.exception("%s failed", message)
        settle()
        status.show(f"操作未完成：出现意外错误（{type(exc).__name__}），请重试", error=True)
        ctx.page.update()
        return
    settle()
    outcome = done(result)
    if inspect.isawaitable(outcome):
        await outcome
    ctx.page.update()


def busy(ctx: UiContext, work: Callable[[], T], done: Callable[[T], object], *, status: Status, message: str,
         controls: Sequence[ft.Control] = (), shown: Sequence[ft.Control] = ()) -> Callable[[Any], Awaitable[None]]:
    """A click handler that runs `work` as `run_busy` does."""
    async def handler(_e: Any = None) -> None:
        await run_busy(ctx, work, done, status=status, message=message, controls=controls, shown=shown)
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
              ctx: UiContext | None = None, actions: list[ft.Control] | None = None,
              centered: bool = False) -> ft.View:
    """A screen: its app bar, then `controls` stretched to the width (`centered`: in the middle of the screen, as a
    PIN pad is, both ways)."""
    # A long title beside the actions of a portrait screen wraps to a second line rather than losing its end.
    app_bar = ft.AppBar(title=ft.Text(title, size=21, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS),
                        actions=actions or [], toolbar_height=72,
                        leading=back_button(ctx, back_to) if back_to and ctx else None,
                        leading_width=110 if back_to else None)
    if centered:
        body: list[ft.BaseControl] = [*controls]
        return ft.View(route=route, appbar=app_bar, controls=body, scroll=ft.ScrollMode.AUTO, padding=20,
                       horizontal_alignment=ft.CrossAxisAlignment.CENTER,
                       vertical_alignment=ft.MainAxisAlignment.CENTER)
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
