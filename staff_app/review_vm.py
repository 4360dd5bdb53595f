"""View-models of the bureau's review screens (审核人员) and the year's overview (科室负责人): the queue, one case with
its evidence and actions, the decision within the regulation's ranges, the ledgers, 回头看 and the dashboard.

They talk to the bureau only through `StaffClient` (HTTP). What the regulation allows is the bureau's answer (the
proposal, the allowed actions); these classes only hold what the reviewer is typing and say, in Chinese, what the
bureau refused and why.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from PIL import Image

import checklists
from checklists.money import money_problem, parse_money, shown_money, yuan_in_capitals
from documents.signature import Signature, render_signature_png, unbound_text
from staff_app.procedure_vm import clock_text
from staff_app.staff_client import (
    BureauRefused,
    BureauUnreachable,
    StaffClient,
    refusal_text,
)
from ui_kit.labels import KIND_LABELS, RESULT_LABELS

STATUS_COLORS = {"已接收": "blue", "审核中": "indigo", "退回补正": "orange", "拟处理": "purple", "陈述申辩": "amber",
                 "已决定": "green", "已公开": "teal", "已撤销": "grey"}
ACTION_LABELS = {"start": "开始审核", "return": "退回补正", "close": "审核结案（未发现问题）", "propose": "提出拟处理意见",
                 "revise": "修改拟处理意见", "reopen": "撤回拟处理意见，重新审核", "notify": "告知拟处理意见",
                 "statement": "记录陈述申辩", "decide": "作出决定", "withdraw": "经复议撤销决定"}
REASON_ACTIONS = ("return", "close", "reopen", "withdraw")  # the bureau refuses them without a written reason
DECISION_SCREEN_ACTIONS = ("propose", "revise")
# 行政处罚法第三十三条's facts (`checklists.penalty.CIRCUMSTANCES`) as the reviewer ticks them
CIRCUMSTANCE_LABELS = {"minor": "违法行为轻微", "corrected_promptly": "及时改正", "no_harm": "没有造成危害后果",
                       "harm_minor": "危害后果轻微", "first_offence": "初次违法", "no_fault": "有证据足以证明没有主观过错"}
NO_PENALTY_LABELS = {"must": "应当不予行政处罚", "may": "可以不予行政处罚"}
BAND_FACTOR_KINDS = ("减轻", "从轻", "从重")  # the 裁量情节 ticked on the screen; 不予处罚 is ticked as circumstances
# 行政处罚法第六十四条: a party asks for a hearing within five days of the notice; the reviewer may set a later date.
STATEMENT_DAYS = 5
THUMBNAIL_PX = 240


def _call(action: Callable[[], Any]) -> tuple[Any, str]:
    """(answer, "") or (None, the bureau's refusal in Chinese)."""
    try:
        return action(), ""
    except (BureauRefused, BureauUnreachable) as exc:
        problems = exc.detail.get("problems") if isinstance(exc, BureauRefused) else None
        return None, "；".join(problems) if problems else refusal_text(exc)


def yuan_text(value: str | None) -> str:
    """``"12000.00"`` → ``¥12,000.00（壹万贰仟元整）``; empty for no amount."""
    if not value:
        return ""
    return f"{shown_money(value)}（{yuan_in_capitals(parse_money(value))}）"


# ============================================================ the queue


@dataclass
class QueueViewModel:
    client: StaffClient
    status: str | None = None
    kind: str | None = None
    region: str = ""
    min_score: str = ""
    max_score: str = ""
    critical_only: bool = False
    mismatch_only: bool = False
    items: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # the bureau's status flow, in order (its queue answer says)
    message: str = ""

    def params(self) -> dict[str, str] | None:
        """The filters as query parameters; None (with `message`) when one of them is not valid."""
        params: dict[str, str] = {}
        if self.status:
            params["status"] = self.status
        if self.kind:
            params["kind"] = self.kind
        region = self.region.strip()
        if region:
            if not (region.isdigit() and len(region) <= 6):
                self.message = "区划代码应为 1～6 位数字（如 3501 表示福州市，350102 表示鼓楼区）"
                return None
            params["region"] = region
        for name, label, text in (("min_score", "最低分", self.min_score), ("max_score", "最高分", self.max_score)):
            if text.strip():
                try:
                    Decimal(text.strip())
                except InvalidOperation:
                    self.message = f"{label}应为数字（如 80 或 85.5）"
                    return None
                params[name] = text.strip()
        if self.critical_only:
            params["critical"] = "true"
        if self.mismatch_only:
            params["mismatch"] = "true"
        return params

    def load(self) -> None:
        params = self.params()
        if params is None:
            self.items = []
            return
        answer, self.message = _call(lambda: self.client.review_queue(params))
        self.items = answer["items"] if answer else []
        self.statuses = answer["statuses"] if answer else self.statuses
        if answer and not self.items:
            self.message = "没有符合条件的检查记录"

    @staticmethod
    def summary(item: dict[str, Any]) -> str:
        score = item["score"] if item["score"] is not None else "—"
        clock = clock_text(item)
        return (f"{KIND_LABELS.get(item['kind'], item['kind'] or '')} · 区划 {item['region'] or '—'} · "
                f"检查日期 {item['inspected_on'] or '—'} · 发现问题 {item['findings']} 项 · 得分 {score}"
                + (f" · {clock}" if clock else ""))


# ============================================================ one case


@dataclass
class SectionAnswers:
    title: str
    rows: list[dict[str, Any]]  # {"item_id", "text", "result", "label", "note", "amount_yuan", "severity"}


def answers_by_section(record: dict[str, Any]) -> list[SectionAnswers]:
    """The record's answers in the order of its pinned template (item texts from the template); answers to items
    the template does not know (another version) are listed at the end under their ids."""
    answers = record.get("answers") or {}
    try:
        template = checklists.resolve_template(f"{record['template_id']}@{record['template_hash']}")
    except (checklists.InputError, KeyError):
        template = None
    out, shown = [], set()
    if template is not None:
        for section, items in template.items_by_section():
            rows = []
            for item in items:
                answer = answers.get(item.id)
                if answer is None:
                    continue
                shown.add(item.id)
                rows.append({"item_id": item.id, "text": item.text, "severity": item.severity,
                             "result": answer["result"], "label": RESULT_LABELS.get(answer["result"], answer["result"]),
                             "note": answer.get("note") or "", "amount_yuan": answer.get("amount_yuan")})
            if rows:
                out.append(SectionAnswers(section.title, rows))
    rest = [{"item_id": item_id, "text": item_id, "severity": "", "result": a["result"],
             "label": RESULT_LABELS.get(a["result"], a["result"]), "note": a.get("note") or "",
             "amount_yuan": a.get("amount_yuan")} for item_id, a in sorted(answers.items()) if item_id not in shown]
    if rest:
        out.append(SectionAnswers("模板中没有的检查项（模板版本不同）", rest))
    return out


def findings_lines(check: dict[str, Any]) -> list[tuple[bool, str]]:
    """The findings the bureau derived from the answers against those the tablet reported, as (ok, 中文) lines."""
    if check["problem"]:
        return [(False, check["problem"])]
    if not check["differences"]:
        return [(True, f"发现的问题 {len(check['findings'])} 项（局端按原始答案与模板重算，与平板所报一致）")]
    return [(False, f"平板所报问题与答案不符（{len(check['differences'])} 处）：以下以局端按原始答案与模板重算的 "
                    f"{len(check['findings'])} 项问题为准，拟处理意见也据此提出"),
            *[(False, f"· {difference}") for difference in check["differences"]]]


VERDICT_WORDS = {"confirmed": "属实", "excluded": "排除"}


def suspicion_lines(checks: list[dict[str, Any]]) -> list[tuple[bool, str]]:
    """The 疑点 the inspectors checked on site (`case_detail`'s ``suspicion_checks``), one line each as (confirmed,
    中文): rule, 结算ID, the hit's amount, the verdict with the amount confirmed, the note."""
    out = []
    for c in checks:
        verdict = VERDICT_WORDS.get(c["verdict"], c["verdict"])
        amount = f"，认定 {shown_money(c['amount_yuan'])}" if c["verdict"] == "confirmed" else ""
        hit_amount = shown_money(c["hit_amount_yuan"]) if c["hit_amount_yuan"] else "—"
        out.append((c["verdict"] == "confirmed", f"{c['rule_name']} · 结算ID {c['settlement_id'] or '—'} · 疑点金额 "
                    f"{hit_amount} · {verdict}{amount} · {c['note']}"))
    return out


def verification_lines(detail: dict[str, Any]) -> list[tuple[bool, str]]:
    """What the bureau checked, each as (ok, 中文): the record hash, every signature and its device key, the log
    receipt, the score recomputed from the raw answers."""
    verification = detail["verification"]
    lines = [(verification["record_hash_ok"], "记录内容与其哈希一致" if verification["record_hash_ok"]
              else "记录内容与其哈希不一致：记录可能被改动")]
    for s in verification["signatures"]:
        key = {"active": "设备有效", "revoked": "设备已吊销", "unknown": "未知设备"}.get(s["key_status"], s["key_status"])
        lines.append((s["valid"] and s["key_status"] != "unknown",
                      f"检查人员 {s['inspector']} 的签名{'有效' if s['valid'] else '无效'}（{key}，设备 {s['device_id'] or '—'}）"))
    lines += [(False, f"检查人员 {unbound_text(code)}（仅有手写签名）") for code in verification.get("unbound", [])]
    lines.append((detail["receipt_verified"], f"已记入局端日志第 {detail['log_index']} 条，回执经局端签名核验"
                  if detail["receipt_verified"] else "局端日志回执核验失败"))
    score = detail["score"]
    if score["mismatch"]:
        lines.append((False, f"得分不符：平板上报 {score['claimed'] or '—'}，局端按原始答案重算为 {score['computed'] or '—'}"))
    else:
        lines.append((True, f"得分 {score['computed'] or '—'}（局端按原始答案重算，与平板一致）"))
    lines += findings_lines(detail["findings_check"])
    for problem in detail.get("audit_problems") or []:
        lines.append((False, f"审计记录：{problem}"))
    return lines


@dataclass
class CaseViewModel:
    client: StaffClient
    record_id: str
    detail: dict[str, Any] | None = None
    message: str = ""
    ok_message: str = ""
    reason: str = ""
    deadline: str = ""
    served_on: str = ""  # the 告知书's service day: the bureau counts the deadlines from it (else `deadline`)
    statement_text: str = ""
    statement_waived: bool = False
    attachment_name: str = ""
    attachment: bytes = b""
    documents: list[dict[str, Any]] = field(default_factory=list)  # what the decision issued, the principal first
    _images: dict[str, bytes] = field(default_factory=dict)

    def load(self) -> None:
        answer, message = _call(lambda: self.client.review_case(self.record_id))
        if answer is not None:
            self.detail = answer
            self._load_documents()
        else:  # a refused action's words stay on the screen that reloads after it (the next action clears them)
            self.message = message
        if not self.deadline:
            self.deadline = (date.today() + timedelta(days=STATEMENT_DAYS)).isoformat()

    @property
    def record(self) -> dict[str, Any]:
        return self.detail["record"] if self.detail else {}

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings the bureau derived from the answers (what a proposal rests on), not the tablet's list."""
        return self.detail["findings_check"]["findings"] if self.detail else []

    @property
    def actions(self) -> list[str]:
        return self.detail["actions"] if self.detail else []

    @property
    def title(self) -> str:
        if not self.detail:
            return f"检查记录 {self.record_id}"
        return f"{self.detail['institution']['name'] or self.detail['institution']['code']} · {self.detail['status']}"

    def take(self, action: str) -> bool:
        """Take a simple action (everything but the proposal); True when the bureau accepted it."""
        self.ok_message = ""
        body: dict[str, Any] = {}
        if action in REASON_ACTIONS:
            if not self.reason.strip():
                self.message = f"{ACTION_LABELS[action]}须写明理由"
                return False
            body = {"reason": self.reason.strip()}
        elif action == "notify":
            field_name, label, text = ("served_on", "告知书送达日期", self.served_on) if self.served_on.strip() \
                else ("deadline", "陈述申辩期限", self.deadline)
            try:
                day = date.fromisoformat(text.strip())
            except ValueError:
                self.message = f"{label}应写作 2026-12-08 这样的日期"
                return False
            body = {field_name: day.isoformat()}
        elif action == "statement":
            body = {"text": self.statement_text, "waived": self.statement_waived}
            if self.attachment:
                body |= {"attachment_name": self.attachment_name,
                         "attachment_b64": base64.b64encode(self.attachment).decode()}
        answer, self.message = _call(lambda: self.client.review_action(self.record_id, action, body))
        if answer is None:
            return False
        self.detail, self.reason = answer, ""
        self.attachment, self.attachment_name = b"", ""
        self._load_documents()
        self.ok_message = f"已{ACTION_LABELS[action]}，当前状态：{answer['status']}"
        return True

    # --- evidence ---

    def image(self, sha256: str) -> bytes | None:
        """A photo of the record as the bureau holds it (fetched once per screen)."""
        if sha256 not in self._images:
            data, problem = _call(lambda: self.client.review_blob(sha256))
            if data is None:
                self.message = problem
                return None
            self._images[sha256] = data
        return self._images[sha256]

    def thumbnail(self, sha256: str) -> bytes | None:
        key = f"thumb:{sha256}"
        if key not in self._images:
            data = self.image(sha256)
            if data is None:
                return None
            with Image.open(io.BytesIO(data)) as picture:
                picture.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
                out = io.BytesIO()
                picture.convert("RGB").save(out, format="JPEG", quality=80)
            self._images[key] = out.getvalue()
        return self._images[key]

    @staticmethod
    def signature_png(entry: dict[str, Any]) -> bytes | None:
        """A signature of the record, drawn from its strokes (what the signer drew, nothing added)."""
        try:
            made = Signature.from_dict(entry)
        except ValueError:
            return None
        return render_signature_png(made.strokes, made.canvas_width, made.canvas_height)

    def decision_pdf(self) -> tuple[bytes | None, str]:
        return _call(lambda: self.client.decision_pdf(self.record_id))

    def _load_documents(self) -> None:
        decision = (self.detail or {}).get("decision") or {}
        issued = decision.get("outcome") == "handled" and decision.get("status") != "draft"
        answer = _call(lambda: self.client.case_documents(self.record_id))[0] if issued else None
        self.documents = answer["documents"] if answer else []

    def document_pdf(self, key: str) -> tuple[bytes | None, str]:
        return _call(lambda: self.client.case_document(self.record_id, key))

    @property
    def other_documents(self) -> list[tuple[str, str, str]]:
        """The documents besides the principal one (协议处理通知书, 移送书) as (key, button label, file name)."""
        titles = [d["title"] for d in self.documents]
        return [(d["key"], f"下载{d['title']}（PDF）" if titles.count(d["title"]) == 1
                 else f"下载{d['title']}（{d['number'] or d['key']}）", d["file_name"]) for d in self.documents[1:]]

    def pdf_name(self) -> str:
        decision = (self.detail or {}).get("decision") or {}
        return f"决定书-{decision.get('decision_no') or self.record_id}.pdf"

    def case_file(self) -> tuple[bytes | None, str]:
        return _call(lambda: self.client.case_file(self.record_id))

    def case_file_name(self) -> str:
        return f"案卷-{self.record_id}.zip"


# ============================================================ the decision


@dataclass
class DecisionViewModel:
    """The reviewer's choice within what the regulation prescribes for the findings."""

    client: StaffClient
    record_id: str
    refused_to_correct: bool = False
    serious_consequences: bool = False
    intent_items: set[str] = field(default_factory=set)
    circumstances: set[str] = field(default_factory=set)  # of CIRCUMSTANCE_LABELS
    waive_penalty: bool = False  # 不予行政处罚 taken: offered where no_penalty is "may" or the 时效 has run
    factors: set[str] = field(default_factory=set)  # 裁量情节 cited (ids of the bureau's 裁量基准)
    conduct_from: str = ""  # the conduct's period (YYYY-MM-DD); empty: the inspection day
    conduct_to: str = ""
    limitation_extended: bool = False  # 涉及生命健康安全、金融安全且有危害后果: 行政处罚法第三十六条's five years
    major_loss: bool = False  # 造成基金重大损失或严重不良社会影响: 条例第四十三条
    optional_measures: set[str] = field(default_factory=set)
    fine_yuan: str = ""
    fine_reason: str = ""
    suspension_months: str = ""
    rectification_due: str = ""
    person_points: set[tuple[str, str]] = field(default_factory=set)  # (staff code, behaviour id)
    person_terms: dict[str, str] = field(default_factory=dict)  # staff code → 暂停 months as typed (empty: not fixed)
    reason: str = ""
    case: dict[str, Any] | None = None
    proposal: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    message: str = ""

    def load(self) -> None:
        """The case, and the draft already on file (a revision starts from it)."""
        self.case, message = _call(lambda: self.client.review_case(self.record_id))
        if self.case is None:
            self.message = message
            return
        draft = self.case.get("decision")
        if draft and draft["status"] == "draft":
            flags = draft["case_flags"]
            self.refused_to_correct, self.serious_consequences = flags["refused_to_correct"], \
                flags["serious_consequences"]
            self.intent_items = set(flags["intent_items"])
            self.circumstances = set(flags.get("circumstances") or ())  # drafts made before they were recorded
            self.waive_penalty = flags.get("waive_penalty") is True
            self.factors = set(flags.get("factors") or ())  # drafts made before factors were recorded have none
            self.conduct_from, self.conduct_to = flags.get("conduct_from") or "", flags.get("conduct_to") or ""
            self.limitation_extended = flags.get("limitation_extended") is True
            self.major_loss = flags.get("major_loss") is True  # drafts made before it was recorded have none
            self.optional_measures = {m for m in draft["measures"] if m in draft["proposal"]["optional_measures"]}
            self.fine_yuan, self.fine_reason = draft["fine_yuan"] or "", draft["fine_reason"]
            self.suspension_months = str(draft["suspension_months"] or "")
            self.rectification_due = draft["rectification_due"] or ""
            self.person_points = {(p["staff_code"], p["behaviour_id"]) for p in draft["person_points"]}
            self.person_terms = {p["staff_code"]: str(p["suspension_months"]) for p in draft["person_points"]
                                 if p.get("suspension_months")}
        self.refresh()
        if draft is None or draft["status"] != "draft":
            self.person_points = {(p["staff_code"], p["behaviour_id"])
                                  for p in (self.proposal or {}).get("person_points_suggested", [])}

    def refresh(self) -> None:
        """The proposal for the case facts as they are now ticked (they change the articles and the ranges)."""
        params: dict[str, Any] = {"refused_to_correct": str(self.refused_to_correct).lower(),
                                  "serious_consequences": str(self.serious_consequences).lower(),
                                  "intent": sorted(self.intent_items), "circumstance": sorted(self.circumstances),
                                  "factor": sorted(self.factors),
                                  "limitation_extended": str(self.limitation_extended).lower(),
                                  "major_loss": str(self.major_loss).lower()}
        period, problem = self._period()
        if problem:
            self.message = problem
            return
        params |= period
        proposal, self.message = _call(lambda: self.client.proposal(self.record_id, params))
        if proposal is not None:
            self.proposal = proposal
            penalty = proposal["penalty"]
            self.optional_measures &= set(penalty["optional_measures"])
            self.waive_penalty = self.waive_penalty and (penalty["no_penalty"] == "may" or self.time_barred)
            if "责令改正" in penalty["measures"] and not self.rectification_due:
                self.rectification_due = (date.today() + timedelta(days=30)).isoformat()

    @property
    def findings(self) -> list[dict[str, Any]]:
        """The findings the proposal rests on: the bureau's, derived from the answers."""
        if self.proposal is not None:
            return self.proposal["findings"]
        return (self.case or {}).get("findings_check", {}).get("findings", [])

    @property
    def penalty(self) -> dict[str, Any]:
        return (self.proposal or {}).get("penalty", {})

    @property
    def time_barred(self) -> bool:
        """行政处罚法第三十六条: the conduct was discovered after the 时效 had run."""
        return bool(((self.proposal or {}).get("limitation") or {}).get("expired"))

    @property
    def band_factors(self) -> list[dict[str, Any]]:
        """The 裁量基准's 从轻, 减轻 and 从重 factors, the screen's checkboxes."""
        factors = ((self.proposal or {}).get("discretion") or {}).get("factors", [])
        return [f for kind in BAND_FACTOR_KINDS for f in factors if f["kind"] == kind]

    def _period(self) -> tuple[dict[str, str], str]:
        """The conduct's dates as typed (only those given), or the problem with them."""
        out = {}
        for name, label in (("conduct_from", "违法行为起始日期"), ("conduct_to", "违法行为终了日期")):
            text = getattr(self, name).strip()
            if text:
                try:
                    out[name] = date.fromisoformat(text).isoformat()
                except ValueError:
                    return {}, f"{label}应写作 2025-06-30 这样的日期"
        return out, ""

    def choice(self) -> dict[str, Any] | None:
        """The request body; None (with `problems`) when the form itself cannot be sent."""
        self.problems = []
        terms: dict[str, dict[str, int]] = {}  # each person's 暂停 term, as the request gives it with their points
        for code in sorted({code for code, _ in self.person_points}):
            typed = self.person_terms.get(code, "").strip()
            if typed.isdigit():
                terms[code] = {"suspension_months": int(typed)}
            elif typed:
                self.problems.append(f"{code} 的暂停医保支付资格期限应为整数（月）")
        body: dict[str, Any] = {
            "refused_to_correct": self.refused_to_correct, "serious_consequences": self.serious_consequences,
            "intent_items": sorted(self.intent_items), "circumstances": sorted(self.circumstances),
            "waive_penalty": self.waive_penalty, "factors": sorted(self.factors),
            "limitation_extended": self.limitation_extended, "major_loss": self.major_loss,
            "optional_measures": sorted(self.optional_measures),
            "fine_yuan": self.fine_yuan.strip() or None, "fine_reason": self.fine_reason.strip(),
            "suspension_months": None, "rectification_due": None, "reason": self.reason.strip(),
            "person_points": [{"staff_code": code, "behaviour_id": behaviour, **terms.get(code, {})}
                              for code, behaviour in sorted(self.person_points)],
        }
        if self.waive_penalty:  # what was typed into the fine and suspension fields no longer applies
            body["fine_yuan"], body["fine_reason"] = None, ""
        period, bad_date = self._period()
        body |= {"conduct_from": None, "conduct_to": None} | period
        if bad_date:
            self.problems.append(bad_date)
        if body["fine_yuan"] and (problem := money_problem(body["fine_yuan"])):
            self.problems.append(f"罚款：{problem}")
        months = "" if self.waive_penalty else self.suspension_months.strip()
        if months:
            if months.isdigit():
                body["suspension_months"] = int(months)
            else:
                self.problems.append("暂停期限应为整数（月）")
        if self.rectification_due.strip():
            try:
                body["rectification_due"] = date.fromisoformat(self.rectification_due.strip()).isoformat()
            except ValueError:
                self.problems.append("整改期限应写作 2027-01-15 这样的日期")
        if not body["reason"]:
            self.problems.append("请写明拟处理意见的理由（认定的事实与依据）")
        return None if self.problems else body

    def submit(self) -> bool:
        body = self.choice()
        if body is None:
            return False
        answer, message = _call(lambda: self.client.review_action(self.record_id, "proposal", body))
        if answer is None:
            self.problems = message.split("；")
            return False
        self.case = answer
        return True

    def range_text(self) -> list[str]:
        """The regulation's answer in words: articles, measures, amounts with capitals, ranges."""
        p = self.penalty
        if not p:
            return []
        imposed_by = {d["measure"]: d["imposed_by"] for d in p["measures_detail"]}
        term = {d["measure"]: f"{d['term_years']} 年内，" for d in p["measures_detail"] if d.get("term_years")}

        def measures(names: list[str]) -> str:
            return "、".join(f"{m}（{term.get(m, '')}由{imposed_by[m]}作出）" if m in imposed_by else m
                             for m in names) or "无"

        lines = [f"适用条款：《医疗保障基金使用监督管理条例》第 {'、'.join(str(a) for a in p['articles'])} 条"]
        if p["no_penalty"]:
            lines.append(f"{NO_PENALTY_LABELS[p['no_penalty']]}：{p['no_penalty_basis']}")
        lines.append(f"应当采取的措施：{measures(p['measures'])}")
        if p["optional_measures"]:
            lines.append(f"可以采取的措施：{measures(p['optional_measures'])}")
        if p["recover_yuan"] and parse_money(p["recover_yuan"]) > 0:
            lines.append(f"责令退回：{yuan_text(p['recover_yuan'])}")
        if p["fine_yuan"]:
            lines.append(f"罚款幅度：{yuan_text(p['fine_yuan']['min'])} 至 {yuan_text(p['fine_yuan']['max'])}")
        if p.get("band"):
            band = p["band"]
            cited = "、".join(f"{f['kind']}：{f['label']}" for f in band["factors"]) or "未引用从轻、减轻或从重情节，取幅度中段"
            lines.append(f"裁量幅度：{yuan_text(band['low_yuan'])} 至 {yuan_text(band['high_yuan'])}"
                         f"（{cited}；{band['benchmark']['name']}）")
        limitation = (self.proposal or {}).get("limitation")
        if limitation and limitation["expired"]:
            lines.append(f"已过行政处罚时效：{limitation['message']}；不能作出罚款、暂停，请选择不予行政处罚")
        elif limitation:
            lines.append(f"行政处罚时效：违法行为终了于 {limitation['conduct_end']}，{limitation['years']} 年内发现"
                         f"（至 {limitation['last_day']}），未过时效（行政处罚法第三十六条）")
        if p["suspension_months"]:
            lines.append(f"暂停期限：{p['suspension_months']['min']}～{p['suspension_months']['max']} 个月")
        if p["terminate_agreement"]:
            lines.append("解除服务协议（欺诈骗保经查实，国家医保局令第2号第四十三条）")
        total = (self.proposal or {}).get("institution_points_total", 0)
        lines.append(f"机构协议记分：{total} 分")
        if p["hearing_right"]:
            lines.append("听证权利：告知拟处理意见时，应告知当事人有要求听证的权利（行政处罚法第六十三条）")
        lines += [f"移送{r['to']}：{r['reason']}（{r['basis']}）" for r in p["referrals"]]
        return lines


# ============================================================ ledgers, 回头看, the dashboard


def table(name: str, title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """The one table shape the screens draw and export (the bureau's dashboard answers in it too)."""
    return {"name": name, "title": title, "columns": columns, "rows": rows}


def ledger_tables(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    year = ledger["year"]
    institutions = table("institutions", f"{year} 年度机构协议记分与考核等次",
                         ["机构编码", "机构名称", "记分", "等次", "达到的处理", "追回（元）", "罚款（元）", "连续不合格解除"],
                         [[r["institution_code"], r["name"], r["points"], r["grade"], "、".join(r["actions"]) or "—",
                           r["recovered_yuan"], r["fined_yuan"], "是" if r["terminate"] else "否"]
                          for r in ledger["institutions"]])
    people = table("people", f"{year} 年度医保支付资格记分（状态截至 {ledger['as_of']}，含以前年度尚未届满的暂停、终止）",
                   ["人员代码", "本年度记分", "处理", "暂停（月）", "不得再登记（年）", "说明"],
                   [[r["staff_code"], r["points"], r["action"] or "—",
                     "～".join(str(m) for m in r["suspension_months"]) if r["suspension_months"] else "—",
                     r["bar_years"] or "—", r["text"] or "—"] for r in ledger["people"]])
    entries = table("entries", f"{year} 年度台账明细（由决定生成；复议撤销以冲减记录列示）",
                    ["日期", "台账", "对象", "数额", "决定书文号", "检查记录", "冲减", "说明"],
                    [[e["on"], e["label"], e["subject"], e["amount"], e["decision_no"], e["record_id"],
                      "是" if e["reversal"] else "", e["note"]] for e in ledger["entries"]])
    return [institutions, people, entries]


def followup_table(followups: dict[str, Any]) -> dict[str, Any]:
    return table("followups", f"回头看（截至 {followups['as_of']}：未销号 {followups['open']}，逾期 {followups['overdue']}）",
                 ["机构编码", "机构名称", "责令改正日期", "整改期限", "状态", "逾期（天）", "说明"],
                 [[i["institution_code"], i["institution_name"], i["ordered_at"], i["due_date"] or "—",
                   "逾期" if i["overdue"] else ("待回头看" if i["open"] else "已销号"), i["days_overdue"] or "",
                   i["note"]] for i in followups["items"]])


@dataclass
class LedgerViewModel:
    client: StaffClient
    year: int = field(default_factory=lambda: date.today().year)
    ledger: dict[str, Any] | None = None
    followups: dict[str, Any] | None = None
    message: str = ""

    def load(self) -> None:
        self.ledger, message = _call(lambda: self.client.ledger(self.year))
        self.followups, message2 = _call(self.client.followups)
        self.message = message or message2

    @property
    def tables(self) -> list[dict[str, Any]]:
        out = ledger_tables(self.ledger) if self.ledger else []
        return out + ([followup_table(self.followups)] if self.followups else [])

    @property
    def overdue_codes(self) -> set[str]:
        return {i["institution_code"] for i in (self.followups or {}).get("items", []) if i["overdue"]}


@dataclass
class DashboardViewModel:
    client: StaffClient
    year: int = field(default_factory=lambda: date.today().year)
    data: dict[str, Any] | None = None
    message: str = ""

    def load(self) -> None:
        self.data, self.message = _call(lambda: self.client.dashboard(self.year))

    def table(self, name: str) -> dict[str, Any]:
        assert self.data is not None  # called only after a successful load()
        return next(t for t in self.data["tables"] if t["name"] == name)

    def monthly(self, name: str) -> tuple[list[str], list[list[float]]]:
        """A per-month table as chart series: month labels (1月…12月) and one list of values per column."""
        rows = [r for r in self.table(name)["rows"] if r[0] != "合计"]
        labels = [f"{int(r[0][5:])}月" for r in rows]
        series = [[float(Decimal(str(r[c]))) for r in rows] for c in range(1, len(self.table(name)["columns"]))]
        return labels, series
