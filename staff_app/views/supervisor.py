"""The supervisor's (科室负责人) screens: sign-in, registry import, the 双随机 draw, the issued assignments (撤回),
coverage, enrollment tokens."""

from __future__ import annotations

import flet as ft
import flet_charts as fch

from staff_app.supervisor_vm import (
    REGISTRY_LABELS,
    AssignmentsViewModel,
    CoverageViewModel,
    DrawViewModel,
    EnrollTokenViewModel,
    RegistryImportViewModel,
)
from staff_app.views.login import login_view, staff_client
from ui_kit.common import (
    Route,
    Status,
    UiContext,
    banner,
    big_button,
    bind,
    busy,
    page_view,
    redraw_after,
    run_busy,
    screen_vm,
    shown_time,
)
from ui_kit.labels import KIND_LABELS


def menu_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    entries = [("名录库导入", "/supervisor/registry", ft.Icons.UPLOAD_FILE),
               ("双随机抽查", "/supervisor/draw", ft.Icons.CASINO),
               ("检查任务", "/supervisor/assignments", ft.Icons.ASSIGNMENT),
               ("覆盖情况", "/supervisor/coverage", ft.Icons.BAR_CHART),
               ("设备注册码", "/supervisor/tokens", ft.Icons.QR_CODE),
               ("年度概览", "/dashboard", ft.Icons.INSIGHTS),
               ("台账与回头看", "/review/ledger", ft.Icons.MENU_BOOK),
               ("检查记录（只读）", "/review", ft.Icons.INBOX)]
    tiles: list[ft.Control] = [
        ft.Card(content=ft.ListTile(leading=ft.Icon(icon, size=32), title=ft.Text(label, size=20),
                                    on_click=lambda _e, r=route: ctx.go(r), min_height=72))
        for label, route, icon in entries]
    who = f"{client.account['name']}（{client.account['role_label']}）"
    return page_view("/supervisor", f"局端工作台 · {who}", tiles, back_to="/", ctx=ctx)


def registry_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: RegistryImportViewModel = screen_vm(ctx, "registry_vm", lambda: RegistryImportViewModel(client))
    status = Status()

    def choose_kind(kind: str):
        def handler(_e) -> None:
            vm.kind, vm.data, vm.filename, vm.errors, vm.message, vm.imported = kind, b"", "", [], "", None
            ctx.render()
        return handler

    async def on_pick(_e) -> None:
        files = await ft.FilePicker().pick_files(allowed_extensions=["csv", "xlsx"], file_type=ft.FilePickerFileType.CUSTOM,
                                                 with_data=True, dialog_title="选择名录文件")
        if files:
            name, data = files[0].name, files[0].bytes or b""
            await run_busy(ctx, lambda: vm.choose(name, data), lambda _r: ctx.render(), status=status,
                           message=f"正在检查 {name}…", controls=buttons)

    kinds = [big_button(label, choose_kind(k), filled=vm.kind == k) for k, label in REGISTRY_LABELS.items()]
    buttons = [*kinds, big_button("选择文件", on_pick, icon=ft.Icons.FOLDER_OPEN)]
    buttons.append(big_button("导入", busy(ctx, vm.run_import, lambda _r: ctx.render(), status=status,
                                           message=f"正在导入 {vm.filename}…", controls=buttons)
                              if vm.can_import else None, icon=ft.Icons.CHECK))
    controls: list[ft.Control] = [
        ft.Text("支持 CSV（UTF-8 或 GBK）与 XLSX；任何一行有错误则整份文件不导入。", size=16),
        ft.Row(kinds, wrap=True),
        ft.Row(buttons[len(kinds):]),
        status.control,
        banner(vm.message, bool(vm.errors)),
    ]
    if vm.errors:
        controls.append(ft.DataTable(
            columns=[ft.DataColumn(label=ft.Text(h)) for h in ("行号", "列", "内容", "问题")],
            rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(str(e["line"]))), ft.DataCell(ft.Text(e["column"])),
                                    ft.DataCell(ft.Text(str(e["value"]))), ft.DataCell(ft.Text(e["message"]))])
                  for e in vm.errors[:500]],
        ))
    return page_view("/supervisor/registry", "名录库导入", controls, back_to="/supervisor", ctx=ctx)


def draw_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: DrawViewModel = screen_vm(ctx, "draw_vm", lambda: DrawViewModel(client))

    def stratum_row(s) -> ft.Control:
        def on_mode(e) -> None:
            s.mode = "count" if e.control.value else "ratio"

        def on_value(e) -> None:
            s.value = e.control.value

        return ft.Row([
            ft.Text(KIND_LABELS[s.kind], size=18, width=180),
            ft.TextField(value=s.value, label="比例（如 0.10）或家数", width=240, on_change=on_value, text_size=18),
            ft.Switch(label="按家数", value=s.mode == "count", on_change=on_mode),
        ])

    status = Status()
    actions: list[ft.Control] = []
    for label, work, message, filled, icon in (
            ("承诺计划（公布承诺值）", vm.commit, "正在承诺计划…", True, ft.Icons.LOCK),
            ("预览抽取结果", vm.run_preview, "正在抽取（预览）…", False, ft.Icons.PREVIEW),
            ("发布并下达任务", vm.publish, "正在抽取并下达任务…", True, ft.Icons.SEND)):
        actions.append(big_button(label, busy(ctx, work, lambda _r: ctx.render(), status=status, message=message,
                                              controls=actions), filled=filled, icon=icon))
    controls: list[ft.Control] = [
        ft.TextField(label="计划编号", value=vm.plan_id, on_change=bind(vm, "plan_id"), text_size=18),
        ft.Text("各类机构抽取比例或家数（留空则不抽）", size=18, weight=ft.FontWeight.BOLD),
        *[stratum_row(s) for s in vm.strata],
        ft.Row([
            ft.TextField(label="每组检查人员数（≥2）", value=vm.team_size, on_change=bind(vm, "team_size"), width=220),
            ft.TextField(label="每人任务上限", value=vm.max_per_inspector, on_change=bind(vm, "max_per_inspector"), width=220),
        ]),
        ft.Switch(label="按风险分加权（风险越高，被抽中的机会越大）", value=vm.risk_weighted, on_change=bind(vm, "risk_weighted")),
        ft.Switch(label="纳入回头看（整改未销号的机构先行列入）", value=vm.include_followups, on_change=bind(vm, "include_followups")),
        actions[0],
        ft.TextField(label="公开随机数（承诺之后产生，如某期彩票开奖号码，用逗号或换行分隔）", value=vm.public_random,
                     multiline=True, on_change=bind(vm, "public_random"), text_size=18),
        ft.Row(actions[1:]),
        status.control,
        banner("\n".join(vm.errors), True),
        banner(vm.message, False),
    ]
    if vm.preview and vm.commitment is None and not vm.preview["transcript"].get("committed"):
        controls.append(banner("警告：此计划未事先承诺，抽取结果的公正性无法向公众证明", True))
    for warning in vm.warnings:
        controls.append(banner(f"警告：{warning}", True))
    if vm.preview:
        transcript = vm.preview["transcript"]
        controls.append(ft.Text(f"预览：抽中 {len(transcript['selected'])} 家（抽取记录哈希 {vm.preview['transcript_hash'][:16]}…）",
                                size=18, weight=ft.FontWeight.BOLD))
        controls.append(ft.DataTable(
            columns=[ft.DataColumn(label=ft.Text(h)) for h in ("机构编码", "类别", "检查组", "来源")],
            rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(s["institution"])),
                                    ft.DataCell(ft.Text(KIND_LABELS.get(s["stratum"], s["stratum"]))),
                                    ft.DataCell(ft.Text("、".join(s["team"]))),
                                    ft.DataCell(ft.Text("回头看" if s["reason"] == "followup" else "随机"))])
                  for s in transcript["selected"]],
        ))
        recusals = transcript.get("recusals", [])
        if recusals:
            controls.append(ft.Text(f"回避 {len(recusals)} 人次", size=18, weight=ft.FontWeight.BOLD))
            controls.append(ft.DataTable(
                columns=[ft.DataColumn(label=ft.Text(h)) for h in ("检查人员", "机构", "原因")],
                rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(r["inspector"])), ft.DataCell(ft.Text(r["institution"])),
                                        ft.DataCell(ft.Text(r["reason"]))]) for r in recusals[:200]],
            ))
    return page_view("/supervisor/draw", "双随机抽查", controls, back_to="/supervisor", ctx=ctx)


ASSIGNMENT_STATUS_COLORS = {"已下达": ft.Colors.BLUE_700, "已提交": ft.Colors.GREEN_700, "已撤回": ft.Colors.GREY_600}


def assignments_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: AssignmentsViewModel = screen_vm(ctx, "assignments_vm", lambda: AssignmentsViewModel(client))
    vm.load()

    def withdraw_controls(a) -> list[ft.Control]:
        """撤回任务 opens a reason field in place (no redraw: typing into a screen being redrawn can be lost)."""
        def on_reason(_e) -> None:
            if reason.error:  # the complaint goes as soon as a reason is being written
                reason.error = None
                reason.update()

        reason = ft.TextField(label="撤回理由（必填，如检查组成员回避、机构已注销）", multiline=True, text_size=18,
                              on_change=on_reason)
        warning = banner("局端已收到该任务的检查记录：撤回后不再接收其更正版本", True) if a["records"] else None
        status = Status()

        def revoked(problem: str) -> None:
            if problem:
                reason.error = problem
            else:
                ctx.render()

        async def confirm(_e) -> None:
            typed = reason.value or ""
            await run_busy(ctx, lambda: vm.revoke(a["id"], typed), revoked, status=status, message="正在撤回…",
                           controls=[reason, *buttons])

        buttons = [big_button("确认撤回", confirm, icon=ft.Icons.UNDO),
                   big_button("取消", lambda _e: toggle(False), filled=False)]
        form = ft.Column([c for c in (warning, reason) if c] + [ft.Row(buttons), status.control], visible=False,
                         horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        start = ft.Row([big_button("撤回任务", lambda _e: toggle(True), filled=False, icon=ft.Icons.UNDO)])

        def toggle(open_form: bool) -> None:
            reason.value, reason.error = "", None
            form.visible, start.visible = open_form, not open_form
            form.update()
            start.update()

        return [form, start]

    def card(a) -> ft.Control:
        inst = a["institution"]
        team = "、".join(f"{name}（{code}）" for name, code in zip(a["team_names"], a["team"]))
        lines: list[ft.Control] = [
            ft.Row([ft.Text(f"{inst['name']}（{inst['code']}）", size=19, weight=ft.FontWeight.BOLD, expand=True),
                    ft.Container(ft.Text(a["status"], size=15, color=ft.Colors.WHITE), padding=ft.Padding.symmetric(
                        horizontal=10, vertical=4), border_radius=12,
                        bgcolor=ASSIGNMENT_STATUS_COLORS.get(a["status"], ft.Colors.BLUE_GREY_600))]),
            ft.Text(f"{KIND_LABELS.get(inst['kind'], inst['kind'])} · 区划 {inst['region']} · "
                    f"{'回头看' if a['reason'] == 'followup' else '随机抽取'} · "
                    f"下达 {shown_time(a['issued_at'], 'day')}", size=15),
            ft.Text(f"检查组：{team}", size=15),
        ]
        if a["records"]:
            lines.append(ft.Text(f"局端已收到检查记录 {a['records']} 份", size=15, color=ft.Colors.GREEN_800))
        if a["revoked"]:
            lines.append(ft.Text(f"{shown_time(a['revoked_at'])} 由 {a['revoked_by']} 撤回：{a['revoked_reason']}", size=15,
                                 color=ft.Colors.GREY_800))
        else:
            lines += withdraw_controls(a)
        return ft.Card(content=ft.Container(ft.Column(lines, spacing=6,
                                                      horizontal_alignment=ft.CrossAxisAlignment.STRETCH), padding=14))

    counts = vm.counts()
    controls: list[ft.Control] = [
        ft.Row([big_button(plan, redraw_after(ctx, vm.choose, plan), filled=plan == vm.plan_id)
                for plan in vm.plans], wrap=True),
        banner(vm.message, vm.failed),
    ]
    if not vm.plans and not vm.failed:
        controls.append(banner("尚无已抽取的计划：先在“双随机抽查”中发布抽取结果", False))
    if vm.assignments:
        controls.append(ft.Text(f"计划 {vm.plan_id}：共 {len(vm.assignments)} 项，"
                                + "，".join(f"{status} {n}" for status, n in counts.items()), size=17))
    controls += [card(a) for a in vm.assignments]
    return page_view("/supervisor/assignments", "检查任务", controls, back_to="/supervisor", ctx=ctx)


def coverage_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm = CoverageViewModel(client)
    vm.load()
    if vm.report is None:
        return page_view("/supervisor/coverage", "覆盖情况", [banner(vm.message, True)], back_to="/supervisor", ctx=ctx)
    r = vm.report
    kinds = r["by_kind"]
    top = max([k["total"] for k in kinds] + [1])
    chart = fch.BarChart(
        groups=[fch.BarChartGroup(x=i, rods=[
            fch.BarChartRod(from_y=0, to_y=k["total"], width=22, color=ft.Colors.BLUE_100, tooltip=f"在册 {k['total']}"),
            fch.BarChartRod(from_y=0, to_y=k["covered"], width=22, color=ft.Colors.GREEN_600, tooltip=f"已覆盖 {k['covered']}"),
        ]) for i, k in enumerate(kinds)],
        bottom_axis=fch.ChartAxis(labels=[fch.ChartAxisLabel(value=i, label=ft.Text(k["name"], size=14))
                                          for i, k in enumerate(kinds)], label_size=40),
        left_axis=fch.ChartAxis(label_size=40),
        max_y=top + max(1, top // 10), height=300, interactive=True,
    )
    controls: list[ft.Control] = [
        ft.Text(f"三年全覆盖进度：{r['covered']} / {r['total']}（{r['progress_percent']}%），截至 {r['as_of']}", size=20),
        ft.ProgressBar(value=r["covered"] / r["total"] if r["total"] else 0, height=12),
        ft.Text("按机构类别（浅色：在册；深色：三年内已检查）", size=16),
        chart,
        ft.Text("按区划", size=18, weight=ft.FontWeight.BOLD),
        ft.DataTable(columns=[ft.DataColumn(label=ft.Text(h)) for h in ("区划代码", "在册", "已覆盖")],
                     rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(g["region"])), ft.DataCell(ft.Text(str(g["total"]))),
                                             ft.DataCell(ft.Text(str(g["covered"])))]) for g in r["by_region"]]),
        ft.Text(f"逾期未检查 {r['overdue']} 家", size=18, weight=ft.FontWeight.BOLD, color=ft.Colors.RED_800),
        ft.DataTable(columns=[ft.DataColumn(label=ft.Text(h)) for h in ("机构编码", "名称", "上次检查", "应检日期")],
                     rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(o["code"])), ft.DataCell(ft.Text(o["name"])),
                                             ft.DataCell(ft.Text(o["last_inspected"] or "从未检查")),
                                             ft.DataCell(ft.Text(o["due_date"] or "—"))])
                           for o in r["overdue_institutions"][:200]]),
    ]
    return page_view("/supervisor/coverage", "覆盖情况", controls, back_to="/supervisor", ctx=ctx)


def tokens_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: EnrollTokenViewModel = screen_vm(ctx, "token_vm", lambda: EnrollTokenViewModel(client))
    code = ft.TextField(label="人员编号", value=vm.inspector_code, text_size=18)
    status = Status()

    async def on_issue(_e) -> None:
        typed = code.value or ""
        await run_busy(ctx, lambda: vm.issue(typed), lambda _r: ctx.render(), status=status,
                       message="正在生成注册码…", controls=[code, button])

    button = big_button("生成注册码", on_issue, icon=ft.Icons.QR_CODE)
    controls: list[ft.Control] = [code, button, status.control, banner(vm.message, not vm.token)]
    if vm.token:
        controls += [ft.Image(src=vm.qr(), width=280, height=280), ft.Text(vm.token, size=20, selectable=True)]
    return page_view("/supervisor/tokens", "设备注册码", controls, back_to="/supervisor", ctx=ctx)


ROUTES = [
    Route(r"^/supervisor$", menu_view),
    Route(r"^/supervisor/registry$", registry_view, parent="/supervisor"),
    Route(r"^/supervisor/draw$", draw_view, parent="/supervisor"),
    Route(r"^/supervisor/assignments$", assignments_view, parent="/supervisor"),
    Route(r"^/supervisor/coverage$", coverage_view, parent="/supervisor"),
    Route(r"^/supervisor/tokens$", tokens_view, parent="/supervisor"),
]
