"""The inspector's screens: enrollment, the assignment list, the checklist of one inspection."""

from __future__ import annotations

import flet as ft

from inspector_app import device
from inspector_app.viewmodels import RESULT_LABELS, HomeViewModel, InspectionViewModel
from inspector_app.views.common import TOUCH, Route, UiContext, back_button, banner, big_button
from sync.client import BureauRefused, BureauUnreachable


def staff_entry(ctx: UiContext) -> ft.Control:
    return ft.TextButton("局端人员登录", icon=ft.Icons.ADMIN_PANEL_SETTINGS, on_click=lambda _e: ctx.go("/staff/login"),
                         height=TOUCH)


def home_view(ctx: UiContext) -> ft.View:
    if ctx.state.identity is None:
        return enroll_view(ctx)
    vm = HomeViewModel(ctx.state)
    vm.refresh()
    status = ft.Text(ctx.flash.setdefault("sync", ""), size=16)

    def on_sync(_e) -> None:
        status.value = "正在同步…"
        ctx.page.update()
        ctx.flash["sync"] = vm.sync()
        ctx.render()

    cards = [
        ft.Card(content=ft.ListTile(
            title=ft.Text(c.institution_name, size=20, weight=ft.FontWeight.BOLD),
            subtitle=ft.Text(f"{c.kind_label} · {c.institution_code}\n{c.address}\n已答 {c.answered}/{c.total}",
                             size=15),
            trailing=ft.Text(c.status_label, size=16, color=ft.Colors.BLUE_800),
            on_click=lambda _e, aid=c.assignment_id: ctx.go(f"/inspection/{aid}"),
            min_height=TOUCH * 2,
        ))
        for c in vm.cards
    ] or [ft.Text("暂无检查任务", size=18)]
    return ft.View(route="/", controls=[
        ft.AppBar(title=ft.Text(f"我的检查任务 · {ctx.state.identity.inspector_code}"), actions=[staff_entry(ctx)]),
        banner(vm.message, vm.offline),
        ft.Row([big_button("同步", on_sync, icon=ft.Icons.SYNC), status]),
        ft.Column(cards, spacing=8),
    ], scroll=ft.ScrollMode.AUTO, padding=20, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

def enroll_view(ctx: UiContext) -> ft.View:
    server = ft.TextField(label="局端地址", value=ctx.state.server_url or "", height=TOUCH, text_size=18)
    token = ft.TextField(label="注册码", height=TOUCH, text_size=18)
    message = ft.Text("", size=16, color=ft.Colors.RED_800)

    def on_enroll(_e) -> None:
        try:
            ctx.state.identity = device.enroll(ctx.state.engine, server.value.strip(), token.value.strip())
        except BureauUnreachable:
            message.value = "无法连接局端，请检查网络或地址"
        except BureauRefused as exc:
            message.value = f"注册失败：{exc.message}"
        else:
            ctx.render()
            return
        ctx.page.update()

    return ft.View(route="/", controls=[
        ft.AppBar(title=ft.Text("设备注册"), actions=[staff_entry(ctx)]),
        ft.Text("请输入科室负责人提供的注册码", size=18), server, token,
        big_button("注册", on_enroll), message,
    ], padding=20)

def inspection_view(ctx: UiContext, assignment_id: str) -> ft.View:
    vm = InspectionViewModel(ctx.state, assignment_id)
    progress = vm.progress()
    rows = vm.rows()
    controls: list[ft.Control] = [
        ft.AppBar(title=ft.Text(vm.assignment.institution_name), leading_width=110, leading=back_button(ctx, "/")),
        ft.Text(f"{vm.assignment.institution_code} · {vm.assignment.institution_address}", size=16),
        ft.Text(f"检查表 {vm.template.title}（版本 {vm.template.version}，{vm.template.hash[:12]}）", size=14),
        ft.ProgressBar(value=progress.answered / progress.total if progress.total else 0, height=10),
        ft.Text(f"已答 {progress.answered} / {progress.total}"
                + (f" · 当前得分 {progress.score}" if progress.score is not None else ""), size=18),
        banner(vm.message, True),
    ]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            controls.append(ft.Text(section, size=20, weight=ft.FontWeight.BOLD))
        controls.append(item_card(ctx, vm, row))
    if not vm.locked:
        controls.append(big_button("完成检查", lambda _e: (vm.finish(), ctx.render()), icon=ft.Icons.CHECK))
    else:
        controls.append(ft.Text("检查已完成，记录已锁定", size=18, color=ft.Colors.GREEN_800))
    return ft.View(route=f"/inspection/{assignment_id}", controls=controls, scroll=ft.ScrollMode.AUTO,
                   padding=20, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

def item_card(ctx: UiContext, vm: InspectionViewModel, row) -> ft.Control:
    def save_note(e) -> None:
        vm.answer(row.item_id, row.result, e.control.value, row.amount_yuan)
        ctx.render()

    note = ft.TextField(label="不适用理由" if row.result == "na" else "不符合情况说明", value=row.note,
                        multiline=True, text_size=16, visible=row.result in ("fail", "na"),
                        disabled=vm.locked, on_blur=save_note)

    def choose(result: str):
        def handler(_e) -> None:
            vm.answer(row.item_id, result, note.value if result == row.result else "", row.amount_yuan)
            ctx.render()
        return handler

    buttons = [
        big_button(label, None if vm.locked else choose(value), filled=row.result == value)
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


ROUTES = [
    Route(r"^/$", home_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)$", inspection_view, parent="/"),
]
