"""The Flet app (web mode on loopback; the same code builds for tablets). Views are thin over the view-models."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import flet as ft

from inspector_app import device
from inspector_app.viewmodels import RESULT_LABELS, AppState, HomeViewModel, InspectionViewModel
from sync.client import BureauRefused, BureauUnreachable

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
FONT_FAMILY = "NotoSansSC"
TOUCH = 56  # px: comfortably above the 48 px minimum touch target


def _big_button(text: str, on_click: Callable, filled: bool = True, icon=None) -> ft.Control:
    cls = ft.FilledButton if filled else ft.OutlinedButton
    return cls(content=text, icon=icon, on_click=on_click, height=TOUCH,
               style=ft.ButtonStyle(text_style=ft.TextStyle(size=18, font_family=FONT_FAMILY), padding=ft.Padding.symmetric(horizontal=20)))


def _banner(message: str, warn: bool) -> ft.Control:
    return ft.Container(
        content=ft.Text(message, size=16, color=ft.Colors.BLACK),
        bgcolor=ft.Colors.AMBER_100 if warn else ft.Colors.GREEN_50, padding=12, border_radius=8,
        visible=bool(message),
    )


def build_main(home: Path, server_url: str | None) -> Callable[[ft.Page], None]:
    def main(page: ft.Page) -> None:
        page.title = "医保基金现场检查"
        page.fonts = {FONT_FAMILY: "fonts/NotoSansSC-Subset.otf"}
        page.theme = ft.Theme(font_family=FONT_FAMILY, color_scheme_seed=ft.Colors.BLUE_800)
        page.theme_mode = ft.ThemeMode.LIGHT
        state = AppState.open(home, server_url)
        last_sync = {"message": ""}  # survives the re-render that follows a sync

        def go(route: str) -> None:
            page.navigate(route)

        def home_view() -> ft.View:
            if state.identity is None:
                return enroll_view()
            vm = HomeViewModel(state)
            vm.refresh()
            status = ft.Text(last_sync["message"], size=16)

            def on_sync(_e) -> None:
                status.value = "正在同步…"
                page.update()
                last_sync["message"] = vm.sync()
                render()

            cards = [
                ft.Card(content=ft.ListTile(
                    title=ft.Text(c.institution_name, size=20, weight=ft.FontWeight.BOLD),
                    subtitle=ft.Text(f"{c.kind_label} · {c.institution_code}\n{c.address}\n已答 {c.answered}/{c.total}",
                                     size=15),
                    trailing=ft.Text(c.status_label, size=16, color=ft.Colors.BLUE_800),
                    on_click=lambda _e, aid=c.assignment_id: go(f"/inspection/{aid}"),
                    min_height=TOUCH * 2,
                ))
                for c in vm.cards
            ] or [ft.Text("暂无检查任务", size=18)]
            return ft.View(route="/", controls=[
                ft.AppBar(title=ft.Text(f"我的检查任务 · {state.identity.inspector_code}")),
                _banner(vm.message, vm.offline),
                ft.Row([_big_button("同步", on_sync, icon=ft.Icons.SYNC), status]),
                ft.Column(cards, spacing=8),
            ], scroll=ft.ScrollMode.AUTO, padding=20, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

        def enroll_view() -> ft.View:
            server = ft.TextField(label="局端地址", value=state.server_url or "", height=TOUCH, text_size=18)
            token = ft.TextField(label="注册码", height=TOUCH, text_size=18)
            message = ft.Text("", size=16, color=ft.Colors.RED_800)

            def on_enroll(_e) -> None:
                try:
                    state.identity = device.enroll(state.engine, server.value.strip(), token.value.strip())
                except BureauUnreachable:
                    message.value = "无法连接局端，请检查网络或地址"
                except BureauRefused as exc:
                    message.value = f"注册失败：{exc.message}"
                else:
                    render()
                    return
                page.update()

            return ft.View(route="/", controls=[
                ft.AppBar(title=ft.Text("设备注册")),
                ft.Text("请输入科室负责人提供的注册码", size=18), server, token,
                _big_button("注册", on_enroll), message,
            ], padding=20)

        def inspection_view(assignment_id: str) -> ft.View:
            vm = InspectionViewModel(state, assignment_id)
            progress = vm.progress()
            rows = vm.rows()
            controls: list[ft.Control] = [
                ft.AppBar(title=ft.Text(vm.assignment.institution_name), leading_width=110,
                          leading=ft.TextButton("返回", icon=ft.Icons.ARROW_BACK, on_click=lambda _e: go("/"),
                                                height=TOUCH)),
                ft.Text(f"{vm.assignment.institution_code} · {vm.assignment.institution_address}", size=16),
                ft.Text(f"检查表 {vm.template.title}（版本 {vm.template.version}，{vm.template.hash[:12]}）", size=14),
                ft.ProgressBar(value=progress.answered / progress.total if progress.total else 0, height=10),
                ft.Text(f"已答 {progress.answered} / {progress.total}"
                        + (f" · 当前得分 {progress.score}" if progress.score is not None else ""), size=18),
                _banner(vm.message, True),
            ]
            section = None
            for row in rows:
                if row.section != section:
                    section = row.section
                    controls.append(ft.Text(section, size=20, weight=ft.FontWeight.BOLD))
                controls.append(item_card(vm, row))
            if not vm.locked:
                controls.append(_big_button("完成检查", lambda _e: (vm.finish(), render()), icon=ft.Icons.CHECK))
            else:
                controls.append(ft.Text("检查已完成，记录已锁定", size=18, color=ft.Colors.GREEN_800))
            return ft.View(route=f"/inspection/{assignment_id}", controls=controls, scroll=ft.ScrollMode.AUTO,
                           padding=20, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

        def item_card(vm: InspectionViewModel, row) -> ft.Control:
            def save_note(e) -> None:
                vm.answer(row.item_id, row.result, e.control.value, row.amount_yuan)
                render()

            note = ft.TextField(label="不适用理由" if row.result == "na" else "不符合情况说明", value=row.note,
                                multiline=True, text_size=16, visible=row.result in ("fail", "na"),
                                disabled=vm.locked, on_blur=save_note)

            def choose(result: str):
                def handler(_e) -> None:
                    vm.answer(row.item_id, result, note.value if result == row.result else "", row.amount_yuan)
                    render()
                return handler

            buttons = [
                _big_button(label, None if vm.locked else choose(value), filled=row.result == value)
                for value, label in RESULT_LABELS.items()
            ]
            return ft.Container(
                content=ft.Column([
                    ft.Text(f"{row.item_id}　{row.text}", size=17),
                    ft.Text(f"取证：{row.evidence} · 严重程度 {row.severity}", size=14, color=ft.Colors.GREY_700),
                    ft.Row(buttons, wrap=True),
                    note,
                ], spacing=6),
                padding=12, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8,
            )

        def render() -> None:
            page.views.clear()
            page.views.append(home_view())
            if page.route.startswith("/inspection/"):
                try:
                    page.views.append(inspection_view(page.route.removeprefix("/inspection/")))
                except device.DeviceError as exc:
                    page.views[-1].controls.insert(1, _banner(str(exc), True))
            page.update()

        def on_view_pop(_e) -> None:
            go("/")

        page.on_route_change = lambda _e: render()
        page.on_view_pop = on_view_pop
        render()

    return main


def asgi_app(home: Path, server_url: str | None):
    """The app as an ASGI application (web mode, no CDN: it must work with no internet at all)."""
    return ft.run(build_main(home, server_url), assets_dir=str(ASSETS_DIR), no_cdn=True, export_asgi_app=True,
                  name="")
