"""`ui_kit.common.run_busy` without a browser: the work runs off the event loop with its buttons disabled and the
ring turning, says how far it is from the worker thread, and ends in its result or a clear error."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import flet as ft

from ui_kit.common import Status, UiContext, busy, run_busy


class Page:
    """What `run_busy` needs of a page: updates, counted, each checked to come from the event loop's thread."""

    def __init__(self):
        self.updates, self.loop_thread = 0, threading.get_ident()

    def update(self) -> None:
        assert threading.get_ident() == self.loop_thread
        self.updates += 1


def context(page: Page) -> UiContext:
    return UiContext(page=page, render=lambda: None, home=Path("."), server_url=None)  # type: ignore[arg-type]


def test_work_runs_off_the_loop_with_its_buttons_disabled_then_shows_its_result():
    page, status = Page(), Status()
    button, cancel, field = ft.Button("同步"), ft.Button("取消", visible=False), ft.TextField(disabled=True)
    seen: dict[str, object] = {}

    def work() -> int:
        seen["thread"] = threading.get_ident()
        seen["during"] = (button.disabled, field.disabled, cancel.visible, status.running, status.ring.visible,
                          status.text.value, page.updates)
        status.tell("正在同步：检查记录 0/1")
        status.tell("正在同步：检查记录 1/1")  # a burst: the latest is shown
        return 42

    async def main() -> None:
        handler = busy(context(page), work, lambda n: status.show(f"完成 {n}"), status=status, message="正在同步…",
                       controls=[button, field], shown=[cancel])
        await handler(None)

    asyncio.run(main())
    assert seen["thread"] != page.loop_thread
    assert seen["during"] == (True, True, True, True, True, "正在同步…", 1)  # disabled and said at once
    assert button.disabled is False and field.disabled is True and cancel.visible is False  # all as before
    assert not status.running and not status.ring.visible
    assert status.text.value == "完成 42" and status.text.color == ft.Colors.GREEN_800 and status.control.visible


def test_progress_from_the_worker_reaches_the_screen_while_it_runs():
    page, status = Page(), Status()
    shown: list[str] = []
    told, seen = threading.Event(), threading.Event()

    def work() -> None:
        status.tell("照片 1/2")
        told.set()
        seen.wait(10)

    async def main() -> None:
        running = asyncio.create_task(run_busy(context(page), work, lambda _r: None, status=status, message="正在同步…"))
        while not told.is_set() or status.text.value == "正在同步…":
            await asyncio.sleep(0.01)
        shown.append(status.text.value)
        seen.set()
        await running

    asyncio.run(main())
    assert shown == ["照片 1/2"] and page.updates >= 3  # at once, the progress, the end


def test_a_second_tap_while_it_runs_does_nothing_and_a_failure_is_said():
    page, status = Page(), Status()
    calls: list[int] = []
    gate = threading.Event()

    def work() -> None:
        calls.append(1)
        gate.wait(10)
        raise RuntimeError("boom")

    async def main() -> None:
        ctx = context(page)
        first = asyncio.create_task(run_busy(ctx, work, lambda _r: None, status=status, message="正在导入…"))
        await asyncio.sleep(0.05)
        await run_busy(ctx, work, lambda _r: None, status=status, message="正在导入…")  # returns at once
        gate.set()
        await first

    asyncio.run(main())
    assert calls == [1]
    assert status.text.value == "操作未完成：出现意外错误（RuntimeError），请重试"
    assert status.text.color == ft.Colors.RED_800 and not status.running
