"""The supervisor's (科室负责人) screens: sign-in, registry import, 智能监控 (claims import, screening, the ranked
institutions and their hits), the 双随机 draw, the issued assignments (撤回), coverage, enrollment tokens."""

from __future__ import annotations

from typing import Callable

import flet as ft
import flet_charts as fch

from staff_app.supervisor_vm import (
    REGISTRY_LABELS,
    AssignmentsViewModel,
    CoverageViewModel,
    DrawViewModel,
    EnrollTokenViewModel,
    RegistryImportViewModel,
    ScreeningViewModel,
    confirmation_line,
    money_text,
    screening_label,
    size_text,
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
    service,
    shown_time,
)
from ui_kit.labels import KIND_LABELS


def menu_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    entries = [("名录库导入", "/supervisor/registry", ft.Icons.UPLOAD_FILE),
               ("智能监控", "/supervisor/screening", ft.Icons.MANAGE_SEARCH),
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
        ft.RadioGroup(value=vm.risk_source, on_change=bind(vm, "risk_source"), content=ft.Row([
            ft.Text("风险来源（加权时）：", size=16),
            ft.Radio(value="registry", label="名录风险分"),
            ft.Radio(value="screening", label="最近一次智能监控筛查"),
        ])),
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
        if "screening" in transcript:
            controls.append(ft.Text(f"风险分取自智能监控筛查 {screening_label(transcript['screening'])}", size=16))
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


RISK_COLORS = ((60, ft.Colors.RED_700), (30, ft.Colors.ORANGE_700), (0.01, ft.Colors.AMBER_800), (0, ft.Colors.GREY_600))


def risk_badge(score: float) -> ft.Control:
    color = next(c for floor, c in RISK_COLORS if score >= floor)
    return ft.Container(ft.Text(f"风险分 {score:.2f}", size=15, color=ft.Colors.WHITE), bgcolor=color, border_radius=12,
                        padding=ft.Padding.symmetric(horizontal=10, vertical=4))


def amount_chart(top: list[dict]) -> ft.Control:
    """The institutions whose hits involve the most money, a numbered bar each (the legend below names them)."""
    highest = max([float(t["amount_yuan"]) for t in top] + [1.0])
    chart = fch.BarChart(
        groups=[fch.BarChartGroup(x=n, rods=[fch.BarChartRod(
            from_y=0, to_y=float(t["amount_yuan"]), width=20, color=ft.Colors.RED_400,
            tooltip=f"{t['name'] or t['code']}：¥{money_text(t['amount_yuan'])}，疑点 {t['hits']} 条")])
            for n, t in enumerate(top, 1)],
        bottom_axis=fch.ChartAxis(labels=[fch.ChartAxisLabel(value=n, label=ft.Text(str(n), size=14))
                                          for n in range(1, len(top) + 1)], label_size=32),
        left_axis=fch.ChartAxis(label_size=70, show_max=False), max_y=highest * 1.1, height=300, interactive=True,
    )
    legend = ft.Row([ft.Text(f"{n}. {t['name'] or t['code']} ¥{money_text(t['amount_yuan'])}", size=14)
                     for n, t in enumerate(top, 1)], wrap=True, spacing=18, run_spacing=4)
    return ft.Column([chart, legend], spacing=8)


def pager(ctx: UiContext, previous: Callable[[], None] | None, following: Callable[[], None] | None) -> ft.Control:
    """上一页 and 下一页 (disabled where there is no such page), each reading its page off the event loop."""
    status = Status(inline=True)
    buttons: list[ft.Control] = []
    for label, load, icon in (("上一页", previous, ft.Icons.CHEVRON_LEFT), ("下一页", following, ft.Icons.CHEVRON_RIGHT)):
        button = big_button(label, busy(ctx, load, lambda _r: ctx.render(), status=status, message="正在读取…",
                                        controls=buttons) if load else None, filled=False, icon=icon)
        button.disabled = load is None
        buttons.append(button)
    return ft.Row([*buttons, status.control])


def opened(ctx: UiContext, route: str) -> bool:
    """Whether the screen of `route` is being opened (from another screen, or a reloaded tab), not redrawn after a
    tap on it: while it is built, the view on top is still the one it replaces."""
    views = ctx.page.views
    return ctx.page.route == route and (not views or views[-1].route != route)


def confirmations_section(vm: ScreeningViewModel) -> list[ft.Control]:
    """规则核实情况: per rule, the 疑点 carried to site and what the inspectors found them to be."""
    out: list[ft.Control] = [ft.Text("规则核实情况", size=18, weight=ft.FontWeight.BOLD)]
    if vm.confirmations_message:
        return [*out, banner(vm.confirmations_message, True)]
    if not vm.confirmations_summary.get("assignments"):
        return [*out, banner("尚无带疑点的检查任务：按智能监控筛查结果抽查并下达任务后，这里按规则统计现场核实结果", False)]
    summary = vm.confirmations_summary
    out.append(ft.Text(f"带疑点的检查任务 {summary['assignments']} 项，已收到检查记录 {summary['records']} 份"
                       "（属实率 = 属实 ÷ 已核）", size=15))
    out += [ft.Container(ft.Text(spans=[  # one text: the figures are read with their rule's name
        ft.TextSpan(f"{f['rule_name']}（{f['rule']}）\n", ft.TextStyle(size=16, weight=ft.FontWeight.BOLD)),
        ft.TextSpan(confirmation_line(f), ft.TextStyle(size=15)),
    ]), padding=10, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)
        for f in vm.confirmations if f["carried"]]
    idle = [f"{f['rule_name']}（{f['rule']}）" for f in vm.confirmations if not f["carried"]]
    if idle:
        out.append(ft.Text(f"未带到现场的规则：{'、'.join(idle)}", size=15, color=ft.Colors.GREY_800))
    return out


def screening_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: ScreeningViewModel = screen_vm(ctx, "screening_vm", lambda: ScreeningViewModel(client))
    if not vm.loaded or opened(ctx, "/supervisor/screening"):  # built off the event loop; a redraw after a tap
        vm.show()  # shows what the tap loaded
    import_status, run_status = Status(), Status()

    async def on_pick(_e) -> None:
        picker = service(ctx, "file_picker", ft.FilePicker)
        files = await picker.pick_files(allowed_extensions=["csv", "parquet"], file_type=ft.FilePickerFileType.CUSTOM,
                                        with_data=True, dialog_title="选择结算明细文件")
        if files:
            name, data = files[0].name, files[0].bytes or b""
            await run_busy(ctx, lambda: vm.import_claims(name, data, import_status.tell), lambda _r: ctx.render(),
                           status=import_status, message=f"正在上传 {name}（{size_text(len(data))}）…", controls=actions)

    async def saved(workbook: bytes | None) -> None:
        if workbook is None:
            ctx.render()
            return
        await service(ctx, "file_picker", ft.FilePicker).save_file(file_name=vm.xlsx_name(), src_bytes=workbook)

    actions: list[ft.Control] = []  # each slow action disables them all while it works
    actions += [
        big_button("导入结算明细", on_pick, icon=ft.Icons.UPLOAD_FILE),
        big_button("运行筛查", busy(ctx, vm.run_screening, lambda _r: ctx.render(), status=run_status,
                                    message="正在运行筛查规则…", controls=actions), icon=ft.Icons.MANAGE_SEARCH),
        big_button("导出 XLSX", busy(ctx, vm.export, saved, status=run_status, message="正在生成 Excel…",
                                     controls=actions) if vm.run else None, filled=False, icon=ft.Icons.TABLE_VIEW),
    ]
    actions[2].disabled = vm.run is None
    controls: list[ft.Control] = [
        ft.Text("结算明细：CSV（UTF-8、带 BOM 或 GBK）或 Parquet，表头为 结算ID、机构编码、参保人ID、性别、出生日期、就诊类型、"
                "入院日期、出院日期、费用日期、诊断编码、项目编码、项目名称、数量、单价、金额、医保支付金额、用药天数；"
                "任何一行有错误则整份文件不导入。", size=15, color=ft.Colors.GREY_800),
        ft.Row([actions[0], ft.Switch(label="替换已导入过的结算ID", value=vm.replace, on_change=bind(vm, "replace")),
                ft.Container(width=24), *actions[1:]], wrap=True, spacing=16),
        import_status.control,
        banner(vm.import_message, vm.import_failed),
    ]
    if vm.import_errors:
        shown = len(vm.import_errors)
        controls.append(ft.Text(f"共 {vm.error_count} 处错误" + (f"，以下列出前 {shown} 处" if shown < vm.error_count else ""),
                                size=16, color=ft.Colors.RED_800))
        controls.append(ft.Row([ft.DataTable(
            columns=[ft.DataColumn(label=ft.Text(h)) for h in ("行号", "列", "内容", "问题")],
            rows=[ft.DataRow(cells=[ft.DataCell(ft.Text(str(e["line"]))), ft.DataCell(ft.Text(e["column"])),
                                    ft.DataCell(ft.Text(str(e["value"]))), ft.DataCell(ft.Text(e["message"]))])
                  for e in vm.import_errors])], scroll=ft.ScrollMode.AUTO))
    controls += [run_status.control, banner(vm.run_message, vm.run_failed), banner(vm.message, True)]
    run = vm.run
    if run is None:
        if vm.loaded:
            controls.append(banner("尚无筛查结果：先导入结算明细，再运行筛查", False))
        return page_view("/supervisor/screening", "智能监控", controls, back_to="/supervisor", ctx=ctx)
    controls.append(ft.Text(f"最近一次筛查：{shown_time(run['ran_at'])} · 规则 {len(run['rules'])} 条 · 疑点 {run['hits']} 条 · "
                            f"机构 {run['institutions']} 家", size=18, weight=ft.FontWeight.BOLD))
    if vm.top_by_amount:
        controls += [ft.Text(f"疑点涉及金额最多的机构（前 {len(vm.top_by_amount)} 家，元）", size=17),
                     amount_chart(vm.top_by_amount)]
    controls += confirmations_section(vm)

    def tile(r: dict) -> ft.Control:
        detail = (f"{r['code']} · 疑点 {r['hits']} 条 · 涉及金额 ¥{money_text(r['amount_yuan'])}")
        return ft.Card(content=ft.ListTile(
            leading=ft.Text(str(r["rank"]), size=20, weight=ft.FontWeight.BOLD, width=44),
            title=ft.Text(r["name"] or "（名录库中无此机构）", size=18), subtitle=ft.Text(detail, size=15),
            trailing=risk_badge(r["risk_score"]), min_height=72,
            on_click=(lambda _e, code=r["code"]: ctx.go(f"/supervisor/screening/{code}")) if r["hits"] else None))

    last = vm.offset + len(vm.institutions)
    controls.append(ft.Text(f"机构风险排名（第 {vm.offset + 1}–{last} 家，共 {vm.total} 家；点按机构查看疑点）", size=17,
                            weight=ft.FontWeight.BOLD))
    controls += [tile(r) for r in vm.institutions]
    controls.append(pager(ctx, (lambda: vm.load(vm.offset - vm.page_size)) if vm.has_previous else None,
                          (lambda: vm.load(vm.offset + vm.page_size)) if vm.has_next else None))
    return page_view("/supervisor/screening", "智能监控", controls, back_to="/supervisor", ctx=ctx)


def screening_hits_view(ctx: UiContext, code: str) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: ScreeningViewModel = screen_vm(ctx, "screening_vm", lambda: ScreeningViewModel(client))
    if vm.institution is None or vm.institution["code"] != code:
        vm.open_institution(code)
    route = f"/supervisor/screening/{code}"
    inst = vm.institution
    if inst is None:
        return page_view(route, "机构疑点", [banner(vm.hits_message, True)], back_to="/supervisor/screening", ctx=ctx)
    header = ft.Column([
        ft.Row([ft.Text(f"{inst['name'] or '（名录库中无此机构）'}（{inst['code']}）", size=20, weight=ft.FontWeight.BOLD,
                        expand=True), risk_badge(inst["risk_score"])]),
        ft.Text(f"风险排名第 {inst['rank']} 位 · 疑点 {inst['hits']} 条 · 涉及金额 ¥{money_text(inst['amount_yuan'])}", size=16),
    ], spacing=6)
    columns = ("规则", "结算ID", "参保人ID", "日期/月份", "金额（元）", "疑点说明")
    rows = [ft.DataRow(cells=[
        ft.DataCell(ft.Container(ft.Text(f"{h['rule_name']}（{h['rule']}）", size=14), width=220)),
        ft.DataCell(ft.Text(h["settlement_id"] or "—", size=14)), ft.DataCell(ft.Text(h["person"], size=14)),
        ft.DataCell(ft.Text(h["day"] or h["month"] or "—", size=14)),
        ft.DataCell(ft.Text(money_text(h["amount_yuan"]), size=14)),
        ft.DataCell(ft.Container(ft.Text(h["evidence"], size=14), width=420)),
    ]) for h in vm.hits]
    table = ft.Row([ft.DataTable(columns=[ft.DataColumn(label=ft.Text(c, size=14, weight=ft.FontWeight.BOLD))
                                          for c in columns], rows=rows, heading_row_height=44,
                                 data_row_min_height=48, data_row_max_height=96)], scroll=ft.ScrollMode.AUTO)
    last = vm.hits_offset + len(vm.hits)
    size = vm.hits_page_size
    controls: list[ft.Control] = [
        header, banner(vm.hits_message, True),
        ft.Text(f"疑点清单（第 {vm.hits_offset + 1}–{last} 条，共 {vm.hits_total} 条）", size=17, weight=ft.FontWeight.BOLD),
        table, pager(ctx, (lambda: vm.open_institution(code, vm.hits_offset - size)) if vm.hits_offset > 0 else None,
                     (lambda: vm.open_institution(code, vm.hits_offset + size)) if last < vm.hits_total else None),
    ]
    return page_view(route, f"机构疑点 · {inst['name'] or inst['code']}", controls, back_to="/supervisor/screening",
                     ctx=ctx)


ROUTES = [
    Route(r"^/supervisor$", menu_view),
    Route(r"^/supervisor/registry$", registry_view, parent="/supervisor"),
    Route(r"^/supervisor/draw$", draw_view, parent="/supervisor"),
    Route(r"^/supervisor/assignments$", assignments_view, parent="/supervisor"),
    Route(r"^/supervisor/coverage$", coverage_view, parent="/supervisor"),
    Route(r"^/supervisor/tokens$", tokens_view, parent="/supervisor"),
    Route(r"^/supervisor/screening$", screening_view, parent="/supervisor"),
    Route(r"^/supervisor/screening/(?P<code>[HP][0-9]{11})$", screening_hits_view, parent="/supervisor/screening"),
]
