"""View-model of the penalty procedure on the case screen (立案 → 法制审核/集体讨论 → 告知 → 听证 → 决定 → 送达 →
执行 → 结案 → 归档): the inputs of each step as the reviewer types them, checked for form (dates, numbers) before
the bureau judges them against the law, and the lines that show where the case stands and how many days are left.
The steps offered are the bureau's answer (`procedure.steps` of the case)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from checklists.money import money_problem, shown_money
from checklists.times import clock_time
from documents.pdf import cn_date
from staff_app.staff_client import BureauRefused, BureauUnreachable, StaffClient, refusal_text

STEP_LABELS = {
    "request_filing": "提请立案", "approve_filing": "批准立案", "mark_major": "认定情节复杂或重大",
    "legal_review": "记录法制审核", "collective": "记录集体讨论", "extend": "批准延长办案期限",
    "renotify": "重新告知", "request_hearing": "记录听证申请", "hearing_notice": "发出听证通知",
    "hearing_record": "记录听证笔录", "agreement_notice": "协议处理告知", "agreement_statement": "记录协议处理申辩",
    "serve": "记录送达", "payment": "记录缴款", "enforce": "申请强制执行", "close_case": "结案", "archive": "归档",
    "interim_suspension": "暂停医疗保障基金结算", "lift_interim_suspension": "解除暂停结算"}

# Each step's inputs: (field, label, kind) with kind text | multiline | date | time | int | bool | list | money | choice
STEP_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "request_filing": [("reason", "立案理由", "multiline")],
    "approve_filing": [("opinion", "审批意见", "text")],
    "mark_major": [("reason", "认定理由", "text")],
    "legal_review": [("opinion", "法制审核意见", "multiline"), ("passed", "审核通过", "bool")],
    "collective": [("participants", "参加讨论的负责人（用“、”分隔）", "list"), ("opinion", "讨论结论", "multiline")],
    "extend": [("days", "延长天数", "int"), ("reason", "延长理由", "text"), ("discussed", "经集体讨论决定", "bool")],
    "renotify": [("served_on", "新告知书送达日期", "date"), ("reason", "重新告知的理由", "text")],
    "request_hearing": [("requested_on", "当事人申请听证日期", "date")],
    "hearing_notice": [("notified_on", "听证通知日期", "date"), ("held_on", "听证日期", "date"),
                       ("held_at", "听证开始时间", "time"), ("place", "听证地点", "text"), ("officer", "听证主持人（工作人员账号）", "text")],
    "hearing_record": [("attendees", "出席人员", "text"), ("text", "听证经过", "multiline"),
                       ("party_signed", "当事人已核对签字", "bool")],
    "agreement_notice": [("served_on", "协议处理告知送达日期", "date")],
    "agreement_statement": [("text", "定点医药机构的申辩", "multiline"), ("waived", "放弃申辩", "bool")],
    "interim_suspension": [("facts", "拒不配合调查的事实", "multiline"), ("approver", "批准的主要负责人", "text"),
                           ("approved_on", "主要负责人批准日期", "date")],
    "lift_interim_suspension": [("text", "解除暂停结算的理由", "text")],
    "serve": [("served_on", "送达日期", "date"), ("method", "送达方式", "choice"), ("receiver", "受送达人（签收人）", "text")],
    "payment": [("kind", "缴款类别", "choice"), ("amount_yuan", "金额（元）", "money"), ("paid_on", "缴款日期", "date"),
                ("reference", "缴款凭证号", "text")],
    "enforce": [("court", "受理法院", "text")],
    "close_case": [],
    "archive": [],
}
# The bureau's lists (checklists/rules/procedure.toml: service.methods, payment.payees), which tests hold these to.
CHOICES = {"method": ["直接送达", "留置送达", "委托送达", "邮寄送达", "电子送达", "公告送达"],
           "kind": ["退回", "罚款", "加处罚款"]}
PDF_DOCUMENTS = {"notice": "行政处罚事先告知书", "hearing-notice": "听证通知书", "hearing-record": "听证笔录",
                 "interim-suspension": "暂停医疗保障基金结算通知书",
                 "interim-suspension-lifted": "解除暂停医疗保障基金结算通知书"}


def step_body(step: str, values: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The request body of `step` from what was typed; (None, the problem in Chinese) when a field is malformed."""
    body: dict[str, Any] = {}
    for name, label, kind in STEP_FIELDS[step]:
        value = values.get(name)
        if kind == "bool":
            body[name] = bool(value)
            continue
        if kind == "choice" and not value:
            value = CHOICES[name][0]  # what the dropdown shows before a pick
        text = str(value or "").strip()
        if kind == "date":
            try:
                body[name] = date.fromisoformat(text).isoformat() if text else None
            except ValueError:
                return None, f"{label}应写作 2026-12-08 这样的日期"
        elif kind == "time":
            if (shown := clock_time(text)) is None:
                return None, f"{label}应写作 09:30 这样的时:分（24 小时制）"
            body[name] = shown
        elif kind == "int":
            if not text.isdigit():
                return None, f"{label}应为正整数"
            body[name] = int(text)
        elif kind == "money":
            if (problem := money_problem(text)) is not None:
                return None, f"{label}：{problem}"
            body[name] = text
        elif kind == "list":
            body[name] = [p.strip() for p in text.replace(",", "、").replace("，", "、").split("、") if p.strip()]
        else:
            body[name] = text
    return body, ""


def _days(clock: dict[str, Any]) -> str:
    if clock.get("days_left") is None:
        return ""
    left = clock["days_left"]
    return f"超期 {-left} 天" if clock.get("overdue") else f"剩余 {left} 天"


def clock_text(item: dict[str, Any]) -> str:
    """The queue's words for a case's 90-day clock: 立案日期, 决定期限 and days left or 超期."""
    if not item.get("filed_on"):
        return ""
    left = _days(item)
    return f"立案 {item['filed_on']} · 决定期限 {item['decision_due']}" + (f" · {left}" if left else "") \
        + (" · 暂停结算中" if item.get("settlement_suspended") else "")


def suspension_line(held: dict[str, Any]) -> tuple[bool, str]:
    """An interim suspension (条例 第三十条) as the case screen shows it: flagged while in force; its lifting, and its
    outcome once the case is decided."""
    text = (f"调查期间暂停结算（条例第三十条）自{cn_date(held['on'])}（主要负责人 {held['approver']} "
            f"{held['approved_on']} 批准）：{held['facts']}")
    if lifted := held.get("lifted"):
        text += f"；{lifted['on']} 已解除：{lifted['reason']}"
    if held.get("outcome"):
        text += f"；{held['outcome']}"
    return bool(held.get("in_force")), text


def procedure_lines(procedure: dict[str, Any]) -> list[tuple[bool, str]]:
    """Where the procedure stands, line by line: (is it a warning, the text)."""
    record = procedure["record"]
    lines: list[tuple[bool, str]] = []
    if procedure.get("stage"):
        lines.append((False, f"程序环节：{procedure['stage']}"))
    if record.get("filing_requested_by") and not record.get("filed_on"):
        lines.append((False, f"已提请立案（{record['filing_requested_by']}，{record['filing_requested_on']}），待批准"))
    if record.get("filed_on"):
        lines.append((bool(procedure.get("overdue")), f"立案 {record['filed_on']}（批准人 {record['filing_approved_by']}）"
                                                      f" · 决定期限 {procedure['decision_due']}"
                      + (f" · {_days(procedure)}" if _days(procedure) else "")))
    for extension in record.get("extensions", []):
        lines.append((False, f"延长 {extension['days']} 日（{extension['approver']} 批准，{extension['on']}）：{extension['reason']}"))
    if record.get("major"):
        lines.append((False, f"情节复杂或重大：{record['major_reason']}"))
    if review := record.get("legal_review"):
        lines.append((not review["passed"], f"法制审核（{review['by']}，{review['on']}）：{'通过' if review['passed'] else '未通过'}"
                                            f"，{review['opinion']}"))
    if discussed := record.get("collective"):
        lines.append((False, f"集体讨论（{discussed['on']}，{'、'.join(discussed['participants'])}）：{discussed['opinion']}"))
    lines += [suspension_line(held) for held in procedure.get("interim_suspensions", [])]
    if told := record.get("notice"):
        hearing = f"，听证申请期限 {told['hearing_deadline']}" if told["hearing_right"] else "，无听证权利"
        lines.append((False, f"告知书（第 {told['count']} 次）送达 {told['served_on']}，陈述申辩期限 "
                             f"{told['statement_deadline']}{hearing}"))
    hearing_record = record.get("hearing") or {}
    if hearing_record:
        text = f"当事人于 {hearing_record['requested_on']} 申请听证"
        if hearing_record.get("held_on"):
            at = f" {hearing_record['held_at']}" if hearing_record.get("held_at") else ""
            text += f"；{hearing_record['held_on']}{at} 在{hearing_record['place']}举行，主持人 {hearing_record['officer_name']}"
        if hearing_record.get("record"):
            text += "；听证笔录已记录"
        lines.append((False, text))
    if agreement := record.get("agreement"):
        said = agreement.get("statement")
        lines.append((False, f"协议处理告知（{'、'.join(agreement['measures'])}）送达 {agreement['served_on']}，申辩期限 "
                             f"{agreement['deadline']}" + (f"；{'已放弃申辩' if said['waived'] else '已申辩'}" if said else "")))
    for problem in procedure.get("notice_blockers", []):
        lines.append((True, f"告知前：{problem}"))
    for problem in procedure.get("decide_blockers", []):
        lines.append((True, f"作出决定前：{problem}"))
    if service := record.get("service"):
        lines.append((False, f"决定书于 {service['served_on']} {service['method']}，签收人 {service['receiver']}"
                             f"；缴款期限 {procedure.get('payment_due')}"))
    for due in procedure.get("dues", []):
        lines.append((due["outstanding_yuan"] != "0.00",
                      f"{due['kind']}（缴入{due['payee']}）：应缴 {shown_money(due['owed_yuan'])}，已缴 "
                      f"{shown_money(due['paid_yuan'])}，未缴 {shown_money(due['outstanding_yuan'])}"))
    if enforcement := record.get("enforcement"):
        lines.append((False, f"{enforcement['applied_on']} 已申请{enforcement['court']}强制执行"))
    if record.get("closed_on"):
        lines.append((False, f"{record['closed_on']} 结案" + (f"，{record['archived_on']} 归档" if record.get("archived_on") else "")))
    return lines


def available_documents(procedure: dict[str, Any]) -> list[str]:
    record = procedure["record"]
    hearing = record.get("hearing") or {}
    return [key for key, present in (("notice", bool(record.get("notice"))), ("hearing-notice", bool(hearing.get("held_on"))),
                                     ("hearing-record", bool(hearing.get("record"))),
                                     ("interim-suspension", bool(record.get("interim_suspensions"))),
                                     ("interim-suspension-lifted",
                                      any(s.get("lifted") for s in record.get("interim_suspensions", [])))) if present]


@dataclass
class ProcedureForm:
    """What the reviewer types into the procedure's forms, and the step taken with it."""

    client: StaffClient
    record_id: str
    values: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    ok_message: str = ""

    def setter(self, name: str) -> Callable[[Any], None]:
        def set_value(value: Any) -> None:
            self.values[name] = value
        return set_value

    def take(self, step: str) -> dict[str, Any] | None:
        """The case after the step, or None (with `message`)."""
        self.ok_message = ""
        body, self.message = step_body(step, self.values)
        if body is None:
            return None
        try:
            answer = self.client.procedure_step(self.record_id, step, body)
        except (BureauRefused, BureauUnreachable) as exc:
            self.message = refusal_text(exc)
            return None
        for name, _label, _kind in STEP_FIELDS[step]:
            self.values.pop(name, None)
        self.ok_message = f"已{STEP_LABELS[step]}"
        return answer

    def document(self, key: str) -> tuple[bytes | None, str]:
        try:
            return self.client.procedure_pdf(self.record_id, key), ""
        except (BureauRefused, BureauUnreachable) as exc:
            return None, refusal_text(exc)
