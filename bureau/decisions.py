"""Decisions: the penalty engine's proposal for a record's findings, the reviewer's choice within it, the decision
issued (and its 决定书 number), and its withdrawal on 复议.

Pure first: `proposal` (what the regulation prescribes, `checklists.penalty.decide`, plus the points the findings
carry) and `check_choice` (the reviewer's fine within the range, with a reason; suspension within its range; the
rectification deadline; people's points). Then the operations, each one review action (`bureau.review.act`, one
audit event) plus the decision row, in the caller's transaction.

An issued decision with 责令改正 opens a rectification order (整改通知): the institution becomes a 回头看 follow-up
of the next draw until a follow-up inspection of it is decided. A withdrawn decision closes its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from sqlmodel import Session, col, select

import checklists
from bureau import case_settings, ledger, procedure, review
from bureau.agency import agency_name
from bureau.assignments import next_seq, utc_iso
from bureau.models import (
    Decision,
    Institution,
    ReceivedRecord,
    RectificationOrder,
    ReviewCase,
    ReviewEvent,
    StaffAccount,
)
from bureau.review import ReviewError, local_date
from checklists import discretion, penalty, points
from checklists.money import format_money, money_problem, parse_money

RECTIFY = "责令改正"

# Which 医保支付资格 behaviour a finding of a category suggests for the staff it names. Only a suggestion on the
# decision screen: the reviewer confirms or changes it (the behaviour → points table is in checklists/rules/points.toml).
SUGGESTED_BEHAVIOUR = {
    "38.1": "split_hospitalisation", "38.2": "overtreatment", "38.4": "substitution", "38.5": "facilitate_resale",
    "38.6": "out_of_scope_settled", "39.2": "records_not_kept", "39.6": "no_consent_out_of_scope",
    "40.1": "induce_false_treatment", "40.2": "forge_records", "40.3": "fictitious_services", "40.4": "other_fraud",
}


class DecisionError(ReviewError):
    """A choice outside what the proposal allows: every problem, in Chinese."""

    def __init__(self, problems: list[str]):
        super().__init__(422, "invalid_choice", "；".join(problems))
        self.problems = problems


# ============================================================ pure


@dataclass(frozen=True)
class Flags:
    """Case facts the reviewer establishes (they change what the regulation prescribes)."""

    refused_to_correct: bool = False
    serious_consequences: bool = False
    intent_items: tuple[str, ...] = ()  # findings done 以骗取医保基金为目的 (Art. 38 acts then fall under Art. 40)
    circumstances: tuple[str, ...] = ()  # 行政处罚法 Art. 33 facts (`checklists.penalty.CIRCUMSTANCES`) found true
    factors: tuple[str, ...] = ()  # 裁量情节 cited (`checklists.discretion`): they narrow the fine's band
    conduct_from: date | None = None  # the conduct's period; both default to the inspection day
    conduct_to: date | None = None  # continuous conduct: its end, from which 时效 runs
    limitation_extended: bool = False  # 涉及公民生命健康安全、金融安全且有危害后果: 行政处罚法 Art. 36's longer period
    major_loss: bool = False  # 造成医疗保障基金重大损失或者其他严重不良社会影响 (条例 Art. 43)


def conduct_period(record: Mapping[str, Any], flags: Flags) -> tuple[date, date] | None:
    """The conduct's period as the reviewer gave it; what is not given is the inspection day (the findings carry
    no dates of their own). None for a record without one."""
    day = review.inspected_on(record)
    end = flags.conduct_to or day
    start = flags.conduct_from or end
    if start is None or end is None:
        return None
    if start > end:
        raise DecisionError([f"违法行为起始日期 {start.isoformat()} 晚于终了日期 {end.isoformat()}"])
    return start, end


def limitation_of(record: Mapping[str, Any], flags: Flags) -> dict[str, Any] | None:
    """行政处罚法 Art. 36 for the record: from the conduct's end to its discovery (the inspection day)."""
    period, discovered = conduct_period(record, flags), review.inspected_on(record)
    if period is None or discovered is None:
        return None
    return discretion.limitation(period[1], discovered, flags.limitation_extended,
                                 discretion.benchmark_for().limitation)


def proposal(record: Mapping[str, Any], flags: Flags = Flags()) -> dict[str, Any]:
    """What the regulation prescribes for the record's findings, and the points they carry. The findings are the
    bureau's own, derived from the answers and the pinned template (`bureau.review.findings_check`), never the ones
    the tablet reported; they are in the answer. Raises DecisionError when there is nothing to decide or a finding
    cannot be judged."""
    check = review.findings_check(record)
    if check.problem:
        raise ReviewError(409, "findings_underivable", check.problem)
    findings = check.findings
    if not findings:
        raise ReviewError(409, "no_findings", "这次检查没有发现问题，无需拟处理；请审核结案")
    unknown = sorted(set(flags.intent_items) - {f["item_id"] for f in findings})
    if unknown:
        raise DecisionError([f"没有这项发现：{'、'.join(unknown)}"])
    institution = record.get("institution") or {}
    case = {"party": {"kind": "institution", "code": record["institution_code"], "name": institution.get("name", "")},
            "findings": [{"category": f["category"], "amount_yuan": f.get("amount_yuan") or "0.00",
                          "item_id": f["item_id"], "intent_to_defraud": f["item_id"] in flags.intent_items}
                         for f in findings],
            "refused_to_correct": flags.refused_to_correct, "serious_consequences": flags.serious_consequences,
            "major_loss": flags.major_loss, "circumstances": {c: True for c in flags.circumstances}, "factors": list(flags.factors)}
    period = conduct_period(record, flags)
    try:
        decided = penalty.decide(case)
        institution_points = [{"item_id": f["item_id"], "category": f["category"], "severity": f["severity"],
                               "points": points.institution_points(f["severity"])} for f in findings]
    except checklists.InputError as exc:
        raise DecisionError([str(exc)]) from None
    people = points.points_rules().people
    behaviours = people.behaviours
    suggested = [{"staff_code": code, "item_id": f["item_id"], "behaviour_id": SUGGESTED_BEHAVIOUR[f["category"]],
                  "points": behaviours[SUGGESTED_BEHAVIOUR[f["category"]]].points}
                 for f in findings if f["category"] in SUGGESTED_BEHAVIOUR
                 for code in f.get("staff_codes") or []]
    benchmark = discretion.benchmark_for()
    return {"flags": {"refused_to_correct": flags.refused_to_correct,
                      "serious_consequences": flags.serious_consequences, "intent_items": list(flags.intent_items),
                      "circumstances": list(flags.circumstances), "factors": list(flags.factors),
                      "conduct_from": period[0].isoformat() if period else None,
                      "conduct_to": period[1].isoformat() if period else None,
                      "limitation_extended": flags.limitation_extended, "major_loss": flags.major_loss},
            "findings": findings, "penalty": decided, "limitation": limitation_of(record, flags),
            "discretion": {"benchmark": benchmark.as_json(),
                           "factors": [f.as_json() for f in benchmark.factors.values()]},
            "institution_points": institution_points,
            "institution_points_total": sum(p["points"] for p in institution_points),
            "person_points_suggested": suggested,
            "person_suspension": {"at": people.suspend_at, "min": people.suspension_months[0],
                                  "max": people.suspension_months[1]},
            "behaviours": [{"id": b.id, "text": b.text, "tier": b.tier, "points": b.points}
                           for b in behaviours.values()]}


def document_kind(measures: Sequence[str], detail: Sequence[Mapping[str, Any]]) -> str:
    """The case's principal document: 协议处理 when every measure is on the agreement track (the 经办机构 takes it
    under the service agreement), as the engine's `measures_detail` says; otherwise 行政处罚 when an administrative
    measure is a penalty (`bureau.procedure.penalties`: 罚款, 暂停, 行政处罚法 第九条), else 行政处理."""
    tracks = {d["measure"]: d["track"] for d in detail}
    agreement = [m for m in measures if tracks.get(m) == "agreement"]
    if measures and len(agreement) == len(measures):
        return "协议处理"
    return "行政处罚" if procedure.penalties({"measures": measures, "agreement_measures": agreement}) else "行政处理"


def check_choice(proposed: Mapping[str, Any], choice: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The decision fields for the reviewer's choice within `proposed` (people's points only for the staff its
    findings name); DecisionError listing every problem. `waive_penalty`: where the engine says 可以不予行政处罚
    (`no_penalty` "may") or the 时效 has run (行政处罚法 Art. 36), the reviewer's choice not to penalise: the
    measures a waiver suppresses fall away. The fine must lie in the band the cited 裁量情节 leave (a fine beyond
    the 时效 is accepted here with the proposal's warning and refused by `issue`)."""
    decided = proposed["penalty"]
    problems: list[str] = []
    waive = choice.get("waive_penalty") is True
    time_barred = bool((proposed.get("limitation") or {}).get("expired"))
    if waive and decided["no_penalty"] != "may" and not time_barred:
        problems.append("本案不属于可以不予行政处罚的情形（行政处罚法第三十三条），也未超过行政处罚时效（第三十六条）")
        waive = False
    rules = penalty.penalty_rules()
    suppressed = set(rules.no_penalty.suppresses) if waive else set()
    optional = list(choice.get("optional_measures") or [])
    for measure in optional:
        if measure not in decided["optional_measures"]:
            problems.append(f"“{measure}”不是本案可以选择的措施（可选：{'、'.join(decided['optional_measures']) or '无'}）")
    measures = [m for m in rules.measure_order if (m in decided["measures"] or m in optional) and m not in suppressed]

    fine, fine_reason = choice.get("fine_yuan"), (choice.get("fine_reason") or "").strip()
    if decided["fine_yuan"] is None or waive:
        if fine not in (None, ""):
            problems.append("不予行政处罚，不处罚款" if waive else "本案依规定不处罚款")
        fine = None
    elif fine in (None, ""):
        problems.append(f"请在 {decided['fine_yuan']['min']}～{decided['fine_yuan']['max']} 元之间确定罚款金额")
    elif (problem := money_problem(fine)) is not None:
        problems.append(f"罚款：{problem}")
        fine = None
    else:
        amount, low, high = parse_money(fine), parse_money(decided["fine_yuan"]["min"]), \
            parse_money(decided["fine_yuan"]["max"])
        band = decided["band"]
        band_low, band_high = parse_money(band["low_yuan"]), parse_money(band["high_yuan"])
        if amount > high or low > amount and band_low >= low:  # below the minimum only with 减轻 (band_low < low)
            hint = "；低于法定下限的减轻处罚须引用行政处罚法第三十二条规定的情节" if amount < low else ""
            problems.append(f"罚款 {format_money(amount)} 元超出法定幅度 {format_money(low)}～{format_money(high)} 元{hint}")
        elif not band_low <= amount <= band_high:
            problems.append(band_problem(amount, band))
        fine = format_money(amount)
        if not fine_reason:
            problems.append("请写明确定罚款金额的理由（裁量理由）")

    months = choice.get("suspension_months")
    if decided["suspension_months"] is None or waive:
        if months is not None:
            problems.append("不予行政处罚，不暂停医药服务或联网结算" if waive else "本案依规定不暂停医药服务或联网结算")
        months = None
    elif isinstance(months, bool) or not isinstance(months, int):
        problems.append(f"请在 {decided['suspension_months']['min']}～{decided['suspension_months']['max']} 个月之间"
                        "确定暂停期限")
    elif not decided["suspension_months"]["min"] <= months <= decided["suspension_months"]["max"]:
        problems.append(f"暂停期限 {months} 个月超出 {decided['suspension_months']['min']}～"
                        f"{decided['suspension_months']['max']} 个月")

    due = choice.get("rectification_due")
    if RECTIFY in measures:
        if due is None:
            problems.append("责令改正须确定整改期限")
        elif due <= today:
            problems.append("整改期限应晚于今天")
    else:
        due = None

    staff_codes = {code for f in proposed["findings"] for code in f["staff_codes"]}
    people_rules = points.points_rules().people
    behaviours, (shortest, longest) = people_rules.behaviours, people_rules.suspension_months
    people, seen = [], set()
    terms: dict[str, int] = {}  # staff code → the 暂停's term (months), should this decision's points reach it
    for entry in choice.get("person_points") or []:
        code, behaviour, term = entry.get("staff_code"), entry.get("behaviour_id"), entry.get("suspension_months")
        if term is not None and not (shortest <= term <= longest):
            problems.append(f"{code} 暂停医保支付资格的期限应为 {shortest}～{longest} 个月，实际为 {term} 个月")
        elif term is not None and terms.setdefault(code, term) != term:
            problems.append(f"{code} 的暂停医保支付资格期限前后不一（{terms[code]} 个月与 {term} 个月）")
        if code not in staff_codes:
            problems.append(f"人员代码 {code} 不在本次检查记录的责任人员中")
        elif behaviour not in behaviours:
            problems.append(f"未知的记分行为：{behaviour}")
        elif (code, behaviour) in seen:
            problems.append(f"{code} 的“{behaviours[behaviour].text}”重复记分")
        else:
            seen.add((code, behaviour))
            people.append({"staff_code": code, "behaviour_id": behaviour, "behaviour": behaviours[behaviour].text,
                           "points": behaviours[behaviour].points})
    if problems:
        raise DecisionError(problems)
    people = [{**p, "suspension_months": terms[p["staff_code"]]} if p["staff_code"] in terms else p for p in people]
    return {"measures": measures, "doc_kind": document_kind(measures, decided["measures_detail"]), "recover_yuan": decided["recover_yuan"],
            "fine_yuan": fine, "fine_reason": fine_reason if fine is not None else "",
            "suspension_months": months,
            "terminate_agreement": decided["terminate_agreement"], "rectification_due": due,
            "institution_points": proposed["institution_points"], "person_points": people,
            "case_flags": {**proposed["flags"], "waive_penalty": waive, "limitation": proposed.get("limitation")},
            "proposal": decided}


def band_problem(amount: Any, band: Mapping[str, Any]) -> str:
    """A fine outside the band its cited 裁量情节 leave, in Chinese: the band and the factors."""
    cited = "、".join(f"{f['kind']}：{f['label']}" for f in band["factors"]) or "未引用从轻、减轻或从重情节，应在幅度中段"
    return (f"罚款 {format_money(amount)} 元不在裁量幅度 {band['low_yuan']}～{band['high_yuan']} 元内"
            f"（{cited}；{band['benchmark']['name']}）：请按裁量基准引用相应情节，或在该幅度内确定罚款金额")


def earlier_fine(categories: set[str], period: tuple[date, date],
                 earlier: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """行政处罚法 Art. 29 (一事不再罚): the first of the institution's `earlier` fines (each {"decision_no",
    "categories", "period"}) for a category of these findings whose conduct period overlaps this one."""
    for other in earlier:
        if categories & set(other["categories"]) and other["period"][0] <= period[1] \
                and period[0] <= other["period"][1]:
            return other
    return None


def load_decisions(session: Session) -> list[dict[str, Any]]:
    """The decisions the ledgers derive from (issued or withdrawn)."""
    rows = session.exec(select(Decision).where(col(Decision.status).in_(("issued", "withdrawn")))).all()
    return [decision_json(row) for row in rows]


def decision_json(row: Decision) -> dict[str, Any]:
    return {"record_id": row.record_id, "version": row.version, "record_hash": row.record_hash,
            "institution_code": row.institution_code, "outcome": row.outcome, "status": row.status,
            "doc_kind": row.doc_kind, "case_flags": row.case_flags, "proposal": row.proposal,
            "measures": row.measures, "recover_yuan": row.recover_yuan, "fine_yuan": row.fine_yuan,
            "fine_reason": row.fine_reason, "suspension_months": row.suspension_months,
            "terminate_agreement": row.terminate_agreement,
            "rectification_due": row.rectification_due.isoformat() if row.rectification_due else None,
            "institution_points": row.institution_points, "person_points": row.person_points,
            "drafted_by": row.drafted_by, "drafted_at": utc_iso(row.drafted_at), "decision_no": row.decision_no,
            "decided_by": row.decided_by, "decided_at": utc_iso(row.decided_at) if row.decided_at else None,
            "withdrawn_by": row.withdrawn_by, "withdrawn_at": utc_iso(row.withdrawn_at) if row.withdrawn_at else None,
            "withdrawn_reason": row.withdrawn_reason}


def flags_of(choice: Mapping[str, Any]) -> Flags:
    """The facts of a choice (the API's, with dates) or of a stored decision's case_flags (dates as text)."""
    def day(value: Any) -> date | None:
        return date.fromisoformat(value) if isinstance(value, str) else value if isinstance(value, date) else None

    return Flags(bool(choice.get("refused_to_correct")), bool(choice.get("serious_consequences")),
                 tuple(choice.get("intent_items") or ()), tuple(choice.get("circumstances") or ()),
                 tuple(choice.get("factors") or ()), day(choice.get("conduct_from")), day(choice.get("conduct_to")),
                 bool(choice.get("limitation_extended")), bool(choice.get("major_loss")))


# ============================================================ operations


def _case_record(session: Session, record_id: str) -> tuple[ReviewCase, ReceivedRecord]:
    case = session.get(ReviewCase, record_id)
    if case is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    return case, review.record_of(session, case)


def proposal_for(session: Session, record_id: str, flags: Flags) -> dict[str, Any]:
    _case, record = _case_record(session, record_id)
    return proposal(record.record, flags)


def save_proposal(session: Session, record_id: str, actor: StaffAccount, choice: Mapping[str, Any],
                  now: datetime) -> Decision:
    """拟处理 (from 审核中), or a revised proposal (拟处理 / 陈述申辩): the draft decision, with one audit event."""
    case, record = _case_record(session, record_id)
    proposed = proposal(record.record, flags_of(choice))
    fields = check_choice(proposed, choice, local_date(now))
    action = "propose" if case.status == review.REVIEWING else "revise"
    review.act(session, record_id, action, actor, now, reason=choice.get("reason") or "", details={
        "measures": fields["measures"], "fine_yuan": fields["fine_yuan"], "fine_reason": fields["fine_reason"],
        "suspension_months": fields["suspension_months"], "recover_yuan": fields["recover_yuan"]})
    draft = session.get(Decision, record_id) or Decision(record_id=record_id, version=record.version,
                                                         record_hash=record.record_hash,
                                                         institution_code=record.institution_code)
    if draft.status != "draft":
        raise ReviewError(409, "already_decided", "本案已作出决定")
    for name, value in fields.items():
        setattr(draft, name, value)
    draft.version, draft.record_hash = record.version, record.record_hash
    draft.drafted_by, draft.drafted_at = actor.username, now
    session.add(draft)
    return draft


def _decision_no(session: Session, doc_kind: str, year: int) -> str:
    prefix = "医保协处" if doc_kind == "协议处理" else "医保行处"
    return f"{prefix}〔{year}〕{next_seq(session, f'decision-no-{prefix}-{year}')}号"


def issue(session: Session, record_id: str, actor: StaffAccount, now: datetime) -> Decision:
    """作出决定 (after 陈述申辩): the draft becomes the decision, numbered; 责令改正 opens a rectification order."""
    draft = session.get(Decision, record_id)
    if draft is None or draft.status != "draft":
        raise ReviewError(409, "no_proposal", "本案没有拟处理意见")
    settings = case_settings.snapshot(session)
    case = review.act(session, record_id, "decide", actor, now, details={"measures": draft.measures,
                                                                        "fine_yuan": draft.fine_yuan,
                                                                        "agency": settings[case_settings.AGENCY]})
    _check_may_penalise(session, case, draft)
    # what the 决定书, 协议处理通知书 and 移送书 print from the settings, as issued (`decision_for_pdf`)
    case.procedure = {**(case.procedure or {}), "decision": {"settings": settings}}
    draft.status, draft.decided_by, draft.decided_at = "issued", actor.username, now
    draft.decision_no = _decision_no(session, draft.doc_kind, local_date(now).year)
    draft.person_points = person_points_as_issued(session, draft, local_date(now))
    _close_followups(session, case, now)  # before this decision's own order, which must stay open
    if RECTIFY in draft.measures:
        order = RectificationOrder(institution_code=draft.institution_code, ordered_at=local_date(now),
                                   due_date=draft.rectification_due, note=f"{draft.decision_no} 责令改正")
        session.add(order)
        session.flush()
        draft.rectification_order_id = order.id
    session.add(draft)
    return draft


def person_points_as_issued(session: Session, draft: Decision, on: date) -> list[dict[str, Any]]:
    """The decision's people's points, each with the 医保支付资格 status it leaves the person in on the decision day
    (the standing decisions and this one counted; an earlier year's 终止 or 暂停 still running), as the
    协议处理通知书 prints it."""
    others = [d for d in load_decisions(session) if d["record_id"] != draft.record_id]
    rows = {row["staff_code"]: row for row in ledger.people(ledger.entries([*others, decision_json(draft)]), on)}
    return [{**p, "status": {k: v for k, v in rows[p["staff_code"]].items() if k != "staff_code"}}
            for p in draft.person_points]


def _check_may_penalise(session: Session, case: ReviewCase, draft: Decision) -> None:
    """No penalty beyond the 时效 (行政处罚法 Art. 36), and no second fine for the same conduct (Art. 29)."""
    record = review.record_of(session, case).record
    flags = flags_of(draft.case_flags)
    penalties = [m for m in draft.measures if m in penalty.penalty_rules().no_penalty.suppresses]
    limitation = limitation_of(record, flags)
    if penalties and limitation and limitation["expired"]:
        raise ReviewError(409, "limitation_expired", f"{limitation['message']}：拟处理意见中的"
                          f"{'、'.join(penalties)}不能作出，请修改拟处理意见（不予行政处罚）")
    period = conduct_period(record, flags)
    if draft.fine_yuan is None or period is None:
        return
    categories = {f["category"] for f in (draft.proposal or {}).get("findings", [])}
    earlier = session.exec(select(Decision).where(
        Decision.institution_code == draft.institution_code, Decision.status == "issued",
        Decision.fine_yuan != None, Decision.record_id != draft.record_id)  # noqa: E711
        .order_by(col(Decision.decided_at)))
    fined = []
    for row in earlier:
        other_case = session.get(ReviewCase, row.record_id)
        other = conduct_period(review.record_of(session, other_case).record, flags_of(row.case_flags)) \
            if other_case else None
        if other is not None:
            fined.append({"decision_no": row.decision_no, "period": other,
                          "categories": [f["category"] for f in (row.proposal or {}).get("findings", [])]})
    same = earlier_fine(categories, period, fined)
    if same is not None:
        shared = "、".join(sorted(categories & set(same["categories"])))
        raise ReviewError(409, "already_fined", f"一事不再罚（行政处罚法第二十九条）：{same['decision_no']} 已对该机构"
                          f"同一违法行为（违规类别 {shared}，行为期间 {same['period'][0].isoformat()}～"
                          f"{same['period'][1].isoformat()}）处以罚款，不得再次罚款；请修改拟处理意见")


def close_without_violation(session: Session, record_id: str, actor: StaffAccount, reason: str,
                            now: datetime) -> Decision:
    """审核结案: no findings, nothing to decide; the outcome (未发现问题) is still published."""
    case = review.act(session, record_id, "close", actor, now, reason=reason)
    record = review.record_of(session, case)
    existing = session.get(Decision, record_id)
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = Decision(record_id=record_id, version=record.version, record_hash=record.record_hash,
                   institution_code=record.institution_code, outcome="no_violation", status="issued",
                   drafted_by=actor.username, drafted_at=now, decided_by=actor.username, decided_at=now)
    session.add(row)
    _close_followups(session, case, now)
    return row


def _close_followups(session: Session, case: ReviewCase, now: datetime) -> None:
    """A decided 回头看 inspection closes the institution's rectification orders made before it."""
    record = review.record_of(session, case)
    if record.record.get("inspection_kind") != "followup" or case.inspected_on is None:
        return
    for order in session.exec(select(RectificationOrder).where(
            RectificationOrder.institution_code == case.institution_code,
            RectificationOrder.closed_at == None,  # noqa: E711
            RectificationOrder.ordered_at <= case.inspected_on)):
        order.closed_at = now
        order.note = f"{order.note}；回头看已检查（记录 {case.record_id}）".lstrip("；")
        session.add(order)


def withdraw(session: Session, record_id: str, actor: StaffAccount, reason: str, now: datetime) -> Decision:
    """经复议撤销: the decision stays on file as withdrawn; the ledgers reverse what it fed; its order closes."""
    decision = session.get(Decision, record_id)
    if decision is None or decision.status != "issued":
        raise ReviewError(409, "not_issued", "本案没有已作出的决定")
    review.act(session, record_id, "withdraw", actor, now, reason=reason,
               details={"decision_no": decision.decision_no})
    decision.status, decision.withdrawn_by, decision.withdrawn_at = "withdrawn", actor.username, now
    decision.withdrawn_reason = reason.strip()
    if decision.rectification_order_id is not None:
        order = session.get(RectificationOrder, decision.rectification_order_id)
        if order is not None and order.closed_at is None:
            order.closed_at = now
            order.note = f"{order.note}；决定已经复议撤销"
            session.add(order)
    session.add(decision)
    return decision


def decision_for_pdf(session: Session, record_id: str) -> dict[str, Any]:
    """What `bureau.decision_pdf.render_decision_pdf` prints: the decision with its record, party and hearing, and
    the settings as the decision was issued with them (`case_settings.as_issued`)."""
    decision = session.get(Decision, record_id)
    if decision is None or decision.outcome != "handled" or decision.status == "draft":
        raise ReviewError(404, "no_decision", "本案尚未作出处理决定")
    case = session.get(ReviewCase, record_id)
    record = session.get(ReceivedRecord, (record_id, decision.version))
    if case is None or record is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    institution = session.get(Institution, decision.institution_code)
    # the facts the 决定书 states are the findings the bureau derived (as the proposal was), not the tablet's
    facts = {**record.record, "findings": review.findings_check(record.record).findings}
    representative = (record.record.get("checkin") or {}).get("legal_representative")
    authority = issuer(session, record_id)
    shown = case_settings.as_issued(((case.procedure or {}).get("decision") or {}).get("settings"),
                                    {**case_settings.snapshot(session), case_settings.AGENCY: authority})
    return {"decision": decision_json(decision), "record": facts, "record_hash": record.record_hash,
            "log_index": record.log_index,
            "institution": {"code": decision.institution_code, "name": institution.name if institution else "",
                            "address": institution.address if institution else "",
                            "credit_code": institution.credit_code if institution else "",
                            "kind": institution.kind if institution else "",
                            "legal_representative_person": {"name": representative["name"],
                                                            "title": representative["title"]} if representative else None,
                            "legal_representative": f"{representative['name']}（{representative['title']}）"
                            if representative else None},
            "inspected_on": case.inspected_on.isoformat() if case.inspected_on else None,
            "statement": {"deadline": case.statement_deadline.isoformat() if case.statement_deadline else None,
                          "text": case.statement_text, "waived": case.statement_waived},
            "authority": shown.pop(case_settings.AGENCY) or authority, "settings": shown,
            # 条例 第三十条: the suspensions during the investigation, with what this decision makes of them
            "interim_suspensions": procedure.suspensions_shown(case.procedure or {}, procedure.DECIDED,
                                                               (decision.proposal or {}).get("articles") or [])}


def issuer(session: Session, record_id: str) -> str:
    """The agency that issued the decision, as its audit event recorded it (a later rename does not change a
    decision already issued); the current name for decisions issued before the event recorded it."""
    event = session.exec(select(ReviewEvent).where(ReviewEvent.record_id == record_id, ReviewEvent.action == "decide")
                         .order_by(col(ReviewEvent.seq).desc())).first()
    return (event.details.get("agency") if event else None) or agency_name(session)

