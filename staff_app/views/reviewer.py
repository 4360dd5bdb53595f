"""The bureau reviewer's (审核人员) screens — the queue, one case with its evidence and actions, the decision — and
the overview every staff role shares: ledgers, 回头看 and the year's dashboard with charts and Excel export.

Views stay thin over `staff_app.review_vm`; the bureau decides what is allowed and the screens show its answer.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Awaitable, Callable

import flet as ft
import flet_charts as fch

from checklists.money import shown_money
from staff_app.procedure_vm import (
    CHOICES,
    PDF_DOCUMENTS,
    STEP_FIELDS,
    STEP_LABELS,
    ProcedureForm,
    available_documents,
    procedure_lines,
)
from staff_app.review_vm import (
    ACTION_LABELS,
    CIRCUMSTANCE_LABELS,
    DECISION_SCREEN_ACTIONS,
    STATUS_COLORS,
    CaseViewModel,
    DashboardViewModel,
    DecisionViewModel,
    LedgerViewModel,
    QueueViewModel,
    answers_by_section,
    suspicion_lines,
    verification_lines,
    yuan_text,
)
from staff_app.views.login import login_view, staff_client
from staff_app.xlsx_export import tables_xlsx
from ui_kit.common import (
    TOUCH,
    Route,
    Status,
    UiContext,
    banner,
    big_button,
    bind,
    busy,
    finding_card,
    page_view,
    run_busy,
    screen_vm,
    service,
    shown_time,
)
from ui_kit.labels import KIND_LABELS

WIDE = 640  # px: text fields for sentences, not words
ROLE_LABELS = {"inspector_1": "检查人员（一）", "inspector_2": "检查人员（二）", "representative": "被检查单位在场人员"}
CHART_COLORS = [ft.Colors.BLUE_600, ft.Colors.GREEN_600, ft.Colors.ORANGE_600, ft.Colors.RED_600, ft.Colors.PURPLE_400,
                ft.Colors.TEAL_600]


def heading(text: str) -> ft.Control:
    return ft.Text(text, size=20, weight=ft.FontWeight.BOLD)


def card(controls: list[ft.Control]) -> ft.Control:
    return ft.Card(content=ft.Container(ft.Column(controls, spacing=8), padding=16))


def status_badge(status: str) -> ft.Control:
    color = getattr(ft.Colors, f"{STATUS_COLORS.get(status, 'grey').upper()}_100")
    return ft.Container(ft.Text(status, size=15), bgcolor=color, padding=ft.Padding.symmetric(horizontal=10, vertical=4),
                        border_radius=12)


def flag(text: str, color=ft.Colors.RED_800) -> ft.Control:
    return ft.Container(ft.Text(text, size=14, color=ft.Colors.WHITE), bgcolor=color, border_radius=12,
                        padding=ft.Padding.symmetric(horizontal=10, vertical=4))


def data_table(t: dict[str, Any], highlight: Callable[[list[Any]], bool] = lambda _r: False) -> ft.Control:
    rows = [ft.DataRow(cells=[ft.DataCell(ft.Text("" if v is None else str(v), size=14,
                                                  color=ft.Colors.RED_800 if highlight(r) else None)) for v in r])
            for r in t["rows"][:500]]
    return ft.Row([ft.DataTable(columns=[ft.DataColumn(label=ft.Text(c, size=14, weight=ft.FontWeight.BOLD))
                                         for c in t["columns"]], rows=rows, heading_row_height=44, data_row_min_height=40)],
                  scroll=ft.ScrollMode.AUTO)


def export_button(ctx: UiContext, tables: list[dict[str, Any]], file_name: str, label: str = "导出 Excel"):
    """The button and, while the workbook is made, its progress ring."""
    status = Status(14, inline=True)

    async def save(workbook: bytes) -> None:
        picker = service(ctx, "file_picker", ft.FilePicker)
        await picker.save_file(file_name=file_name, src_bytes=workbook)

    async def export(_e) -> None:
        await run_busy(ctx, lambda: tables_xlsx(tables), save, status=status, message="正在生成 Excel…",
                       controls=[button])

    button = ft.OutlinedButton(content=label, icon=ft.Icons.TABLE_VIEW, on_click=export, height=TOUCH)
    return ft.Row([button, status.control], tight=True)


def nav_actions(ctx: UiContext) -> list[ft.Control]:
    return [ft.TextButton(label, icon=icon, on_click=lambda _e, r=route: ctx.go(r), height=TOUCH)
            for label, route, icon in (("审核队列", "/review", ft.Icons.INBOX), ("台账与回头看", "/review/ledger",
                                        ft.Icons.MENU_BOOK), ("年度概览", "/dashboard", ft.Icons.INSIGHTS))]


# ============================================================ the queue


def queue_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: QueueViewModel = screen_vm(ctx, "queue_vm", lambda: QueueViewModel(client))
    vm.load()

    def choose(attr: str, value):
        def handler(_e) -> None:
            setattr(vm, attr, value)
            ctx.render()
        return handler

    statuses = ft.Row([big_button("全部状态", choose("status", None), filled=vm.status is None),
                       *[big_button(s, choose("status", s), filled=vm.status == s) for s in vm.statuses]], wrap=True)
    kinds = ft.Row([big_button("全部类别", choose("kind", None), filled=vm.kind is None),
                    *[big_button(label, choose("kind", k), filled=vm.kind == k) for k, label in KIND_LABELS.items()]],
                   wrap=True)
    fields = ft.Row([
        ft.TextField(label="区划代码（前缀）", value=vm.region, on_change=bind(vm, "region"), width=200, text_size=18),
        ft.TextField(label="最低分", value=vm.min_score, on_change=bind(vm, "min_score"), width=120, text_size=18),
        ft.TextField(label="最高分", value=vm.max_score, on_change=bind(vm, "max_score"), width=120, text_size=18),
        ft.Switch(label="仅看涉嫌欺诈（A 类）", value=vm.critical_only, on_change=bind(vm, "critical_only")),
        ft.Switch(label="仅看得分不符", value=vm.mismatch_only, on_change=bind(vm, "mismatch_only")),
        big_button("筛选", lambda _e: ctx.render(), icon=ft.Icons.FILTER_ALT),
    ], wrap=True)
    tiles = []
    for item in vm.items:
        badges = [status_badge(item["status"])]
        if item["critical"]:
            badges.append(flag("涉嫌欺诈骗保"))
        if item["score_mismatch"]:
            badges.append(flag("得分不符", ft.Colors.DEEP_ORANGE_700))
        tiles.append(ft.Card(content=ft.ListTile(
            title=ft.Text(f"{item['institution_name']}（{item['institution_code']}）", size=19),
            subtitle=ft.Text(vm.summary(item), size=15), trailing=ft.Row(badges, tight=True, spacing=6),
            on_click=lambda _e, r=item["record_id"]: ctx.go(f"/review/case/{r}"), min_height=72)))
    who = f"{client.account['name']}（{client.account['role_label']}）"
    return page_view("/review", f"审核队列 · {who}", [
        statuses, kinds, fields, banner(vm.message, bool(vm.message) and not vm.items),
        ft.Text(f"共 {len(vm.items)} 份检查记录", size=16), *tiles,
    ], back_to="/", ctx=ctx, actions=nav_actions(ctx))


# ============================================================ one case


def _zoom(ctx: UiContext, vm: CaseViewModel, sha256: str, caption: str) -> Callable[[Any], Awaitable[None]]:
    """A tap on a thumbnail: the dialog opens at once, turning while the photo comes from the bureau."""
    async def handler(_e) -> None:
        await _open_zoomed(ctx, vm, sha256, caption)
    return handler


async def _open_zoomed(ctx: UiContext, vm: CaseViewModel, sha256: str, caption: str) -> None:
    status = Status()
    dialog = ft.AlertDialog(
        title=ft.Text(caption, size=16), content=ft.Container(status.control, width=900),
        actions=[ft.TextButton("关闭", on_click=lambda _e: ctx.page.pop_dialog(), height=TOUCH)])
    ctx.page.show_dialog(dialog)

    def shown(data: bytes | None) -> None:
        if data is None:
            status.show(f"照片无法显示：{vm.message}", error=True)
            return
        dialog.content = ft.InteractiveViewer(content=ft.Image(src=data, fit=ft.BoxFit.CONTAIN), min_scale=1,
                                              max_scale=8, width=900, height=640)

    await run_busy(ctx, lambda: vm.image(sha256), shown, status=status, message="正在载入照片…")


def photo_strip(ctx: UiContext, vm: CaseViewModel, photos: list[dict[str, Any]], label: str) -> ft.Control:
    """Thumbnails; a tap opens the photo in a zoomable dialog (pinch or scroll to zoom, drag to pan)."""
    tiles: list[ft.Control] = []
    for number, photo in enumerate(photos, 1):
        thumb = vm.thumbnail(photo["sha256"])
        when = shown_time(photo.get("captured_at") or photo.get("added_at"))
        caption = f"{label}照片 {number} · {when} · {photo['sha256'][:8]}"
        tiles.append(ft.Semantics(label=f"放大{label}照片 {number}", button=True, content=ft.Container(
            ft.Column([ft.Image(src=thumb, width=160, height=120, fit=ft.BoxFit.COVER, border_radius=6)
                       if thumb else ft.Text("无法显示"), ft.Text(when or photo["sha256"][:8], size=12)],
                      spacing=2, horizontal_alignment=ft.CrossAxisAlignment.CENTER),
            on_click=_zoom(ctx, vm, photo["sha256"], caption), ink=True, border_radius=6)))
    return ft.Row(tiles, wrap=True)


def _photos_by_sha(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["sha256"]: p for p in record.get("photos") or []}


def findings_card(ctx: UiContext, vm: CaseViewModel) -> ft.Control:
    photos = _photos_by_sha(vm.record)
    rows: list[ft.Control] = [heading(f"发现的问题（{len(vm.findings)} 项，局端按原始答案重算）")]
    for number, found in enumerate(vm.findings, 1):
        rows.append(finding_card(number, found, yuan_text(found["amount_yuan"]), photo_strip(
            ctx, vm, [photos[s] for s in found["photos"] if s in photos], f"问题 {number} ")))
    if not vm.findings:
        rows.append(ft.Text("未发现问题", size=16))
    return card(rows)


def suspicions_card(vm: CaseViewModel) -> ft.Control | None:
    """The 疑点 checked on site; none when the assignment carried none or none was checked."""
    checks = (vm.detail or {}).get("suspicion_checks") or []
    if not checks:
        return None
    confirmed = sum(1 for c in checks if c["verdict"] == "confirmed")
    return card([heading(f"疑点核查（{len(checks)} 项，属实 {confirmed} 项）"),
                 *[ft.Text(text, size=15, color=ft.Colors.RED_800 if hit else ft.Colors.GREY_800)
                   for hit, text in suspicion_lines(checks)]])


def answers_card(vm: CaseViewModel) -> ft.Control:
    sections = answers_by_section(vm.record)
    colors = {"pass": ft.Colors.GREEN_800, "fail": ft.Colors.RED_800, "na": ft.Colors.GREY_700}
    tiles = []
    for section in sections:
        lines: list[ft.Control] = [ft.Text(f"{r['label']} · {r['text']}" + (f" · {r['note']}" if r["note"] else "")
                         + (f" · {shown_money(r['amount_yuan'])}" if r["amount_yuan"] else ""), size=15,
                         color=colors.get(r["result"])) for r in section.rows]
        failed = sum(1 for r in section.rows if r["result"] == "fail")
        tiles.append(ft.ExpansionTile(title=ft.Text(f"{section.title}（{len(section.rows)} 项，不符合 {failed} 项）",
                                                    size=17), controls=lines, expanded=failed > 0))
    return card([heading("检查项答案"), *tiles])


def checkin_card(ctx: UiContext, vm: CaseViewModel) -> ft.Control:
    record = vm.record
    checkin = record.get("checkin") or {}
    lines: list[ft.Control] = [heading("到场与签名")]
    if checkin:
        gps = checkin.get("gps")
        lines += [
            ft.Text(f"检查时间：{shown_time(checkin.get('checked_in_at'))} · 地点：{checkin.get('place')}"
                    + (f" · 定位 {gps['lat']}, {gps['lon']}" if gps else f" · 未获取定位（{checkin.get('gps_note')}）"),
                    size=15),
            ft.Text("检查人员：" + "、".join(f"{o['name']}（执法证号 {o['badge_no']}，"
                                         f"{'已出示证件' if o.get('id_shown') else '未记录出示证件'}）"
                                         for o in checkin.get("officers", [])), size=15),
            ft.Text(f"在场人员：{checkin['representative']['name']}（{checkin['representative']['role']}"
                    + (f"，身份证号码 {checkin['representative']['id_number']}"
                       if checkin["representative"].get("id_number") else "") + "）", size=15)
            if checkin.get("representative") else ft.Text("在场人员：—", size=15),
        ]
    signatures: list[ft.Control] = []
    for entry in record.get("signatures") or []:
        png = vm.signature_png(entry)
        signatures.append(ft.Column([
            ft.Text(f"{ROLE_LABELS.get(entry.get('role'), entry.get('role'))}：{entry.get('signer_name')}", size=15),
            ft.Image(src=png, width=240, height=90, fit=ft.BoxFit.CONTAIN) if png else ft.Text("签名数据无法显示"),
        ], spacing=2))
    lines.append(ft.Row(signatures, wrap=True, spacing=24))
    refusal = record.get("refusal")
    if refusal:
        witness = refusal.get("witness_signature")
        png = vm.signature_png(witness) if witness else None
        lines += [
            banner(f"在场人员拒签：{refusal['reason']}；见证人 {refusal['witness_name']}"
                   + (f"；{refusal['media_note']}" if refusal.get("media_note") else ""), True),
            ft.Row([ft.Text("见证人签名：", size=15),
                    ft.Image(src=png, width=240, height=90, fit=ft.BoxFit.CONTAIN) if png else ft.Text("—")]),
            photo_strip(ctx, vm, refusal.get("photos") or [], "拒签"),
        ]
    return card(lines)


def verification_card(vm: CaseViewModel) -> ft.Control:
    d = vm.detail
    assert d is not None  # case_view shows the case's cards only once it is loaded
    lines: list[ft.Control] = [heading("核验结果")]
    for ok, text in verification_lines(d):
        lines.append(ft.Row([ft.Icon(ft.Icons.CHECK_CIRCLE if ok else ft.Icons.ERROR,
                                     color=ft.Colors.GREEN_700 if ok else ft.Colors.RED_700),
                             ft.Text(text, size=15, color=None if ok else ft.Colors.RED_800, expand=True)]))
    lines.append(ft.Text(f"记录哈希 {d['record_hash']}", size=13, color=ft.Colors.GREY_700))
    return card(lines)


def actions_card(ctx: UiContext, vm: CaseViewModel) -> ft.Control:
    d = vm.detail
    assert d is not None  # case_view shows the case's cards only once it is loaded
    message = ft.Text(vm.message, size=16, color=ft.Colors.RED_800, visible=bool(vm.message))
    done = ft.Text(vm.ok_message, size=16, color=ft.Colors.GREEN_800, visible=bool(vm.ok_message))
    status = Status()
    slow: list[ft.Control] = []  # the buttons that ask the bureau: all disabled while one of them waits for it

    def slow_button(label: str, handler, **options) -> ft.Control:
        button = big_button(label, handler, **options)
        slow.append(button)
        return button

    def take(action: str):
        return busy(ctx, lambda: vm.take(action), lambda _ok: ctx.render(), status=status,
                    message=f"正在{ACTION_LABELS[action]}…", controls=slow)

    async def pick_attachment(_e) -> None:
        picker = service(ctx, "file_picker", ft.FilePicker)
        files = await picker.pick_files(with_data=True, dialog_title="选择陈述申辩书面材料")
        if files:
            vm.attachment_name, vm.attachment = files[0].name, files[0].bytes or b""
            ctx.render()

    def saving(name: Callable[[], str]):
        async def save(answer: tuple[bytes | None, str]) -> None:
            content, problem = answer
            if content is None:
                vm.message = problem
                ctx.render()
                return
            picker = service(ctx, "file_picker", ft.FilePicker)
            await picker.save_file(file_name=name(), src_bytes=content)
        return save

    controls: list[ft.Control] = [heading("审核操作")]
    if d["own_inspection"]:
        controls.append(banner("您参与了这次现场检查，依回避规定不能审核或处理本案", True))
    actions = vm.actions
    if not actions and not d["own_inspection"]:
        controls.append(ft.Text("当前状态下没有您可以进行的操作" if client_role(ctx) == "reviewer"
                                else "只读：审核操作仅限审核人员", size=15))
    simple = [a for a in actions if a in ("start", "decide")]
    if simple:
        controls.append(ft.Row([slow_button(ACTION_LABELS[a], take(a), icon=ft.Icons.PLAY_ARROW if a == "start"
                                            else ft.Icons.GAVEL) for a in simple], wrap=True))
    for action in DECISION_SCREEN_ACTIONS:
        if action in actions:
            controls.append(big_button(ACTION_LABELS[action], lambda _e: ctx.go(f"/review/case/{vm.record_id}/decision"),
                                       icon=ft.Icons.BALANCE))
    if "notify" in actions:
        controls.append(ft.Row([
            ft.TextField(label="告知书送达日期（年-月-日，期限自此起算）", value=vm.served_on,
                         on_change=bind(vm, "served_on"), width=340, text_size=18),
            ft.TextField(label="陈述申辩期限（年-月-日）", value=vm.deadline, on_change=bind(vm, "deadline"), width=260,
                         text_size=18),
            slow_button(ACTION_LABELS["notify"], take("notify"), icon=ft.Icons.MAIL)], wrap=True))
    if "statement" in actions:
        controls += [
            ft.TextField(label="当事人陈述申辩内容", value=vm.statement_text, on_change=bind(vm, "statement_text"),
                         multiline=True, min_lines=3, text_size=17, width=WIDE),
            ft.Row([ft.Checkbox(label="当事人书面放弃陈述申辩", value=vm.statement_waived, on_change=bind(vm, "statement_waived")),
                    big_button("选择书面材料", pick_attachment, filled=False, icon=ft.Icons.ATTACH_FILE),
                    ft.Text(vm.attachment_name and f"已选择：{vm.attachment_name}（{len(vm.attachment) // 1024} KB）",
                            size=15),
                    slow_button(ACTION_LABELS["statement"], take("statement"), icon=ft.Icons.RECORD_VOICE_OVER)],
                   wrap=True)]
    with_reason = [a for a in ("return", "close", "reopen", "withdraw") if a in actions]
    if with_reason:
        controls += [ft.TextField(label="理由（退回补正、结案、撤回、撤销时必填）", value=vm.reason, on_change=bind(vm, "reason"),
                                  multiline=True, text_size=17, width=WIDE),
                     ft.Row([slow_button(ACTION_LABELS[a], take(a), filled=False) for a in with_reason], wrap=True)]
    decision = d.get("decision")
    if decision and decision["outcome"] == "handled" and decision["status"] != "draft":
        download = busy(ctx, vm.decision_pdf, saving(vm.pdf_name), status=status, message="正在生成决定书…",
                        controls=slow)
        archive = busy(ctx, vm.case_file, saving(vm.case_file_name), status=status,
                       message="正在生成案卷（全部文书、检查记录、证据与审计记录）…", controls=slow)
        exports = [slow_button("导出案卷（ZIP）", archive, filled=False, icon=ft.Icons.ARCHIVE)] \
            if client_role(ctx) == "reviewer" else []

        def other(key: str, label: str, name: str) -> ft.Control:  # 协议处理通知书, 移送书
            return slow_button(label, busy(ctx, lambda: vm.document_pdf(key), saving(lambda: name), status=status,
                                           message="正在生成文书…", controls=slow),
                               filled=False, icon=ft.Icons.PICTURE_AS_PDF)
        others = [other(*entry) for entry in vm.other_documents]
        principal = slow_button("下载决定书（PDF）", download, icon=ft.Icons.PICTURE_AS_PDF)
        controls.append(ft.Row([principal, *others, *exports,
                                ft.Text(f"{decision['decision_no']}（{decision['doc_kind']}决定书）"
                                        + ("，已经复议撤销" if decision["status"] == "withdrawn" else ""), size=16)],
                               wrap=True))
    return card([*controls, status.control, message, done])


def client_role(ctx: UiContext) -> str:
    client = staff_client(ctx)
    return client.account.get("role", "") if client else ""


def decision_card(vm: CaseViewModel) -> ft.Control | None:
    d = vm.detail
    assert d is not None  # case_view shows the case's cards only once it is loaded
    decision, statement = d.get("decision"), d["statement"]
    lines: list[ft.Control] = []
    if decision and decision["outcome"] == "handled":
        state = {"draft": "拟处理意见", "issued": "已作出决定", "withdrawn": "已经复议撤销"}[decision["status"]]
        lines += [heading(f"处理意见（{state}）"),
                  ft.Text(f"措施：{'、'.join(decision['measures'])}", size=16),
                  *([ft.Text(f"责令退回 {yuan_text(decision['recover_yuan'])}", size=16)]
                    if decision["recover_yuan"] != "0.00" else []),
                  *([ft.Text(f"罚款 {yuan_text(decision['fine_yuan'])}；裁量理由：{decision['fine_reason']}", size=16)]
                    if decision["fine_yuan"] else []),
                  *([ft.Text(f"暂停 {decision['suspension_months']} 个月", size=16)]
                    if decision["suspension_months"] else []),
                  *([ft.Text(f"整改期限 {decision['rectification_due']}", size=16)]
                    if decision["rectification_due"] else [])]
    if statement["deadline"]:
        text = ("当事人放弃陈述申辩" if statement["waived"] else statement["text"]) if statement["received_at"] \
            else "尚未收到"
        lines += [heading("陈述申辩"), ft.Text(f"期限 {statement['deadline']}；{text}", size=16)]
        if statement["attachment_name"]:
            lines.append(ft.Text(f"书面材料：{statement['attachment_name']}（SHA-256 {statement['attachment_sha256'][:16]}…）",
                                 size=14))
    return card(lines) if lines else None


def history_card(vm: CaseViewModel) -> ft.Control:
    d = vm.detail
    assert d is not None  # case_view shows the case's cards only once it is loaded
    audit = {"name": "audit", "title": "审计记录", "columns": ["序号", "时间", "操作", "状态", "操作人", "理由"],
             "rows": [[e["seq"] + 1, shown_time(e["at"], "second"), e["label"],
                       f"{e['from_status'] or '—'} → {e['to_status']}", e["actor"], e["reason"]] for e in d["audit"]]}
    versions = [ft.Text(f"第 {v['version']} 版 · 收到 {shown_time(v['received_at'])} · 哈希 {v['record_hash'][:16]}…"
                        + (f" · 更正原因：{v['correction_reason']}" if v["correction_reason"] else ""), size=15)
                for v in d["versions"]]
    corrections = [ft.Text(f"退回补正（第 {c['version']} 版）：{c['reason']} · {c['status']}", size=15)
                   for c in d["corrections"]]
    return card([heading("版本与审计记录"), *versions, *corrections, data_table(audit)])


def _step_field(form: ProcedureForm, name: str, label: str, kind: str) -> ft.Control:
    def changed(e) -> None:
        form.values[name] = e.control.value
    value = form.values.get(name)
    if kind == "bool":
        return ft.Checkbox(label=label, value=bool(value), on_change=changed)
    if kind == "choice":
        return ft.Dropdown(label=label, value=value or CHOICES[name][0], width=220, text_size=17, on_select=changed,
                           options=[ft.DropdownOption(key=c, text=c) for c in CHOICES[name]])
    hint = {"date": "（年-月-日）", "time": "（时:分，如 09:30）"}.get(kind, "")
    return ft.TextField(label=label + hint, value=value or "", on_change=changed, text_size=17,
                        multiline=kind == "multiline", min_lines=2 if kind == "multiline" else None,
                        width=WIDE if kind in ("multiline", "list") else 260)


def procedure_card(ctx: UiContext, vm: CaseViewModel) -> ft.Control | None:
    """The penalty procedure: where it stands (the 90-day clock, the notice and hearing, service and payments), a
    form and button per step the bureau offers, and its documents."""
    d = vm.detail
    assert d is not None  # case_view shows the case's cards only once it is loaded
    procedure = d.get("procedure")
    if procedure is None or (not procedure["record"] and not procedure["steps"]):
        return None
    form: ProcedureForm = screen_vm(ctx, f"procedure_form:{vm.record_id}",
                                    lambda: ProcedureForm(vm.client, vm.record_id))
    status = Status()
    slow: list[ft.Control] = []

    def taken(answer: dict[str, Any] | None) -> None:
        if answer is not None:
            vm.detail = answer
        ctx.render()

    def take(step: str):
        return busy(ctx, lambda: form.take(step), taken, status=status, message=f"正在{STEP_LABELS[step]}…",
                    controls=slow)

    async def save(answer: tuple[bytes | None, str], name: str) -> None:
        pdf, problem = answer
        if pdf is None:
            form.message = problem
            ctx.render()
            return
        picker = service(ctx, "file_picker", ft.FilePicker)
        await picker.save_file(file_name=name, src_bytes=pdf)

    controls: list[ft.Control] = [heading("行政处罚程序")]
    for warn, line in procedure_lines(procedure):
        controls.append(ft.Text(line, size=16, color=ft.Colors.RED_800 if warn else None,
                                weight=ft.FontWeight.BOLD if warn else None))
    for step in procedure["steps"]:
        fields = [_step_field(form, name, label, kind) for name, label, kind in STEP_FIELDS[step]]
        button = big_button(STEP_LABELS[step], take(step), filled=False, icon=ft.Icons.ARROW_FORWARD)
        slow.append(button)
        controls.append(ft.Container(ft.Row([*fields, button], wrap=True), padding=ft.Padding.only(top=6)))
    def download(key: str):
        async def saved(answer: tuple[bytes | None, str]) -> None:
            await save(answer, f"{PDF_DOCUMENTS[key]}-{vm.record_id}.pdf")
        return busy(ctx, lambda: form.document(key), saved, status=status,
                    message=f"正在生成{PDF_DOCUMENTS[key]}…", controls=slow)

    documents = []
    for key in available_documents(procedure):
        button = big_button(f"下载{PDF_DOCUMENTS[key]}（PDF）", download(key), filled=False,
                            icon=ft.Icons.PICTURE_AS_PDF)
        slow.append(button)
        documents.append(button)
    if documents:
        controls.append(ft.Row(documents, wrap=True))
    controls += [status.control, ft.Text(form.message, size=16, color=ft.Colors.RED_800, visible=bool(form.message)),
                 ft.Text(form.ok_message, size=16, color=ft.Colors.GREEN_800, visible=bool(form.ok_message))]
    return card(controls)


def case_view(ctx: UiContext, record_id: str) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: CaseViewModel = screen_vm(ctx, f"case_vm:{record_id}", lambda: CaseViewModel(client, record_id))
    vm.load()
    route = f"/review/case/{record_id}"
    if vm.detail is None:
        return page_view(route, "检查记录", [banner(vm.message, True)], back_to="/review", ctx=ctx)
    d = vm.detail
    institution = d["institution"]
    score = d["score"]
    header = card([
        ft.Row([ft.Text(f"{institution['name']}（{institution['code']}）", size=22, weight=ft.FontWeight.BOLD),
                status_badge(d["status"]), *([flag("涉嫌欺诈骗保（A 类）")] if score["critical"] else [])], wrap=True),
        ft.Text(f"{KIND_LABELS.get(institution['kind'], '')} · 区划 {institution['region'] or '—'} · "
                f"{institution['address'] or ''}", size=15),
        ft.Text(f"第 {d['version']} 版（共 {len(d['versions'])} 版）· 检查人员 {'、'.join(vm.record.get('team', []))} · "
                f"得分 {score['computed'] or '—'} · 收到 {shown_time(d['received_at'])}", size=15),
    ])
    parts = [header, verification_card(vm), actions_card(ctx, vm)]
    if (proceeding := procedure_card(ctx, vm)) is not None:
        parts.append(proceeding)
    if (decided := decision_card(vm)) is not None:
        parts.append(decided)
    parts.append(findings_card(ctx, vm))
    if (suspicions := suspicions_card(vm)) is not None:
        parts.append(suspicions)
    parts += [checkin_card(ctx, vm), answers_card(vm), history_card(vm)]
    return page_view(route, f"检查记录 · {vm.title}", parts, back_to="/review", ctx=ctx, actions=nav_actions(ctx))


# ============================================================ the decision


def decision_view(ctx: UiContext, record_id: str) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    route = f"/review/case/{record_id}/decision"
    key = f"decision_vm:{record_id}"
    vm: DecisionViewModel = screen_vm(ctx, key, lambda: DecisionViewModel(client, record_id))
    if vm.case is None:
        vm.load()
    if vm.case is None or vm.proposal is None:
        return page_view(route, "拟处理意见", [banner(vm.message, True)], back_to=f"/review/case/{record_id}", ctx=ctx)
    p = vm.penalty
    recomputing, submitting = Status(), Status()

    async def recompute() -> None:
        """The facts changed the articles and ranges: ask the bureau again, the facts disabled meanwhile."""
        await run_busy(ctx, vm.refresh, lambda _r: ctx.render(), status=recomputing,
                       message="正在按所选事实重新计算适用条款与幅度…", controls=fact_controls)

    def toggle_flag(attr: str):
        async def handler(e) -> None:
            setattr(vm, attr, bool(e.control.value))
            await recompute()
        return handler

    def toggle_in(target: set, value, refresh: bool = False):
        async def handler(e) -> None:
            (target.add if e.control.value else target.discard)(value)
            if refresh:
                await recompute()
        return handler

    def keep_term(code: str):
        def handler(e) -> None:
            vm.person_terms[code] = e.control.value or ""
        return handler

    def submitted(accepted: bool) -> None:
        if accepted:
            ctx.flash.pop(key, None)
            ctx.flash.pop(f"case_vm:{record_id}", None)
            ctx.go(f"/review/case/{record_id}")
        else:
            ctx.render()

    switches: list[ft.Control] = [
        ft.Switch(label="经责令改正拒不改正", value=vm.refused_to_correct, on_change=toggle_flag("refused_to_correct")),
        ft.Switch(label="造成严重后果", value=vm.serious_consequences, on_change=toggle_flag("serious_consequences")),
        ft.Switch(label="造成基金重大损失或严重不良社会影响（条例第四十三条）", value=vm.major_loss,
                  on_change=toggle_flag("major_loss"))]
    intents: list[ft.Control] = [
        ft.Checkbox(label=f"{f['title']}（{f['category']}，{yuan_text(f['amount_yuan']) or '无金额'}）",
                    value=f["item_id"] in vm.intent_items, on_change=toggle_in(vm.intent_items, f["item_id"], True))
        for f in vm.findings]
    circumstances: list[ft.Control] = [
        ft.Checkbox(label=label, value=name in vm.circumstances, on_change=toggle_in(vm.circumstances, name, True))
        for name, label in CIRCUMSTANCE_LABELS.items()]
    factors: list[ft.Control] = [
        ft.Checkbox(label=f"{f['kind']}：{f['label']}", tooltip=f["basis"], value=f["id"] in vm.factors,
                    on_change=toggle_in(vm.factors, f["id"], True)) for f in vm.band_factors]

    async def period_changed(_e) -> None:
        await recompute()

    period: list[ft.Control] = [
        ft.TextField(label="违法行为起始日期（年-月-日，空：检查当日）", value=vm.conduct_from, width=360, text_size=17,
                     on_change=bind(vm, "conduct_from"), on_blur=period_changed),
        ft.TextField(label="违法行为终了日期（年-月-日，空：检查当日）", value=vm.conduct_to, width=360, text_size=17,
                     on_change=bind(vm, "conduct_to"), on_blur=period_changed),
        ft.Switch(label="涉及公民生命健康安全、金融安全且有危害后果（时效五年）", value=vm.limitation_extended,
                  on_change=toggle_flag("limitation_extended"))]
    fact_controls = [*switches, *intents, *circumstances, *factors, *period]
    facts = card([
        heading("案件事实（影响适用条款与幅度）"),
        *switches,
        ft.Text("以骗取医保基金为目的的问题（按条例第四十条处理）：", size=16),
        *intents,
        ft.Text("情节（行政处罚法第三十三条，决定是否不予处罚）：", size=16),
        ft.Row(circumstances, wrap=True),
        ft.Text("裁量情节（行政处罚法第三十二条、第三十四条；罚款金额须在所引情节对应的裁量幅度内）：", size=16),
        ft.Row(factors, wrap=True),
        ft.Text("违法行为期间（行政处罚法第三十六条时效；第二十九条一事不再罚）：", size=16),
        ft.Row(period, wrap=True),
        recomputing.control,
        banner(vm.message, True),  # e.g. circumstances that contradict the facts: the proposal shown is the last
    ])
    prescribed = card([heading("依规定应予处理"), *[ft.Text(line, size=16) for line in vm.range_text()]])
    def toggle_waiver(e) -> None:
        vm.waive_penalty = bool(e.control.value)
        ctx.render()

    choice: list[ft.Control] = [heading("处理意见")]
    if p["no_penalty"] == "may" or vm.time_barred:
        why = "已过行政处罚时效" if vm.time_barred else "可以不予行政处罚"
        choice.append(ft.Checkbox(label=f"{why}：决定不予处罚（不处罚款，不暂停）", value=vm.waive_penalty,
                                  on_change=toggle_waiver))
    for measure in p["optional_measures"]:
        choice.append(ft.Checkbox(label=f"采取“{measure}”（可以采取的措施）", value=measure in vm.optional_measures,
                                  on_change=toggle_in(vm.optional_measures, measure)))
    if p["fine_yuan"] and not vm.waive_penalty:
        choice += [ft.TextField(label=f"罚款金额（元，{p['fine_yuan']['min']}～{p['fine_yuan']['max']}）",
                                value=vm.fine_yuan, on_change=bind(vm, "fine_yuan"), width=360, text_size=18),
                   ft.TextField(label="确定罚款金额的理由（裁量理由）", value=vm.fine_reason, on_change=bind(vm, "fine_reason"),
                                multiline=True, text_size=17, width=WIDE)]
    if p["suspension_months"] and not vm.waive_penalty:
        s = p["suspension_months"]
        choice.append(ft.TextField(label=f"暂停期限（月，{s['min']}～{s['max']}）", value=vm.suspension_months,
                                   on_change=bind(vm, "suspension_months"), width=300, text_size=18))
    if "责令改正" in p["measures"]:
        choice.append(ft.TextField(label="整改期限（年-月-日）", value=vm.rectification_due,
                                   on_change=bind(vm, "rectification_due"), width=300, text_size=18))
    suggested = vm.proposal.get("person_points_suggested", [])
    if suggested:
        choice.append(ft.Text("医保支付资格记分（责任人员）：", size=16))
        behaviours = {b["id"]: b["text"] for b in vm.proposal["behaviours"]}
        choice += [ft.Checkbox(label=f"{s['staff_code']}：{behaviours.get(s['behaviour_id'], s['behaviour_id'])}"
                                     f"（{s['points']} 分）",
                               value=(s["staff_code"], s["behaviour_id"]) in vm.person_points,
                               on_change=toggle_in(vm.person_points, (s["staff_code"], s["behaviour_id"])))
                   for s in suggested]
        term = vm.proposal.get("person_suspension") or {}
        for code in sorted({s["staff_code"] for s in suggested}):
            choice.append(ft.TextField(
                label=f"{code} 暂停医保支付资格期限（月，{term.get('min')}～{term.get('max')}；年度记满{term.get('at')}分时适用）",
                value=vm.person_terms.get(code, ""), on_change=keep_term(code), width=WIDE,
                text_size=18))
    choice += [ft.TextField(label="拟处理意见的理由（认定的事实与依据）", value=vm.reason, on_change=bind(vm, "reason"),
                            multiline=True, min_lines=2, text_size=17, width=WIDE),
               banner("；".join(vm.problems), True)]
    submit = big_button("提交拟处理意见", busy(ctx, vm.submit, submitted, status=submitting, message="正在提交拟处理意见…",
                                             controls=fact_controls), icon=ft.Icons.SEND)
    fact_controls.append(submit)
    choice += [submit, submitting.control]
    institution = vm.case["institution"]
    return page_view(route, f"拟处理意见 · {institution['name']}", [facts, prescribed, card(choice)],
                     back_to=f"/review/case/{record_id}", ctx=ctx)


# ============================================================ ledgers and 回头看


def ledger_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: LedgerViewModel = screen_vm(ctx, "ledger_vm", lambda: LedgerViewModel(client))
    vm.load()
    controls: list[ft.Control] = [year_picker(ctx, vm), banner(vm.message, True)]
    tables = vm.tables
    overdue = vm.overdue_codes
    for t in tables:
        highlight = (lambda r: r[4] == "逾期") if t["name"] == "followups" else \
            (lambda r: r[0] in overdue) if t["name"] == "institutions" else (lambda _r: False)
        controls += [ft.Row([heading(t["title"]), export_button(ctx, [t], f"{t['title']}.xlsx")], wrap=True),
                     data_table(t, highlight) if t["rows"] else ft.Text("（无）", size=15)]
    if tables:
        controls.insert(1, ft.Row([export_button(ctx, tables, f"台账-{vm.year}.xlsx", "全部导出 Excel")]))
    return page_view("/review/ledger", "台账与回头看", controls, back_to=home_route(ctx), ctx=ctx,
                     actions=nav_actions(ctx))


def year_picker(ctx: UiContext, vm) -> ft.Control:
    def shift(delta: int):
        def handler(_e) -> None:
            vm.year += delta
            ctx.render()
        return handler
    return ft.Row([ft.IconButton(ft.Icons.CHEVRON_LEFT, on_click=shift(-1), tooltip="上一年"),
                   ft.Text(f"{vm.year} 年", size=20, weight=ft.FontWeight.BOLD),
                   ft.IconButton(ft.Icons.CHEVRON_RIGHT, on_click=shift(1), tooltip="下一年",
                                 disabled=vm.year >= date.today().year)])


def home_route(ctx: UiContext) -> str:
    return "/review" if client_role(ctx) == "reviewer" else "/supervisor"


# ============================================================ the year at a glance


def bar_chart(labels: list[str], series: list[list[float]], names: list[str], height: int = 280) -> ft.Control:
    """Grouped bars, one colour per series; the left axis in whole steps (counts and yuan, never 1.5 inspections)."""
    top = max([v for s in series for v in s] + [1])
    step = max(1, math.ceil(top / 5))
    chart = fch.BarChart(
        groups=[fch.BarChartGroup(x=i, rods=[
            fch.BarChartRod(from_y=0, to_y=s[i], width=max(6, 28 // len(series)), color=CHART_COLORS[n],
                            tooltip=f"{names[n]} {s[i]:g}") for n, s in enumerate(series)])
            for i in range(len(labels))],
        bottom_axis=fch.ChartAxis(labels=[fch.ChartAxisLabel(value=i, label=ft.Text(label, size=12))
                                          for i, label in enumerate(labels)], label_size=36),
        left_axis=fch.ChartAxis(label_size=64, label_spacing=step, show_max=False), max_y=step * math.ceil(top / step + 0.2),
        height=height, interactive=True)
    legend = ft.Row([ft.Row([ft.Container(width=14, height=14, bgcolor=CHART_COLORS[n]), ft.Text(name, size=14)],
                            tight=True) for n, name in enumerate(names)], spacing=16)
    return ft.Column([legend, chart])


def dashboard_view(ctx: UiContext) -> ft.View:
    client = staff_client(ctx)
    if client is None:
        return login_view(ctx)
    vm: DashboardViewModel = screen_vm(ctx, "dashboard_vm", lambda: DashboardViewModel(client))
    vm.load()
    controls: list[ft.Control] = [year_picker(ctx, vm)]
    if vm.data is None:
        return page_view("/dashboard", "年度概览", [*controls, banner(vm.message, True)], back_to=home_route(ctx),
                         ctx=ctx)
    tables = vm.data["tables"]
    controls.append(ft.Row([export_button(ctx, tables, f"年度概览-{vm.year}.xlsx", "全部导出 Excel")]))

    def section(name: str, chart: ft.Control) -> None:
        t = vm.table(name)
        controls.append(card([ft.Row([heading(t["title"]), export_button(ctx, [t], f"{t['title'][:20]}-{vm.year}.xlsx")],
                                     wrap=True), chart,
                              ft.ExpansionTile(title=ft.Text("查看数据表", size=15), controls=[data_table(t)])]))

    months, progress = vm.monthly("progress")
    section("progress", bar_chart(months, progress, ["计划", "完成"]))
    coverage = vm.table("coverage")
    total = coverage["rows"][-1]
    section("coverage", ft.Column([
        ft.Text(f"三年内已检查 {total[2]} / {total[1]} 家（{total[3]}%）", size=18),
        ft.ProgressBar(value=total[2] / total[1] if total[1] else 0, height=14),
        bar_chart([r[0] for r in coverage["rows"][:-1]], [[float(r[1]) for r in coverage["rows"][:-1]],
                                                          [float(r[2]) for r in coverage["rows"][:-1]]],
                  ["在册", "三年内已检查"])]))
    violations = vm.table("violations")
    rows = violations["rows"][:-1]
    section("violations", bar_chart([r[0] for r in rows], [[float(r[-1]) for r in rows]], ["发现问题数"])
            if rows else ft.Text("本年度尚无发现问题", size=16))
    deadlines = vm.table("deadlines")  # 行政处罚法第六十条: filed cases against their 90 days (and extensions)
    section("deadlines", ft.Column([
        ft.Text(f"{r[1]}（立案 {r[2]}）：决定期限 {r[3]}，" + (f"超期 {-r[4]} 天" if r[5] else f"剩余 {r[4]} 天"),
                size=16, color=ft.Colors.RED_800 if r[5] else None, weight=ft.FontWeight.BOLD if r[5] else None)
        for r in deadlines["rows"]] or [ft.Text("没有在办的立案案件", size=16)]))
    months, money = vm.monthly("money")
    section("money", bar_chart(months, money, ["追回（元）", "罚款（元）"]))
    grades = vm.table("grades")
    grade_colors = [ft.Colors.GREEN_600, ft.Colors.AMBER_600, ft.Colors.RED_600, ft.Colors.GREY_500]
    section("grades", ft.Row([
        fch.PieChart(sections=[fch.PieChartSection(value=n, title=f"{g} {n}", color=grade_colors[i % 4], radius=90,
                                                   title_style=ft.TextStyle(size=14, color=ft.Colors.WHITE))
                               for i, (g, n) in enumerate(grades["rows"]) if n], width=260, height=260,
                     center_space_radius=20),
        ft.Column([ft.Text(f"{g}：{n} 家", size=17) for g, n in grades["rows"]])]))
    return page_view("/dashboard", "年度概览", controls, back_to=home_route(ctx), ctx=ctx, actions=nav_actions(ctx))


ROUTES = [
    Route(r"^/review$", queue_view),
    Route(r"^/review/case/(?P<record_id>[A-Za-z0-9._:-]+)$", case_view, parent="/review"),
    Route(r"^/review/case/(?P<record_id>[A-Za-z0-9._:-]+)/decision$", decision_view,
          parent="/review/case/{record_id}"),
    Route(r"^/review/ledger$", ledger_view),
    Route(r"^/dashboard$", dashboard_view),
]
