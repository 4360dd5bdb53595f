"""The administrative-penalty procedure (行政处罚法, 医疗保障行政处罚程序暂行规定) as pure rules over a case's
procedure record, plus the agreement track's own notice and 申辩.

The review status (`bureau.review.STATUSES`) stays what it was; the procedure is a second record on the case
(`ReviewCase.procedure`, plain JSON) that the steps below fill in::

    立案（提请 → 另一人批准） → 调查取证 → 法制审核（第五十八条） → 集体讨论（第五十七条，重大/复杂）
      → 告知书（陈述申辩与听证的期限） → 听证（五日内申请；七日前通知；非调查人员主持；听证笔录）
      → 决定（不因申辩加重；加重须重新告知） → 送达（方式、日期） → 执行（按收款方记录缴款；加处罚款） → 结案 → 归档

Beside them, during the investigation: 调查期间暂停医疗保障基金结算 (条例 第三十条), its lifting, and its outcome
once decided.

Each step is a function `(procedure, context, inputs) → new procedure`, raising ReviewError with the article when the
law does not allow it; `decide_problems` is what the decision must satisfy. The limits (days, payees, the surcharge
rate) are data in checklists/rules/procedure.toml, each with its basis.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from bureau.problems import ReviewError
from checklists.money import format_money, parse_money
from checklists.onsite_record import working_days_after
from checklists.penalty import penalty_rules
from checklists.times import clock_time

RULES_PATH = Path(__file__).resolve().parent.parent / "checklists" / "rules" / "procedure.toml"
ZERO = Decimal("0.00")

# The review statuses the steps look at (the names are bureau.review's, which imports this module).
REVIEWING, PROPOSED, HEARING, DECIDED, PUBLISHED, WITHDRAWN = "审核中", "拟处理", "陈述申辩", "已决定", "已公开", "已撤销"
BEFORE_DECISION = ("已接收", REVIEWING, "退回补正", PROPOSED, HEARING)
AFTER_DECISION = (DECIDED, PUBLISHED)
# 立案 comes before 告知 for a penalty; 陈述申辩 is listed so that a case notified before 立案 was required (stored by
# an earlier version) can still be filed and decided.
FILING_STATUSES = (REVIEWING, PROPOSED, HEARING)

STEPS: dict[str, str] = {
    "request_filing": "提请立案",
    "approve_filing": "批准立案",
    "mark_major": "认定为情节复杂或重大",
    "legal_review": "法制审核",
    "collective": "集体讨论",
    "extend": "延长办案期限",
    "renotify": "重新告知（另行制作告知书）",
    "request_hearing": "当事人申请听证",
    "hearing_notice": "听证通知",
    "hearing_record": "听证笔录",
    "agreement_notice": "协议处理告知",
    "agreement_statement": "记录协议处理申辩",
    "interim_suspension": "调查期间暂停医疗保障基金结算",
    "lift_interim_suspension": "解除暂停医疗保障基金结算",
    "serve": "送达决定书",
    "payment": "记录缴款",
    "enforce": "申请强制执行",
    "close_case": "结案",
    "archive": "归档",
}


@dataclass(frozen=True)
class Rules:
    decision_days: int
    extension_first_max_days: int
    statement_days: int
    hearing_request_days: int
    hearing_notice_days: int
    collective_min: int
    service_methods: tuple[str, ...]
    service_days: int
    payment_days: int
    payees: dict[str, str]  # 退回 / 罚款 / 加处罚款 → the account it goes to
    surcharge_percent: Decimal
    agreement_statement_days: int
    basis: dict[str, str] = field(default_factory=dict)  # section → its legal basis
    working_days: frozenset[str] = frozenset()  # sections whose days are working days (行政处罚法 第八十五条)
    suspension_articles: tuple[int, ...] = ()  # 条例 Art. 30: the articles that make a case 涉嫌骗取
    suspension_parties: tuple[str, ...] = ()
    suspension_outcomes: dict[str, str] = field(default_factory=dict)  # fraud / cleared / withdrawn → its wording

    def after(self, section: str, start: date, days: int) -> date:
        """The last day of a limit of `days` counted from `start` in `section`'s days."""
        return working_days_after(start, days) if section in self.working_days else start + timedelta(days=days)

    def unit(self, section: str) -> str:
        """How the documents word the section's days: "个工作日" or "日"."""
        return "个工作日" if section in self.working_days else "日"


def _int(doc: Mapping[str, Any], section: str, key: str, problems: list[str]) -> int:
    value = doc.get(section, {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{section}.{key}：应为非负整数")
        return 0
    return value


def parse_rules(text: str, source: str = "procedure.toml") -> Rules:
    """The procedure's limits from TOML; ValueError naming the file and every bad field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}：{exc}") from None
    problems: list[str] = []
    ints = {key: _int(doc, section, name, problems) for key, section, name in (
        ("decision", "decision_limit", "days"), ("first", "extension", "first_max_days"),
        ("statement", "statement", "days"), ("request", "hearing", "request_days"),
        ("notice", "hearing", "notice_days"), ("collective", "collective", "min_participants"),
        ("service", "service", "days"), ("payment", "payment", "days"),
        ("agreement", "agreement", "statement_days"))}
    methods = doc.get("service", {}).get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) and m for m in methods):
        problems.append("service.methods：应为送达方式的列表")
        methods = []
    payees = doc.get("payment", {}).get("payees")
    if not isinstance(payees, dict) or set(payees) != {"退回", "罚款", "加处罚款"}:
        problems.append("payment.payees：应列出 退回、罚款、加处罚款 各自的收款账户")
        payees = {}
    try:
        percent = Decimal(str(doc.get("surcharge", {}).get("percent_per_day")))
        if not percent.is_finite() or percent <= 0:
            raise ValueError
    except (ArithmeticError, ValueError):
        problems.append("surcharge.percent_per_day：应为正数（字符串，如 \"3\"）")
        percent = Decimal(0)
    basis = {name: str(section.get("basis", "")) for name, section in doc.items() if isinstance(section, dict)}
    for name in ("filing", "decision_limit", "extension", "statement", "legal_review", "collective", "no_heavier", "service",
                 "payment", "surcharge", "agreement", "interim_suspension"):
        if not basis.get(name):
            problems.append(f"{name}.basis：须写明法律依据")
    for key in ("request_basis", "notice_basis", "officer_basis", "record_basis"):
        text_value = doc.get("hearing", {}).get(key)
        if not isinstance(text_value, str) or not text_value:
            problems.append(f"hearing.{key}：须写明法律依据")
        else:
            basis[f"hearing.{key}"] = text_value
    basis["payment.payee_basis"] = str(doc.get("payment", {}).get("payee_basis", ""))
    working: set[str] = set()
    for name, section in doc.items():
        if isinstance(section, dict) and "working_days" in section:
            if not isinstance(section["working_days"], bool):
                problems.append(f"{name}.working_days：应为 true 或 false")
            elif section["working_days"]:
                working.add(name)
    suspension = doc.get("interim_suspension", {})
    articles = suspension.get("articles")
    if not isinstance(articles, list) or not articles or not all(type(a) is int for a in articles):
        problems.append("interim_suspension.articles：应为条例条款号的列表，如 [40]")
        articles = []
    parties = suspension.get("parties")
    if not isinstance(parties, list) or not parties or not all(isinstance(p, str) and p for p in parties):
        problems.append("interim_suspension.parties：应为当事人类别的列表，如 [\"institution\"]")
        parties = []
    outcomes = {kind: suspension.get(f"{kind}_outcome") for kind in ("fraud", "cleared", "withdrawn")}
    for kind, text_value in outcomes.items():
        if not isinstance(text_value, str) or not text_value:
            problems.append(f"interim_suspension.{kind}_outcome：须写明调查终结后的处理（条例第三十条第一款）")
    if problems:
        raise ValueError(f"{source}：" + "；".join(problems))
    return Rules(ints["decision"], ints["first"], ints["statement"], ints["request"], ints["notice"],
                 ints["collective"], tuple(methods), ints["service"], ints["payment"], dict(payees), percent,
                 ints["agreement"], basis, frozenset(working), tuple(articles), tuple(parties),
                 {kind: str(text_value) for kind, text_value in outcomes.items()})


@cache
def rules() -> Rules:
    return parse_rules(RULES_PATH.read_text(encoding="utf-8"), str(RULES_PATH))


# ============================================================ what the steps look at


@dataclass(frozen=True)
class Context:
    """The case around the procedure record: the review status, today, who acts, and the draft or decision."""

    status: str | None
    today: date
    actor: str = ""
    actor_inspected: bool = False  # on the inspection team (回避)
    drafted_by: str = ""  # who drafted the proposal (the case's investigator, with whoever asked for 立案)
    penalty: Mapping[str, Any] | None = None  # the draft's or decision's terms: see `terms`
    decided_on: date | None = None
    inspected_on: date | None = None
    # 条例 Art. 30: the party's kind and the articles of 条例 the draft (or the decision) applies; before a draft,
    # those of the inspection's findings
    party_kind: str = "institution"
    articles: tuple[int, ...] = ()


def terms(decision: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a notice and a decision are compared on (Art. 45): the fine, the suspension, the measures by track,
    the money due, and whether the party may ask for a hearing; with the basis and the reasons, which the 告知书
    prints as they were notified. `decision`: `bureau.decisions.decision_json`."""
    if decision is None:
        return None
    detail = {d["measure"]: d["track"] for d in (decision.get("proposal") or {}).get("measures_detail", [])}
    measures = list(decision.get("measures") or [])
    return {"measures": measures, "fine_yuan": decision.get("fine_yuan"),
            "suspension_months": decision.get("suspension_months"), "recover_yuan": decision.get("recover_yuan") or "0.00",
            "hearing_right": bool((decision.get("proposal") or {}).get("hearing_right")),
            "agreement_measures": [m for m in measures if detail.get(m) == "agreement"],
            "term_years": {d["measure"]: d["term_years"] for d in (decision.get("proposal") or {})
                           .get("measures_detail", []) if d.get("term_years") and d["measure"] in measures},
            "basis": list((decision.get("proposal") or {}).get("basis", [])), "fine_reason": decision.get("fine_reason") or ""}


def _refuse(status: int, reason: str, message: str) -> ReviewError:
    return ReviewError(status, reason, message)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _need_status(ctx: Context, step: str, allowed: Sequence[str]) -> None:
    if ctx.status not in allowed:
        raise _refuse(409, "wrong_status", f"当前状态为“{ctx.status or '无'}”，不能{STEPS[step]}（仅限：{'、'.join(allowed)}）")


def _need_filed(proc: Mapping[str, Any], step: str) -> None:
    if not proc.get("filed_on"):
        raise _refuse(409, "not_filed", f"本案尚未立案（立案须经批准），不能{STEPS[step]}")


NOTIFY, DECIDE = "送达行政处罚事先告知书", "作出行政处罚决定"  # what waits for 立案 (`filing_problem`)


def penalties(terms: Mapping[str, Any] | None) -> list[str]:
    """The 行政处罚 among the terms' measures: those the penalty rules list as such (penalties.toml
    `no_penalty.suppresses`, 行政处罚法 第九条) that the 医疗保障行政部门 imposes (not the 经办机构's under the
    agreement). 责令改正 and 责令退回 are 行政处理, not penalties."""
    if not terms:
        return []
    listed = set(penalty_rules().no_penalty.suppresses)
    return [m for m in terms.get("measures", []) if m in listed and m not in terms.get("agreement_measures", [])]


def filing_problem(proc: Mapping[str, Any], terms: Mapping[str, Any] | None, doing: str,
                   r: Rules | None = None) -> str | None:
    """Why `doing` (告知, 作出决定) must wait: the terms carry a 行政处罚 and the case has no approved 立案
    (行政处罚法 第五十四条). None: it need not wait. The agreement track and 行政处理 need no 立案."""
    found = penalties(terms)
    if not found or proc.get("filed_on"):
        return None
    cited = (r or rules()).basis["filing"].split("：")[0]
    return f"本案尚未立案：拟作出的{'、'.join(found)}属于行政处罚，须经批准立案后方可{doing}（{cited}）"


def need_filing(proc: Mapping[str, Any], ctx: Context, doing: str) -> None:
    """409 not_filed when `filing_problem` says so."""
    if (problem := filing_problem(proc, ctx.penalty, doing)) is not None:
        raise _refuse(409, "not_filed", problem)


def _need_text(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise _refuse(422, "reason_required", f"请填写{what}")
    return value


def _need_past(day: date, today: date, what: str) -> None:
    if day > today:
        raise _refuse(422, "future_date", f"{what}（{day.isoformat()}）不能晚于今天")


def _recusal(ctx: Context) -> None:
    if ctx.actor_inspected:
        raise _refuse(403, "own_inspection", "您参与了这次现场检查，依回避规定不能办理本案（行政处罚法第四十三条）")


# ============================================================ the clock (Art. 60)


def decision_due(proc: Mapping[str, Any], r: Rules | None = None) -> date | None:
    """The last day to decide: 立案 + 90 days + every approved extension. None: not filed."""
    r = r or rules()
    filed = _day(proc.get("filed_on"))
    if filed is None:
        return None
    return filed + timedelta(days=r.decision_days + sum(e["days"] for e in proc.get("extensions", [])))


def clock(proc: Mapping[str, Any], today: date, decided: bool, r: Rules | None = None) -> dict[str, Any]:
    """What the queue and the dashboard show: the due day, days left (negative: overdue), overdue."""
    due = decision_due(proc, r)
    if due is None:
        return {"filed_on": None, "decision_due": None, "days_left": None, "overdue": False}
    left = (due - today).days
    return {"filed_on": proc["filed_on"], "decision_due": due.isoformat(), "days_left": None if decided else left,
            "overdue": not decided and left < 0}


# ============================================================ before the decision


def request_filing(proc: Mapping[str, Any], ctx: Context, reason: str) -> dict[str, Any]:
    """提请立案: the reviewer asks; another person approves (the 立案审批)."""
    _need_status(ctx, "request_filing", FILING_STATUSES)
    _recusal(ctx)
    if proc.get("filing_requested_by"):
        raise _refuse(409, "already_requested", "本案已提请立案")
    return {**proc, "filing_requested_by": ctx.actor, "filing_requested_on": ctx.today.isoformat(),
            "filing_reason": _need_text(reason, "立案理由")}


def approve_filing(proc: Mapping[str, Any], ctx: Context, opinion: str) -> dict[str, Any]:
    """批准立案 by someone other than who asked: the 90-day clock starts today."""
    _need_status(ctx, "approve_filing", FILING_STATUSES)
    _recusal(ctx)
    if not proc.get("filing_requested_by"):
        raise _refuse(409, "not_requested", "本案尚未提请立案")
    if proc.get("filed_on"):
        raise _refuse(409, "already_filed", "本案已立案")
    if proc["filing_requested_by"] == ctx.actor:
        raise _refuse(403, "same_person", "立案须由提请人以外的负责人批准，不能自行批准")
    return {**proc, "filed_on": ctx.today.isoformat(), "filing_approved_by": ctx.actor,
            "filing_opinion": _need_text(opinion, "审批意见")}


def mark_major(proc: Mapping[str, Any], ctx: Context, reason: str) -> dict[str, Any]:
    """情节复杂或重大: the decision then needs 法制审核 and 集体讨论."""
    _need_status(ctx, "mark_major", (REVIEWING, PROPOSED, HEARING))
    _recusal(ctx)
    _need_filed(proc, "mark_major")
    return {**proc, "major": True, "major_reason": _need_text(reason, "认定情节复杂或重大的理由")}


def legal_review(proc: Mapping[str, Any], ctx: Context, opinion: str, passed: bool) -> dict[str, Any]:
    """法制审核 (Art. 58): by someone who did not draft the proposal; a failed review blocks the decision until a
    later one passes."""
    _need_status(ctx, "legal_review", (PROPOSED, HEARING))
    _recusal(ctx)
    _need_filed(proc, "legal_review")
    if ctx.actor in (ctx.drafted_by, proc.get("filing_requested_by")):
        raise _refuse(403, "investigator", "法制审核须由本案调查、拟处理人员以外的法制审核人员进行")
    return {**proc, "legal_review": {"by": ctx.actor, "on": ctx.today.isoformat(),
                                     "opinion": _need_text(opinion, "法制审核意见"), "passed": passed,
                                     "terms": ctx.penalty}}


def collective(proc: Mapping[str, Any], ctx: Context, opinion: str, participants: Sequence[str],
               r: Rules | None = None) -> dict[str, Any]:
    """集体讨论 (Art. 57 ¶2): who took part, the conclusion."""
    r = r or rules()
    _need_status(ctx, "collective", (PROPOSED, HEARING))
    _recusal(ctx)
    _need_filed(proc, "collective")
    names = [p.strip() for p in participants if p.strip()]
    if len(set(names)) < r.collective_min:
        raise _refuse(422, "too_few", f"集体讨论应记录参加讨论的负责人，至少 {r.collective_min} 人")
    return {**proc, "collective": {"by": ctx.actor, "on": ctx.today.isoformat(), "participants": names,
                                   "opinion": _need_text(opinion, "集体讨论结论")}}


def extend(proc: Mapping[str, Any], ctx: Context, days: int, reason: str, discussed: bool,
           r: Rules | None = None) -> dict[str, Any]:
    """延长办案期限, approved by the actor (the 负责人): the first up to the rule's days; a further one only when
    集体讨论 decided it."""
    r = r or rules()
    _need_status(ctx, "extend", BEFORE_DECISION)
    _recusal(ctx)
    _need_filed(proc, "extend")
    due = decision_due(proc, r)
    if due is not None and ctx.today > due:
        raise _refuse(409, "already_overdue", f"办案期限已于 {due.isoformat()} 届满，不能再批准延长（须在期限届满前批准）")
    earlier = list(proc.get("extensions", []))
    if days < 1:
        raise _refuse(422, "bad_days", "延长的天数应为正整数")
    if not earlier and days > r.extension_first_max_days:
        raise _refuse(422, "too_long", f"首次延长不超过 {r.extension_first_max_days} 日（{r.basis['extension']}）")
    if earlier and not discussed:
        raise _refuse(422, "needs_collective", "再次延长须经负责人集体讨论决定（" + r.basis["extension"] + "）")
    entry = {"days": days, "approver": ctx.actor, "on": ctx.today.isoformat(),
             "reason": _need_text(reason, "延长理由"), "collective": discussed}
    return {**proc, "extensions": [*earlier, entry]}


def notice(proc: Mapping[str, Any], ctx: Context, served_on: date, r: Rules | None = None) -> dict[str, Any]:
    """告知 (Art. 44/45): what was notified (the terms, for Art. 45), when the 告知书 was served, and the deadlines
    of 陈述申辩 and of a hearing request counted from that day. Replaces an earlier notice and what followed it,
    which stay on file (`notices_on_file`)."""
    r = r or rules()
    if ctx.penalty is None:
        raise _refuse(409, "no_proposal", "本案没有拟处理意见")
    need_filing(proc, ctx, NOTIFY)
    _need_past(served_on, ctx.today, "告知书送达日期")
    if ctx.inspected_on and served_on < ctx.inspected_on:
        raise _refuse(422, "bad_date", "告知书送达日期不能早于检查日期")
    hearing = bool(ctx.penalty["hearing_right"])
    earlier = notices_on_file(proc)
    count = max((int(n.get("count", 1)) for n in earlier), default=0) + 1
    told = {"count": count, "served_on": served_on.isoformat(),
            "statement_deadline": r.after("statement", served_on, r.statement_days).isoformat(),
            "hearing_right": hearing,
            "hearing_deadline": r.after("hearing", served_on, r.hearing_request_days).isoformat() if hearing else None,
            "terms": dict(ctx.penalty), "by": ctx.actor}
    # what followed the earlier notice, and the reviews of its terms, no longer hold
    rest = {k: v for k, v in proc.items() if k not in ("notices", "hearing", "legal_review", "collective")}
    return {**rest, **({"notices": earlier} if earlier else {}), "notice": told}


def notices_on_file(proc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every notice served so far, the current one last, each with the hearing that followed it (`hearing`, if
    any): a 告知书 served and a hearing held are part of the 案卷 even when a new notice replaces them."""
    on_file = list(proc.get("notices", []))
    if proc.get("notice"):
        hearing = proc.get("hearing")
        on_file.append({**proc["notice"], **({"hearing": hearing} if hearing else {})})
    return on_file


def request_hearing(proc: Mapping[str, Any], ctx: Context, requested_on: date,
                    r: Rules | None = None) -> dict[str, Any]:
    """当事人申请听证: only where the notice offered it, within its days (Art. 64 (1))."""
    r = r or rules()
    _need_status(ctx, "request_hearing", (HEARING,))
    told = proc.get("notice")
    if not told:
        raise _refuse(409, "not_notified", "本案尚未送达告知书")
    if not told["hearing_right"]:
        raise _refuse(409, "no_hearing_right", "本案拟作出的处理不属于应当告知听证权利的情形，当事人无权要求听证"
                                                "（行政处罚法第六十三条）")
    if proc.get("hearing"):
        raise _refuse(409, "already_requested", "当事人已申请听证")
    _need_past(requested_on, ctx.today, "听证申请日期")
    deadline = date.fromisoformat(told["hearing_deadline"])
    if requested_on > deadline:
        raise _refuse(409, "hearing_request_late", f"听证申请（{requested_on.isoformat()}）超过告知后 "
                                                   f"{r.hearing_request_days} {r.unit('hearing')}的期限"
                                                   f"（{deadline.isoformat()}），视为放弃听证（行政处罚法第六十四条第一项）")
    if requested_on < date.fromisoformat(told["served_on"]):
        raise _refuse(422, "bad_date", "听证申请日期不能早于告知书送达日期")
    return {**proc, "hearing": {"requested_on": requested_on.isoformat()}}


def hearing_hour(text: str) -> str:
    """The hearing's time of day as ``HH:MM`` (24-hour; ``9:30`` → ``09:30``); 422 bad_time naming the field."""
    shown = clock_time(text)
    if shown is None:
        raise _refuse(422, "bad_time", f"听证时间（held_at）应写作 09:30 这样的时:分（24 小时制），实际为“{text}”")
    return shown


def hearing_notice(proc: Mapping[str, Any], ctx: Context, *, notified_on: date, held_on: date, held_at: str,
                   place: str, officer: str, officer_name: str, officer_inspected: bool,
                   r: Rules | None = None) -> dict[str, Any]:
    """听证通知书: the hearing, on a day and at an hour (`held_at`, ``HH:MM``), at least seven days after the notice
    (Art. 64 (2)), presided over by someone who neither inspected nor investigated the case (Art. 64 (4))."""
    r = r or rules()
    _need_status(ctx, "hearing_notice", (HEARING,))
    _recusal(ctx)
    hearing = proc.get("hearing")
    if not hearing:
        raise _refuse(409, "no_hearing_request", "当事人未申请听证")
    if hearing.get("record"):
        raise _refuse(409, "already_held", "听证已经举行")
    _need_past(notified_on, ctx.today, "听证通知日期")
    if notified_on < date.fromisoformat(hearing["requested_on"]):
        raise _refuse(422, "bad_date", "听证通知日期不能早于听证申请日期")
    earliest = r.after("hearing", notified_on, r.hearing_notice_days)
    if held_on < earliest:
        raise _refuse(422, "hearing_too_soon", f"听证应在通知之日起 {r.hearing_notice_days} {r.unit('hearing')}后举行（不早于 "
                                               f"{earliest.isoformat()}；行政处罚法第六十四条第二项）")
    if officer_inspected:
        raise _refuse(422, "officer_inspected", f"{officer_name or officer} 参加了本次现场检查，不能主持听证"
                                                "（行政处罚法第六十四条第四项：由非本案调查人员主持）")
    if officer in (ctx.drafted_by, proc.get("filing_requested_by")):
        raise _refuse(422, "officer_investigated", f"{officer_name or officer} 是本案的调查人员，不能主持听证"
                                                   "（行政处罚法第六十四条第四项）")
    return {**proc, "hearing": {**hearing, "notified_on": notified_on.isoformat(), "held_on": held_on.isoformat(),
                                "held_at": hearing_hour(held_at), "place": _need_text(place, "听证地点"), "officer": officer,
                                "officer_name": officer_name or officer, "notified_by": ctx.actor}}


def hearing_record(proc: Mapping[str, Any], ctx: Context, *, text: str, attendees: str,
                   party_signed: bool) -> dict[str, Any]:
    """听证笔录 (Art. 64 (8)), on or after the hearing day; the party checks and signs it."""
    _need_status(ctx, "hearing_record", (HEARING,))
    hearing = proc.get("hearing") or {}
    if not hearing.get("held_on"):
        raise _refuse(409, "no_hearing_notice", "尚未发出听证通知书")
    held = date.fromisoformat(hearing["held_on"])
    if ctx.today < held:
        raise _refuse(409, "hearing_not_held", f"听证定于 {held.isoformat()} 举行，尚未举行")
    record = {"by": ctx.actor, "on": ctx.today.isoformat(), "text": _need_text(text, "听证笔录内容"),
              "attendees": _need_text(attendees, "出席听证的人员"), "party_signed": party_signed}
    return {**proc, "hearing": {**hearing, "record": record}}


def agreement_notice(proc: Mapping[str, Any], ctx: Context, served_on: date, r: Rules | None = None) -> dict[str, Any]:
    """协议处理告知 (the 经办机构's, under the service agreement): its own notice and 申辩 deadline."""
    r = r or rules()
    _need_status(ctx, "agreement_notice", (PROPOSED, HEARING))
    _recusal(ctx)
    if not ctx.penalty or not ctx.penalty["agreement_measures"]:
        raise _refuse(409, "no_agreement_measure", "拟处理意见中没有由医疗保障经办机构依协议作出的处理")
    _need_past(served_on, ctx.today, "协议处理告知送达日期")
    return {**proc, "agreement": {"served_on": served_on.isoformat(),
                                  "deadline": (served_on + timedelta(days=r.agreement_statement_days)).isoformat(),
                                  "measures": list(ctx.penalty["agreement_measures"]), "by": ctx.actor}}


def agreement_statement(proc: Mapping[str, Any], ctx: Context, text: str, waived: bool) -> dict[str, Any]:
    _need_status(ctx, "agreement_statement", (PROPOSED, HEARING))
    told = proc.get("agreement")
    if not told:
        raise _refuse(409, "not_notified", "经办机构尚未送达协议处理告知")
    text = (text or "").strip()
    if not waived and not text:
        raise _refuse(422, "statement_empty", "请填写定点医药机构的申辩内容，或注明其放弃申辩")
    return {**proc, "agreement": {**told, "statement": {"text": text, "waived": waived,
                                                        "on": ctx.today.isoformat(), "by": ctx.actor}}}


# ============================================================ 调查期间暂停结算 (条例 第三十条)


def suspension_in_force(proc: Mapping[str, Any], status: str | None) -> dict[str, Any] | None:
    """The interim suspension in force: the last one, not lifted, while the case is not yet decided (the decision
    ends it: `suspension_outcome`)."""
    last = (proc.get("interim_suspensions") or [None])[-1]
    return dict(last) if last and not last.get("lifted") and status in BEFORE_DECISION else None


def suspension_outcome(status: str | None, articles: Sequence[int], r: Rules | None = None) -> str | None:
    """What follows an interim suspension once the case is decided (条例 第三十条第一款): decided under Art. 40,
    it is handled as 骗取; otherwise settlement resumes and the suspended period is settled as the rules provide.
    None before the decision. `articles`: those the decision applies."""
    r = r or rules()
    if status == WITHDRAWN:  # the decision withdrawn on 复议: its outcome no longer holds
        return r.suspension_outcomes["withdrawn"]
    if status not in AFTER_DECISION:
        return None
    return r.suspension_outcomes["fraud" if set(articles) & set(r.suspension_articles) else "cleared"]


def suspensions_shown(proc: Mapping[str, Any], status: str | None, articles: Sequence[int],
                      r: Rules | None = None) -> list[dict[str, Any]]:
    """Every interim suspension of the case as the case screen and the 决定书 state it: whether it is in force,
    and its outcome once decided."""
    current = suspension_in_force(proc, status)
    outcome = suspension_outcome(status, articles, r)
    return [{**s, "in_force": current is not None and s["count"] == current["count"], "outcome": outcome}
            for s in proc.get("interim_suspensions", [])]


def _suspension_refusal(ctx: Context, r: Rules) -> str | None:
    """Why 条例 第三十条第一款 does not reach this party (None: it does)."""
    if ctx.party_kind not in r.suspension_parties:
        return "暂停医疗保障基金结算仅适用于涉嫌骗取医疗保障基金支出的定点医药机构（条例第三十条第一款），本案当事人不是定点医药机构"
    if not set(ctx.articles) & set(r.suspension_articles):
        cited = "、".join(f"第{n}条" for n in r.suspension_articles)
        return (f"仅对涉嫌骗取医疗保障基金支出（条例{cited}）的定点医药机构，在其拒不配合调查时方可暂停医疗保障基金结算"
                f"（条例第三十条第一款）；本案的拟处理意见（尚无拟处理意见时为检查发现的问题）不涉及条例{cited}")
    return None


def interim_suspension(proc: Mapping[str, Any], ctx: Context, *, facts: str, approver: str, approved_on: date,
                       r: Rules | None = None) -> dict[str, Any]:
    """调查期间暂停医疗保障基金结算 (条例 第三十条第一款): a filed case not yet notified (the 告知书 ends the
    investigation; one in force then stays until lifted or decided), against a 定点医药机构 suspected
    of 骗取 (Art. 40) that refuses to cooperate, approved by the 主要负责人 (the 负责人 records the approval); one at a
    time. The 经办机构 is told by the 暂停医疗保障基金结算通知书."""
    r = r or rules()
    if ctx.status not in BEFORE_DECISION:
        raise _refuse(409, "not_investigating", f"暂停医疗保障基金结算仅限调查期间（立案后、作出决定前；条例第三十条第一款），"
                                                f"当前状态为“{ctx.status or '无'}”")
    _recusal(ctx)
    _need_filed(proc, "interim_suspension")
    if proc.get("notice"):
        raise _refuse(409, "investigation_ended", "已送达行政处罚事先告知书，调查取证已经终结：此后不能以拒不配合调查为由暂停"
                                                  "医疗保障基金结算（条例第三十条第一款：“在调查期间”）")
    if (problem := _suspension_refusal(ctx, r)) is not None:
        raise _refuse(409, "not_suspected_fraud", problem)
    if (current := suspension_in_force(proc, ctx.status)) is not None:
        raise _refuse(409, "already_suspended", f"本案已自 {current['on']} 起暂停医疗保障基金结算，尚未解除"
                                                "（条例第三十条第一款）")
    _need_past(approved_on, ctx.today, "主要负责人批准日期")
    if approved_on < date.fromisoformat(proc["filed_on"]):
        raise _refuse(422, "bad_date", "主要负责人批准日期不能早于立案日期（暂停结算限于调查期间，条例第三十条第一款）")
    earlier = list(proc.get("interim_suspensions", []))
    entry = {"count": len(earlier) + 1, "on": ctx.today.isoformat(), "by": ctx.actor,
             "facts": _need_text(facts, "定点医药机构拒不配合调查的事实"),
             "approver": _need_text(approver, "批准暂停结算的医疗保障行政部门主要负责人"),
             "approved_on": approved_on.isoformat()}
    return {**proc, "interim_suspensions": [*earlier, entry]}


def lift_interim_suspension(proc: Mapping[str, Any], ctx: Context, reason: str) -> dict[str, Any]:
    """解除暂停结算 before the decision (the institution now cooperates, say); after it the decision's outcome
    applies (`suspension_outcome`)."""
    if ctx.status not in BEFORE_DECISION:
        raise _refuse(409, "not_investigating", "本案已作出决定，暂停结算依调查结果处理（条例第三十条第一款），无需解除")
    _recusal(ctx)
    current = suspension_in_force(proc, ctx.status)
    if current is None:
        raise _refuse(409, "not_suspended", "本案没有正在执行的暂停医疗保障基金结算")
    lifted = {**current, "lifted": {"on": ctx.today.isoformat(), "by": ctx.actor,
                                    "reason": _need_text(reason, "解除暂停结算的理由")}}
    return {**proc, "interim_suspensions": [*proc["interim_suspensions"][:-1], lifted]}


def heavier(notified: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """How `now` is heavier than what was notified (Art. 45 ¶2): a larger fine, a longer suspension, a measure the
    notice did not name. Empty: not heavier."""
    out = []
    before, after = notified.get("fine_yuan"), now.get("fine_yuan")
    if after is not None and (before is None or parse_money(after) > parse_money(before)):
        out.append(f"罚款由{before + ' 元' if before else '无'}增至 {after} 元")
    before_m, after_m = notified.get("suspension_months"), now.get("suspension_months")
    if after_m is not None and (before_m is None or after_m > before_m):
        out.append(f"暂停期限由{f'{before_m} 个月' if before_m else '无'}增至 {after_m} 个月")
    added = [m for m in now.get("measures", []) if m not in notified.get("measures", [])]
    if added:
        out.append(f"增加了告知书未载明的措施：{'、'.join(added)}")
    return out


def decide_problems(proc: Mapping[str, Any], ctx: Context) -> list[str]:
    """Why the decision may not be made yet (empty: it may). Art. 45 applies to every notified case; a 行政处罚
    needs an approved 立案 (`filing_problem`); the rest of the procedure applies to a filed case."""
    problems: list[str] = []
    told, now = proc.get("notice"), ctx.penalty
    if told and now is not None and (more := heavier(told["terms"], now)):
        problems.append("拟作出的决定重于告知书载明的处理（" + "；".join(more) + "），不得因当事人陈述、申辩而加重处罚；"
                        "如有新的事实，须重新告知（行政处罚法第四十五条第二款）")
    agreement = proc.get("agreement")
    if agreement and not agreement.get("statement") and ctx.today <= date.fromisoformat(agreement["deadline"]):
        problems.append(f"协议处理的申辩期限（{agreement['deadline']}）未满，且尚未记录定点医药机构的申辩或放弃")
    if not proc.get("filed_on"):
        return [*problems, *filter(None, [filing_problem(proc, now, DECIDE)])]
    if not told:
        problems.append("本案已立案，须先送达行政处罚事先告知书")
    hearing_right = bool(now and now.get("hearing_right"))
    major = bool(proc.get("major"))
    review = proc.get("legal_review")
    if review and now is not None and review.get("terms") != dict(now):
        review = None  # it reviewed other terms: the decision's must be reviewed
    if hearing_right or major:
        if not review:
            problems.append("本案须经对拟作出决定的法制审核后方可作出决定（行政处罚法第五十八条）")
        elif not review.get("passed"):
            problems.append("法制审核未通过，不得作出决定（行政处罚法第五十八条）")
    if major and not proc.get("collective"):
        problems.append("情节复杂或重大的案件须经负责人集体讨论决定（行政处罚法第五十七条第二款）")
    hearing = proc.get("hearing")
    if (told and told.get("hearing_right") and not hearing and told.get("hearing_deadline")
            and ctx.today <= date.fromisoformat(told["hearing_deadline"])):
        problems.append(f"听证申请期限（{told['hearing_deadline']}）未满，当事人仍可要求听证（行政处罚法第六十四条第一项）")
    if hearing and not hearing.get("record"):
        problems.append("当事人已申请听证，须举行听证并制作听证笔录后作出决定（行政处罚法第六十五条）")
    if now and now.get("agreement_measures") and not agreement:
        problems.append("拟处理意见含经办机构依协议作出的处理（" + "、".join(now["agreement_measures"]) +
                        "），须由经办机构另行告知并听取申辩")
    return problems


# ============================================================ after the decision


def serve(proc: Mapping[str, Any], ctx: Context, *, served_on: date, method: str, receiver: str,
          r: Rules | None = None) -> dict[str, Any]:
    """送达 of the decision (Art. 61), by one of the methods, on a day between the decision and today."""
    r = r or rules()
    _need_status(ctx, "serve", AFTER_DECISION)
    if ctx.penalty is None or ctx.decided_on is None:
        raise _refuse(409, "no_decision", "本案没有需要送达的处理决定")
    if proc.get("service"):
        raise _refuse(409, "already_served", "决定书已经送达")
    if method not in r.service_methods:
        raise _refuse(422, "bad_method", f"送达方式应为：{'、'.join(r.service_methods)}")
    _need_past(served_on, ctx.today, "送达日期")
    if served_on < ctx.decided_on:
        raise _refuse(422, "bad_date", "送达日期不能早于决定日期")
    return {**proc, "service": {"served_on": served_on.isoformat(), "method": method,
                                "receiver": _need_text(receiver, "受送达人（签收人）"), "by": ctx.actor,
                                "late": served_on > r.after("service", ctx.decided_on, r.service_days)}}


def late_surcharge(fine: Decimal, due: date, paid_on: date, r: Rules | None = None) -> Decimal:
    """加处罚款 (Art. 72 (1)): each day after `due` until `paid_on`, the rule's percent of the fine, never more
    than the fine itself."""
    r = r or rules()
    days = max(0, (paid_on - due).days)
    return min((fine * r.surcharge_percent * days / 100).quantize(Decimal("0.01")), fine)


def payment_due(proc: Mapping[str, Any], r: Rules | None = None) -> date | None:
    served = _day((proc.get("service") or {}).get("served_on"))
    return served + timedelta(days=(r or rules()).payment_days) if served else None


def dues(proc: Mapping[str, Any], penalty: Mapping[str, Any], payments: Sequence[Mapping[str, Any]], today: date,
         r: Rules | None = None) -> list[dict[str, Any]]:
    """What is owed per payee and what was paid: 退回 → the fund's account, 罚款 and 加处罚款 → the treasury. The
    surcharge runs until the day the fine was paid in full (or today)."""
    r = r or rules()
    paid = {kind: sum((parse_money(p["amount_yuan"]) for p in payments if p["kind"] == kind), ZERO)
            for kind in r.payees}
    fine = parse_money(penalty["fine_yuan"]) if penalty.get("fine_yuan") else ZERO
    owed = {"退回": parse_money(penalty.get("recover_yuan") or "0.00"), "罚款": fine, "加处罚款": ZERO}
    due = payment_due(proc, r)
    if fine > 0 and due is not None:
        running, settled = ZERO, today
        for p in sorted((p for p in payments if p["kind"] == "罚款"), key=lambda p: p["paid_on"]):
            running += parse_money(p["amount_yuan"])
            if running >= fine:
                settled = date.fromisoformat(p["paid_on"])
                break
        owed["加处罚款"] = late_surcharge(fine, due, settled, r)
    return [{"kind": kind, "payee": r.payees[kind], "owed_yuan": format_money(owed[kind]),
             "paid_yuan": format_money(paid[kind]), "outstanding_yuan": format_money(max(owed[kind] - paid[kind], ZERO))}
            for kind in r.payees if owed[kind] > 0 or paid[kind] > 0]


def check_payment(proc: Mapping[str, Any], ctx: Context, payments: Sequence[Mapping[str, Any]], *, kind: str,
                  amount_yuan: str, paid_on: date, r: Rules | None = None) -> dict[str, Any]:
    """A payment to record (the payee follows its kind); it may not exceed what is outstanding of its kind."""
    r = r or rules()
    _need_status(ctx, "payment", AFTER_DECISION)
    if not proc.get("service"):
        raise _refuse(409, "not_served", "决定书尚未送达")
    if proc.get("closed_on"):
        raise _refuse(409, "closed", "本案已结案")
    if kind not in r.payees:
        raise _refuse(422, "bad_kind", f"缴款类别应为：{'、'.join(r.payees)}")
    try:
        amount = parse_money(amount_yuan)
    except (ValueError, ArithmeticError):
        raise _refuse(422, "bad_amount", "缴款金额应为两位小数的金额，如 1200.00") from None
    if amount <= 0:
        raise _refuse(422, "bad_amount", "缴款金额应大于零")
    _need_past(paid_on, ctx.today, "缴款日期")
    if paid_on < date.fromisoformat(proc["service"]["served_on"]):
        raise _refuse(422, "bad_date", "缴款日期不能早于送达日期")
    assert ctx.penalty is not None  # served only with a decision
    entry = {"kind": kind, "amount_yuan": format_money(amount), "paid_on": paid_on.isoformat()}
    owed = {d["kind"]: parse_money(d["owed_yuan"]) for d in dues(proc, ctx.penalty, [*payments, entry], paid_on, r)}
    paid = sum((parse_money(p["amount_yuan"]) for p in payments if p["kind"] == kind), ZERO) + amount
    if paid > owed.get(kind, ZERO):
        raise _refuse(422, "overpaid", f"{kind}应缴 {format_money(owed.get(kind, ZERO))} 元，"
                                       f"累计缴款 {format_money(paid)} 元超出应缴金额")
    return {**entry, "payee": r.payees[kind]}


def enforce(proc: Mapping[str, Any], ctx: Context, payments: Sequence[Mapping[str, Any]], court: str,
            r: Rules | None = None) -> dict[str, Any]:
    """申请人民法院强制执行 (Art. 72 ¶1 (4)): only after the payment term, with money still outstanding."""
    r = r or rules()
    _need_status(ctx, "enforce", AFTER_DECISION)
    due = payment_due(proc, r)
    if due is None:
        raise _refuse(409, "not_served", "决定书尚未送达")
    if ctx.today <= due:
        raise _refuse(409, "not_due", f"缴款期限（{due.isoformat()}）未满")
    assert ctx.penalty is not None  # served only with a decision
    if not any(parse_money(d["outstanding_yuan"]) > 0 for d in dues(proc, ctx.penalty, payments, ctx.today, r)):
        raise _refuse(409, "nothing_outstanding", "应缴款项已全部缴清，无需申请强制执行")
    return {**proc, "enforcement": {"applied_on": ctx.today.isoformat(), "court": _need_text(court, "受理法院"),
                                    "by": ctx.actor}}


def close_case(proc: Mapping[str, Any], ctx: Context, payments: Sequence[Mapping[str, Any]],
               r: Rules | None = None) -> dict[str, Any]:
    """结案: served, and everything paid (or 强制执行 applied for)."""
    _need_status(ctx, "close_case", AFTER_DECISION)
    if not proc.get("service"):
        raise _refuse(409, "not_served", "决定书尚未送达，不能结案")
    if proc.get("closed_on"):
        raise _refuse(409, "closed", "本案已结案")
    assert ctx.penalty is not None  # served only with a decision
    open_dues = [d for d in dues(proc, ctx.penalty, payments, ctx.today, r) if parse_money(d["outstanding_yuan"]) > 0]
    if open_dues and not proc.get("enforcement"):
        owed = "、".join(f"{d['kind']} {d['outstanding_yuan']} 元" for d in open_dues)
        raise _refuse(409, "unpaid", f"尚有未缴款项（{owed}），且未申请强制执行，不能结案")
    return {**proc, "closed_on": ctx.today.isoformat(), "closed_by": ctx.actor}


def archive(proc: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    _need_status(ctx, "archive", AFTER_DECISION)
    if not proc.get("closed_on"):
        raise _refuse(409, "not_closed", "本案尚未结案，不能归档")
    if proc.get("archived_on"):
        raise _refuse(409, "archived", "本案已归档")
    return {**proc, "archived_on": ctx.today.isoformat(), "archived_by": ctx.actor}


def stage(proc: Mapping[str, Any], status: str | None) -> str:
    """The procedure's step the case has reached, as the queue shows it."""
    if proc.get("archived_on"):
        return "已归档"
    if proc.get("closed_on"):
        return "已结案"
    if proc.get("enforcement"):
        return "申请强制执行"
    if proc.get("service"):
        return "执行"
    if status in AFTER_DECISION:
        return "待送达"
    hearing = proc.get("hearing") or {}
    if hearing.get("record"):
        return "听证已举行"
    if hearing.get("held_on"):
        return "待听证"
    if hearing:
        return "已申请听证"
    if proc.get("notice"):
        return "已告知"
    if proc.get("filed_on"):
        return "调查取证"
    if proc.get("filing_requested_by"):
        return "立案审批"
    return ""


def after_new_version(proc: Mapping[str, Any], version: int) -> dict[str, Any]:
    """A corrected inspection record is reviewed afresh: what was notified about the old one no longer holds (the
    filing, its clock and its extensions stay; the notices served stay on file, each with the record version it was
    about: `version`, the one reviewed until now, for a notice stored before notices said so)."""
    earlier = [{"version": version, **n} for n in notices_on_file(proc)]
    rest = {k: v for k, v in proc.items()
            if k not in ("notice", "notices", "hearing", "legal_review", "collective", "agreement")}
    return {**rest, "notices": earlier} if earlier else rest


# What only a 负责人 (科室负责人, the supervisor role) approves or chairs: 立案, extensions (the 暂行规定), 集体讨论
# (行政处罚法 第五十七条第二款), and records of the 主要负责人's approval of 暂停结算 (条例 第三十条第一款) and its
# lifting; a reviewer takes every other step.
SUPERVISOR_STEPS = ("approve_filing", "extend", "collective", "interim_suspension", "lift_interim_suspension")


def available(proc: Mapping[str, Any], ctx: Context, role: str) -> list[str]:
    """The steps to offer as buttons now (the rules above still judge the inputs when one is taken)."""
    if ctx.actor_inspected or role not in ("reviewer", "supervisor"):
        return []
    status, out = ctx.status, []
    filed, hearing, told = bool(proc.get("filed_on")), proc.get("hearing") or {}, proc.get("notice")
    agreement = proc.get("agreement") or {}
    offers = {
        "request_filing": status in FILING_STATUSES and not proc.get("filing_requested_by"),
        "approve_filing": status in FILING_STATUSES and bool(proc.get("filing_requested_by")) and not filed
        and proc.get("filing_requested_by") != ctx.actor,
        "mark_major": filed and status in (REVIEWING, PROPOSED, HEARING) and not proc.get("major"),
        "legal_review": filed and status in (PROPOSED, HEARING)
        and ctx.actor not in (ctx.drafted_by, proc.get("filing_requested_by")),
        "collective": filed and status in (PROPOSED, HEARING),
        "extend": filed and status in BEFORE_DECISION,
        "renotify": status == HEARING,
        "request_hearing": status == HEARING and bool(told and told.get("hearing_right")) and not hearing,
        "hearing_notice": status == HEARING and bool(hearing) and not hearing.get("held_on"),
        "hearing_record": status == HEARING and bool(hearing.get("held_on")) and not hearing.get("record")
        and ctx.today >= date.fromisoformat(hearing["held_on"]),
        "agreement_notice": status in (PROPOSED, HEARING) and bool(ctx.penalty and ctx.penalty["agreement_measures"])
        and not agreement,
        "agreement_statement": status in (PROPOSED, HEARING) and bool(agreement) and not agreement.get("statement"),
        "interim_suspension": filed and status in BEFORE_DECISION and not proc.get("notice")
        and suspension_in_force(proc, status) is None and _suspension_refusal(ctx, rules()) is None,
        "lift_interim_suspension": suspension_in_force(proc, status) is not None,
        "serve": status in AFTER_DECISION and ctx.decided_on is not None and not proc.get("service"),
        "payment": bool(proc.get("service")) and not proc.get("closed_on"),
        "enforce": bool(proc.get("service")) and not proc.get("enforcement") and not proc.get("closed_on")
        and ctx.today > (payment_due(proc) or ctx.today),
        "close_case": bool(proc.get("service")) and not proc.get("closed_on"),
        "archive": bool(proc.get("closed_on")) and not proc.get("archived_on"),
    }
    for step, offered in offers.items():
        if offered and (step in SUPERVISOR_STEPS) == (role == "supervisor"):
            out.append(step)
    return out
