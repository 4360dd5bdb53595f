"""Review of received inspection records: the status machine, the audit log, and what a reviewer sees.

The flow (DESIGN.md data flow 8)::

    已接收 → 审核中 → 退回补正 (a correction request goes to the tablet; the corrected version brings the case back
                       to 已接收, linked to the old one)
                   → 拟处理 → 陈述申辩 (a deadline; the institution's statement) → 已决定 → 已公开
                   → 已决定 (closed: no findings)
    已决定 / 已公开 → 已撤销 (the decision withdrawn on 复议)

The rules are pure (first half): `next_status` decides whether an action is allowed from a status and for whom, and
`event_hash` chains the audit events. The operations below them are thin: each locks the case row, checks the rule,
changes the case and appends exactly one event, in the caller's transaction (the route commits).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import checklists
from bureau import case_settings, procedure
from bureau.assignments import next_seq, utc_iso
from bureau.models import (
    CasePayment,
    CorrectionRequest,
    Decision,
    DeviceKey,
    Institution,
    ReceivedRecord,
    ReviewCase,
    ReviewEvent,
    ScreeningHit,
    StaffAccount,
)
from bureau.problems import ReviewError
from bureau.screening.rules import finding_rules
from checklists.findings import derive_findings, differences, suspicion_findings
from checklists.vocabulary import vocabulary
from documents.signature import unbound_in_record
from sync.canonical import content_hash
from sync.envelope import RECORD_SIGNING_DOMAIN

RECEIVED, REVIEWING, RETURNED, PROPOSED, HEARING, DECIDED, PUBLISHED, WITHDRAWN = (
    "已接收", "审核中", "退回补正", "拟处理", "陈述申辩", "已决定", "已公开", "已撤销")
STATUSES = (RECEIVED, REVIEWING, RETURNED, PROPOSED, HEARING, DECIDED, PUBLISHED, WITHDRAWN)
SYSTEM = "system"
GENESIS = "0" * 64
CORRECTIONS_COUNTER = "corrections"
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Action:
    label: str
    sources: tuple[str | None, ...]
    target: str | None  # None: the status stays
    needs_reason: bool = False
    system: bool = False  # taken by the bureau itself (ingest, 一公开), never by a person


ACTIONS: dict[str, Action] = {
    "receive": Action("接收检查记录", (None,), RECEIVED, system=True),
    "resubmit": Action("收到更正版本", (RECEIVED, REVIEWING, RETURNED, PROPOSED, HEARING), RECEIVED, system=True),
    "late_version": Action("决定作出后收到更正版本", (DECIDED, PUBLISHED, WITHDRAWN), None, system=True),
    "start": Action("开始审核", (RECEIVED,), REVIEWING),
    "return": Action("退回补正", (REVIEWING,), RETURNED, needs_reason=True),
    "close": Action("审核结案（未发现问题）", (REVIEWING,), DECIDED, needs_reason=True),
    "propose": Action("提出拟处理意见", (REVIEWING,), PROPOSED, needs_reason=True),
    "revise": Action("修改拟处理意见", (PROPOSED, HEARING), None, needs_reason=True),
    "reopen": Action("撤回拟处理意见，重新审核", (PROPOSED,), REVIEWING, needs_reason=True),
    "notify": Action("告知拟处理意见，听取陈述申辩", (PROPOSED,), HEARING),
    "statement": Action("记录陈述申辩", (HEARING,), None),
    "decide": Action("作出决定", (HEARING,), DECIDED),
    "publish": Action("一公开", (DECIDED,), PUBLISHED, system=True),
    "withdraw": Action("经复议撤销决定", (DECIDED, PUBLISHED), WITHDRAWN, needs_reason=True),
}


@dataclass(frozen=True)
class CaseFacts:
    """What the rules look at besides the status."""

    status: str | None
    findings: int
    today: date
    statement_deadline: date | None = None
    statement_recorded: bool = False  # a statement was received, or the institution waived it
    actor_inspected: bool = False  # the actor was on the inspection team (回避: cannot decide on it)


def next_status(facts: CaseFacts, action: str, *, system: bool, reason: str = "") -> str | None:
    """The status after `action`, or ReviewError saying why it may not be taken now (None: unknown status)."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise ReviewError(422, "unknown_action", f"未知的审核操作：{action}")
    if rule.system != system:
        raise ReviewError(403, "system_action" if rule.system else "not_a_person",
                          f"“{rule.label}”由系统自动记录，不能手工操作" if rule.system else "该操作须由审核人员进行")
    if facts.status not in rule.sources:
        allowed = "、".join(s or "（无）" for s in rule.sources)
        raise ReviewError(409, "wrong_status", f"当前状态为“{facts.status or '无'}”，不能{rule.label}（仅限：{allowed}）")
    if not system and facts.actor_inspected:
        raise ReviewError(403, "own_inspection", "您参与了这次现场检查，依回避规定不能审核或处理本案")
    if rule.needs_reason and not reason.strip():
        raise ReviewError(422, "reason_required", f"{rule.label}须写明理由")
    if action in ("propose", "revise") and facts.findings == 0:
        raise ReviewError(409, "no_findings", "这次检查没有发现问题，无需拟处理；请审核结案")
    if action == "close" and facts.findings > 0:
        raise ReviewError(409, "has_findings", f"这次检查发现 {facts.findings} 项问题，不能直接结案；请提出拟处理意见")
    if action == "notify" and (facts.statement_deadline is None or facts.statement_deadline <= facts.today):
        raise ReviewError(422, "bad_deadline", "请设定晚于今天的陈述申辩期限")
    if action == "decide" and not facts.statement_recorded and (
            facts.statement_deadline is None or facts.today <= facts.statement_deadline):
        raise ReviewError(409, "hearing_open", f"陈述申辩期限（{facts.statement_deadline}）未满，且尚未收到当事人的"
                                               "陈述申辩或放弃声明，不能作出决定（条例第三十一条）")
    return rule.target if rule.target is not None else facts.status


def allowed_actions(facts: CaseFacts) -> list[str]:
    """The actions a person may take now (the screen's buttons). The deadline of 告知 is chosen with the action, so
    it is assumed valid here; 作出决定 stays out until the hearing is over."""
    probe = replace(facts, statement_deadline=facts.today + timedelta(days=1)) if facts.status == PROPOSED else facts
    out = []
    for name, rule in ACTIONS.items():
        if rule.system:
            continue
        try:
            next_status(probe, name, system=False, reason="理由")
        except ReviewError:
            continue
        out.append(name)
    return out


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """SHA-256 over the previous event's hash and this event's content (canonical JSON)."""
    return content_hash({"prev_hash": prev_hash, "event": dict(event)})


def event_content(row: ReviewEvent) -> dict[str, Any]:
    """The hashed fields of an event, in a form that survives a round trip through either database."""
    return {"record_id": row.record_id, "seq": row.seq, "version": row.version, "action": row.action,
            "from_status": row.from_status, "to_status": row.to_status, "actor": row.actor,
            "actor_role": row.actor_role, "at": utc_iso(row.at), "reason": row.reason, "details": row.details}


def chain_problems(rows: Sequence[ReviewEvent], count: int, head: str) -> list[str]:
    """Where the audit log of one case was tampered with: a gap, an edited event, a broken link, or events missing at
    the end (the case row keeps the count and the last hash). Empty: intact."""
    problems, prev = [], GENESIS
    for expected, row in enumerate(rows):
        if row.seq != expected:
            problems.append(f"第 {expected + 1} 条记录缺失")
            break
        if row.prev_hash != prev or row.event_hash != event_hash(prev, event_content(row)):
            label = ACTIONS[row.action].label if row.action in ACTIONS else row.action
            problems.append(f"第 {expected + 1} 条记录（{label}）与审计链不符")
        prev = row.event_hash
    if not problems and (len(rows) != count or prev != (head or GENESIS)):
        problems.append(f"审计记录应有 {count} 条，现有 {len(rows)} 条，或最后一条与案件记载不符")
    return problems


def verify_signatures(record: Mapping[str, Any], record_hash: str, signatures: Sequence[Mapping[str, Any]],
                      keys: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Check again, now, what ingest checked on arrival: the record still hashes to its hash, and each inspector's
    signature verifies under the device key registered for them. `keys`: key id → {public_key (base64), inspector,
    status, device_id}."""
    message = RECORD_SIGNING_DOMAIN + record_hash.encode("ascii")
    results = []
    for signature in signatures:
        key = keys.get(signature["key_id"])
        valid = False
        if key is not None and key["inspector"] == signature["inspector"]:
            try:
                Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"])).verify(
                    base64.b64decode(signature["signature_b64"]), message)
                valid = True
            except (InvalidSignature, ValueError):
                valid = False
        results.append({"inspector": signature["inspector"], "key_id": signature["key_id"], "valid": valid,
                        "key_status": key["status"] if key else "unknown",
                        "device_id": key["device_id"] if key else None})
    hash_ok = content_hash(dict(record)) == record_hash
    unbound = unbound_in_record(record, {r["inspector"] for r in results if r["valid"]})
    return {"record_hash_ok": hash_ok, "signatures": results, "unbound": unbound,
            "all_valid": hash_ok and bool(results) and all(r["valid"] for r in results) and not unbound}


@dataclass(frozen=True)
class FindingsCheck:
    """The findings the bureau derives from a record's answers and pinned template (what any measure rests on),
    and how the tablet's own differ from them (empty: they agree)."""

    findings: list[dict[str, Any]]
    differences: list[str]
    problem: str | None = None  # why nothing could be derived (only a record stored before ingest checked it)

    def to_json(self) -> dict[str, Any]:
        return {"findings": self.findings, "differences": self.differences, "problem": self.problem}


def _staff_codes(finding: Any) -> list[str]:
    codes = finding.get("staff_codes") if isinstance(finding, dict) else None
    return list(codes) if isinstance(codes, list) and all(isinstance(c, str) for c in codes) else []


def findings_check(record: Mapping[str, Any]) -> FindingsCheck:
    """Derive the findings again (`checklists.findings`), with the responsible staff the tablet named for each item
    (the one thing answers do not hold), and compare them with what the tablet reported. Tolerates any stored
    record, however malformed."""
    try:
        template = checklists.resolve_template(f"{record['template_id']}@{record['template_hash']}")
        derived = derive_findings(template, record.get("answers"))
        confirmed = suspicion_findings(record.get("suspicion_checks"), finding_rules())
    except (checklists.InputError, KeyError, TypeError, AttributeError) as exc:
        return FindingsCheck([], [], f"无法按答案与模板重算问题：{exc}"[:500])
    reported = record.get("findings")
    told = [f for f in reported if isinstance(f, dict) and isinstance(f.get("item_id"), str)] \
        if isinstance(reported, list) else []
    staff = {f["item_id"]: _staff_codes(f) for f in told}
    findings = [{**f, "staff_codes": staff.get(f["item_id"], [])} for f in derived]
    # the 疑点 confirmed on site are findings too; the tablet does not report them among its own
    return FindingsCheck(findings + [{**f, "staff_codes": []} for f in confirmed], differences(reported, derived))


def counted_findings(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings a record counts as everywhere (the case, the dashboard, 一公开): the bureau's derived ones. Only
    a record stored before ingest checked it, whose findings cannot be derived, counts the tablet's own."""
    check = findings_check(record)
    if not check.problem:
        return check.findings
    reported = record.get("findings")
    return [f for f in reported if isinstance(f, dict) and isinstance(f.get("category"), str)] \
        if isinstance(reported, list) else []


def local_date(moment: datetime) -> date:
    """The bureau's calendar day of a moment (naive values are UTC, as both databases may return them)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone().date()


def inspected_on(record: Mapping[str, Any]) -> date | None:
    stamp = record.get("locked_at") or record.get("created_at")
    try:
        return local_date(datetime.fromisoformat(stamp)) if stamp else None
    except ValueError:
        return None


def inspected_by(record: Mapping[str, Any], signers: Iterable[str]) -> set[str]:
    """Everyone who took part in the inspection: the team, whoever opened it, whoever signed."""
    return {*record.get("team", []), *([record["inspector_code"]] if record.get("inspector_code") else []), *signers}


# ============================================================ operations


def _case_facts(case: ReviewCase | None, record: ReceivedRecord | None, actor: StaffAccount | None,
                today: date) -> CaseFacts:
    performed = bool(actor and actor.inspector_code and record is not None
                     and actor.inspector_code in inspected_by(record.record, record.signers))
    return CaseFacts(
        status=case.status if case else None, findings=case.findings if case else 0, today=today,
        statement_deadline=case.statement_deadline if case else None,
        statement_recorded=bool(case and (case.statement_waived or case.statement_received_at is not None)),
        actor_inspected=performed)


def _append_event(session: Session, case: ReviewCase, action: str, from_status: str | None, actor: str,
                  actor_role: str, now: datetime, reason: str, details: Mapping[str, Any]) -> ReviewEvent:
    row = ReviewEvent(record_id=case.record_id, seq=case.events, version=case.version, action=action,
                      from_status=from_status, to_status=case.status, actor=actor, actor_role=actor_role, at=now,
                      reason=reason.strip(), details=dict(details), prev_hash=case.last_event_hash or GENESIS,
                      event_hash="")
    row.event_hash = event_hash(row.prev_hash, event_content(row))
    case.events += 1
    case.last_event_hash = row.event_hash
    case.updated_at = now
    session.add(row)
    session.add(case)
    return row


def _locked_case(session: Session, record_id: str) -> ReviewCase:
    case = session.exec(select(ReviewCase).where(ReviewCase.record_id == record_id).with_for_update()).first()
    if case is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    return case


def record_of(session: Session, case: ReviewCase) -> ReceivedRecord:
    record = session.get(ReceivedRecord, (case.record_id, case.version))
    assert record is not None  # a case is opened and moved on only with its stored record, never deleted
    return record


def act(session: Session, record_id: str, action: str, actor: StaffAccount | None, now: datetime, *,
        reason: str = "", details: Mapping[str, Any] | None = None, statement_deadline: date | None = None,
        ) -> ReviewCase:
    """Take `action` on the case (actor None: the bureau itself), with one audit event. The caller commits."""
    case = _locked_case(session, record_id)
    facts = _case_facts(case, record_of(session, case), actor, local_date(now))
    if statement_deadline is not None:
        facts = replace(facts, statement_deadline=statement_deadline)
    target = next_status(facts, action, system=actor is None, reason=reason)
    assert target is not None  # None only when the status was None, and an existing case always has one
    if action == "decide":
        context = procedure_context(session, case, actor, now)
        procedure.need_filing(case.procedure or {}, context, procedure.DECIDE)
        problems = procedure.decide_problems(case.procedure or {}, context)
        if problems:
            raise ReviewError(409, "procedure_incomplete", "；".join(problems))
    before = case.status
    case.status = target
    if statement_deadline is not None:
        case.statement_deadline = statement_deadline
    _append_event(session, case, action, before, actor.username if actor else SYSTEM,
                  actor.role if actor else SYSTEM, now, reason, details or {})
    return case


def procedure_context(session: Session, case: ReviewCase, actor: StaffAccount | None,
                      now: datetime) -> procedure.Context:
    """What the procedure's rules look at besides its own record: the status, who acts, the draft or decision."""
    row = session.get(Decision, case.record_id)
    handled = row is not None and row.outcome == "handled" and row.status != "withdrawn"
    terms = procedure.terms({"measures": row.measures, "fine_yuan": row.fine_yuan, "proposal": row.proposal,
                             "suspension_months": row.suspension_months, "recover_yuan": row.recover_yuan}) \
        if row is not None and handled else None
    record = record_of(session, case)
    performed = bool(actor and actor.inspector_code
                     and actor.inspector_code in inspected_by(record.record, record.signers))
    decided = local_date(row.decided_at) if row is not None and handled and row.decided_at else None
    proposal = (row.proposal or {}) if row is not None and handled else {}
    return procedure.Context(status=case.status, today=local_date(now), actor=actor.username if actor else SYSTEM,
                             actor_inspected=performed, drafted_by=row.drafted_by if row is not None else "",
                             penalty=terms, decided_on=decided, inspected_on=case.inspected_on,
                             party_kind=(proposal.get("party") or {}).get("kind") or "institution",
                             articles=tuple(proposal.get("articles") or ()) if row is not None
                             else finding_articles(record.record))


def finding_articles(record: Mapping[str, Any]) -> tuple[int, ...]:
    """The articles of 条例 the record's findings fall under (their categories'), before there is a draft."""
    categories = vocabulary().categories
    return tuple(sorted({categories[f["category"]].article for f in counted_findings(record)
                         if f.get("category") in categories}))


def take_step(session: Session, record_id: str, step: str, actor: StaffAccount, now: datetime,
              change: Callable[[dict[str, Any], procedure.Context], dict[str, Any]], reason: str = "") -> ReviewCase:
    """A step of the penalty procedure (`bureau.procedure`): the pure rule changes the case's procedure record, the
    status stays, one audit event holds what changed. The caller commits."""
    case = _locked_case(session, record_id)
    before = dict(case.procedure or {})
    context = procedure_context(session, case, actor, now)
    if context.actor_inspected:  # 回避 on every step a person takes, whatever the step's own rule checks
        raise ReviewError(403, "own_inspection", "您参与了这次现场检查，依回避规定不能办理本案（行政处罚法第四十三条）")
    after = change(before, context)
    case.procedure = after
    case.filed_on = date.fromisoformat(after["filed_on"]) if after.get("filed_on") else None
    _append_event(session, case, step, case.status, actor.username, actor.role, now, reason,
                  {key: value for key, value in after.items() if before.get(key) != value})
    return case


def receive_record(session: Session, record: ReceivedRecord, now: datetime) -> None:
    """Open the case (已接收) of a newly stored record, or move its case on to a corrected version (after the decision
    the version is only noted), with one audit event. Ingest calls it in the transaction that stores the record."""
    case = session.exec(select(ReviewCase).where(ReviewCase.record_id == record.record_id).with_for_update()).first()
    if case is None:
        open_case(session, record, now)
        return
    if case.version >= record.version:  # another process's backfill took this version in first
        return
    action = "late_version" if case.status in ACTIONS["late_version"].sources else "resubmit"
    before, old_version = case.status, case.version
    target = next_status(_case_facts(case, record, None, local_date(now)), action, system=True)
    assert target is not None  # None only when the status was None, and an existing case always has one
    case.status = target
    if action == "resubmit":
        _refresh_from_record(case, record)
        _discard_draft(session, record.record_id)
    _append_event(session, case, action, before, SYSTEM, SYSTEM, now, record.record.get("correction_reason", ""),
                  {"from_version": old_version, "to_version": record.version, "record_hash": record.record_hash})


def open_case(session: Session, record: ReceivedRecord, now: datetime) -> None:
    """Open the case (已接收) of a record whose id has none yet, with its audit event: `receive_record` once it found
    none, and ingest for a first version it stores (no case opens without a stored record of its id, and version 1
    is stored only when no record of that id is). The caller commits."""
    status = next_status(CaseFacts(None, 0, local_date(now)), "receive", system=True)
    assert status is not None  # "receive" always targets 已接收
    case = ReviewCase(record_id=record.record_id, version=record.version, institution_code=record.institution_code,
                      status=status)
    _refresh_from_record(case, record)
    _append_event(session, case, "receive", None, SYSTEM, SYSTEM, now, "", {"record_hash": record.record_hash})


def backfill_cases(session: Session, now: datetime) -> int:
    """`receive_record` for the latest version of every record no case has taken in yet: records stored before
    ingest opened cases itself. Idempotent; run at server start and before an 一公开 export. Returns how many records
    it took in; commits. Another process backfilling at the same moment makes the loser's commit fail harmlessly."""
    latest = dict(session.exec(select(ReceivedRecord.record_id, func.max(ReceivedRecord.version))
                               .group_by(ReceivedRecord.record_id)).all())
    taken_in = dict(session.exec(select(ReviewCase.record_id, ReviewCase.version)).all())
    for record_id, details in session.exec(select(ReviewEvent.record_id, ReviewEvent.details)
                                           .where(ReviewEvent.action == "late_version")):
        taken_in[record_id] = max(taken_in[record_id], details["to_version"])  # noted; the case stays on its version
    behind = [(record_id, version) for record_id, version in latest.items() if taken_in.get(record_id, 0) < version]
    for key in behind:
        receive_record(session, session.get_one(ReceivedRecord, key), now)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return 0
    return len(behind)


def _refresh_from_record(case: ReviewCase, record: ReceivedRecord) -> None:
    reviewed = case.version
    case.version = record.version
    case.findings = len(counted_findings(record.record))
    case.inspected_on = inspected_on(record.record)
    case.statement_deadline, case.statement_text, case.statement_waived = None, "", False
    case.statement_received_at, case.attachment_sha256, case.attachment_name = None, None, ""
    case.procedure = procedure.after_new_version(case.procedure or {}, reviewed)


def _discard_draft(session: Session, record_id: str) -> None:
    """A draft proposal was about the old version: a corrected version is reviewed afresh."""
    draft = session.get(Decision, record_id)
    if draft is not None and draft.status == "draft":
        session.delete(draft)


def start(session: Session, record_id: str, actor: StaffAccount, now: datetime) -> ReviewCase:
    return act(session, record_id, "start", actor, now)


def return_for_correction(session: Session, record_id: str, actor: StaffAccount, reason: str,
                          now: datetime) -> ReviewCase:
    """退回补正: the team's tablets receive a correction request for the version under review on their next sync."""
    case = act(session, record_id, "return", actor, now, reason=reason)
    request_correction(session, record_id, case.version, reason.strip(), now)
    return case


def request_correction(session: Session, record_id: str, version: int, reason: str, now: datetime) -> CorrectionRequest:
    """The correction request the team's devices receive on their next pull (`bureau.ingest.updates_for`). The
    caller commits."""
    record = session.get(ReceivedRecord, (record_id, version))
    if record is None:
        raise ReviewError(404, "unknown_record", f"局端没有记录 {record_id}（第 {version} 版）")
    request = CorrectionRequest(id=str(uuid.uuid4()), record_id=record_id, version=version,
                                assignment_id=record.assignment_id, reason=reason, requested_at=now,
                                seq=next_seq(session, CORRECTIONS_COUNTER))
    session.add(request)
    return request


def notify(session: Session, record_id: str, actor: StaffAccount, deadline: date | None, now: datetime,
           served_on: date | None = None) -> ReviewCase:
    """告知: the proposal goes to the institution, which may state its case until the deadline: counted from the day
    the 告知书 was served (`served_on`, per checklists/rules/procedure.toml), or as given. What was notified is kept
    (a heavier decision needs a new notice: 行政处罚法 Art. 45)."""
    case = _locked_case(session, record_id)
    told = procedure.notice(case.procedure or {}, procedure_context(session, case, actor, now),
                            served_on or local_date(now))
    if served_on is not None:
        deadline = date.fromisoformat(told["notice"]["statement_deadline"])
    elif deadline is None:
        raise ReviewError(422, "bad_deadline", "请填写告知书的送达日期，或设定陈述申辩期限")
    told["notice"]["statement_deadline"] = deadline.isoformat()
    told["notice"].update(_as_issued(session, case))
    case = act(session, record_id, "notify", actor, now, statement_deadline=deadline,
               details={"deadline": deadline.isoformat(), "served_on": told["notice"]["served_on"],
                        "hearing_right": told["notice"]["hearing_right"]})
    case.procedure = told
    return case


def _as_issued(session: Session, case: ReviewCase) -> dict[str, Any]:
    """What a 告知书 prints beyond its notice, kept with it so that the served document does not change: the record
    version it is about and the settings (`case_settings.snapshot`)."""
    return {"version": case.version, "settings": case_settings.snapshot(session)}


def renotify(session: Session, record_id: str, actor: StaffAccount, served_on: date, reason: str,
             now: datetime) -> ReviewCase:
    """重新告知 (a heavier proposal, or new facts): a new 告知书 with new deadlines; the earlier statement and any
    hearing request belong to the earlier notice."""
    if not reason.strip():
        raise ReviewError(422, "reason_required", "重新告知须写明理由（新的事实或拟加重的处理）")

    def change(proc: dict[str, Any], ctx: procedure.Context) -> dict[str, Any]:
        if ctx.status != HEARING:
            raise ReviewError(409, "wrong_status", f"当前状态为“{ctx.status}”，不能重新告知（仅限：{HEARING}）")
        if ctx.actor_inspected:
            raise ReviewError(403, "own_inspection", "您参与了这次现场检查，依回避规定不能审核或处理本案")
        told = procedure.notice(proc, ctx, served_on)
        told["notice"].update(_as_issued(session, session.get_one(ReviewCase, record_id)))
        return told

    case = take_step(session, record_id, "renotify", actor, now, change, reason)
    case.statement_deadline = date.fromisoformat(case.procedure["notice"]["statement_deadline"])
    case.statement_text, case.statement_waived, case.statement_received_at = "", False, None
    case.attachment_sha256, case.attachment_name = None, ""
    return case


def record_statement(session: Session, settings_data_dir: Path, record_id: str, actor: StaffAccount, now: datetime,
                     *, text: str, waived: bool, attachment: bytes | None = None,
                     attachment_name: str = "") -> ReviewCase:
    """The institution's statement (陈述申辩) as received, with its written copy, or its waiver."""
    text = text.strip()
    if not waived and not text:
        raise ReviewError(422, "statement_empty", "请填写当事人陈述申辩的内容，或注明当事人放弃陈述申辩")
    if attachment is not None and len(attachment) > MAX_ATTACHMENT_BYTES:
        raise ReviewError(413, "too_large", "附件过大（上限 20 MB）")
    sha = hashlib.sha256(attachment).hexdigest() if attachment else None
    case = act(session, record_id, "statement", actor, now, reason="当事人放弃陈述申辩" if waived else "",
               details={"waived": waived, "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "attachment_sha256": sha, "attachment_name": attachment_name})
    if attachment:
        assert sha is not None  # computed above whenever there is an attachment
        path = statement_path(settings_data_dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            partial = path.with_suffix(".part")
            partial.write_bytes(attachment)
            partial.replace(path)
        case.attachment_sha256, case.attachment_name = sha, attachment_name[:200]
    case.statement_text, case.statement_waived, case.statement_received_at = text, waived, now
    session.add(case)
    return case


def statement_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "statements" / sha256[:2] / sha256


# ============================================================ what the screens read


@dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None
    region: str | None = None  # a prefix of the 区划代码 (350102, or 3501 for the whole city)
    status: str | None = None
    critical: bool | None = None
    min_score: Decimal | None = None
    max_score: Decimal | None = None
    mismatch: bool | None = None


def queue(session: Session, filters: QueueFilter, today: date | None = None) -> list[dict[str, Any]]:
    """The cases, newest first, with what the queue shows; filters by kind, region, status, critical, score. The
    procedure's clock (days left of the 90, 超期) is counted at `today` (the bureau's today when None)."""
    today = today or local_date(datetime.now(timezone.utc))
    # sqlmodel's select() overloads stop at 4 entities; at runtime it takes any number
    query = (select(ReviewCase,  # type: ignore[call-overload]
                    ReceivedRecord.score_computed, ReceivedRecord.score_claimed, ReceivedRecord.score_mismatch,
                    ReceivedRecord.critical, ReceivedRecord.received_at,
                    Institution.name, Institution.kind, Institution.region)
             .join(ReceivedRecord, (ReceivedRecord.record_id == ReviewCase.record_id)
                   & (ReceivedRecord.version == ReviewCase.version))
             .join(Institution, Institution.code == ReviewCase.institution_code, isouter=True))
    if filters.kind:
        query = query.where(Institution.kind == filters.kind)
    if filters.region:
        query = query.where(col(Institution.region).startswith(filters.region))
    if filters.status:
        query = query.where(ReviewCase.status == filters.status)
    if filters.critical is not None:
        query = query.where(ReceivedRecord.critical == filters.critical)
    if filters.mismatch is not None:
        query = query.where(ReceivedRecord.score_mismatch == filters.mismatch)
    rows = []
    for case, computed, claimed, mismatch, critical, received_at, name, kind, region in session.exec(
            query.order_by(col(ReceivedRecord.received_at).desc(), ReviewCase.record_id)):
        score = Decimal(computed) if computed is not None else None
        if filters.min_score is not None and (score is None or score < filters.min_score):
            continue
        if filters.max_score is not None and (score is None or score > filters.max_score):
            continue
        rows.append({"record_id": case.record_id, "version": case.version, "status": case.status,
                     "institution_code": case.institution_code, "institution_name": name or "", "kind": kind,
                     "region": region, "findings": case.findings, "score": computed, "score_claimed": claimed,
                     "score_mismatch": mismatch, "critical": critical,
                     "inspected_on": case.inspected_on.isoformat() if case.inspected_on else None,
                     "received_at": utc_iso(received_at),
                     "statement_deadline": case.statement_deadline.isoformat() if case.statement_deadline else None,
                     "stage": procedure.stage(case.procedure or {}, case.status),
                     "settlement_suspended": procedure.suspension_in_force(case.procedure or {}, case.status) is not None,
                     **procedure.clock(case.procedure or {}, today, case.status in (DECIDED, PUBLISHED, WITHDRAWN))})
    return rows


def audit_log(session: Session, case: ReviewCase) -> tuple[list[dict[str, Any]], list[str]]:
    rows = session.exec(select(ReviewEvent).where(ReviewEvent.record_id == case.record_id)
                        .order_by(col(ReviewEvent.seq))).all()
    events = [{**event_content(row), "label": ACTIONS[row.action].label if row.action in ACTIONS
               else procedure.STEPS.get(row.action, row.action),
               "event_hash": row.event_hash} for row in rows]
    return events, chain_problems(rows, case.events, case.last_event_hash)


def _key_facts(row: DeviceKey) -> dict[str, Any]:
    return {"public_key": row.public_key, "inspector": row.inspector_code, "status": row.status,
            "device_id": row.device_id, "enrolled_at": utc_iso(row.enrolled_at),
            "revoked_at": utc_iso(row.revoked_at) if row.revoked_at else None, "revoked_reason": row.revoked_reason}


def suspicion_checks_shown(session: Session, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's 疑点 checks as a reviewer reads them: the hit's rule, 结算ID and amount beside the verdict, the
    amount confirmed and the note."""
    checks = [c for c in record.get("suspicion_checks") or [] if isinstance(c, dict)]
    hits = {h.hit_id: h for h in session.exec(select(ScreeningHit).where(
        col(ScreeningHit.hit_id).in_([c["hit_id"] for c in checks])))} if checks else {}
    rules = finding_rules()
    return [{"hit_id": c["hit_id"], "rule": c["rule"], "rule_name": rules.get(c["rule"], {}).get("name", c["rule"]),
             "settlement_id": hit.settlement_id if hit else None, "date": (hit.day or hit.month) if hit else None,
             "hit_amount_yuan": hit.amount_yuan if hit else None, "verdict": c["verdict"],
             "amount_yuan": c["amount_yuan"], "note": c["note"], "photos": len(c["photos"])}
            for c in checks for hit in [hits.get(c["hit_id"])]]


def case_detail(session: Session, record_id: str, version: int | None, viewer: StaffAccount,
                now: datetime) -> dict[str, Any]:
    """Everything the review screen shows about one case (the receipt is added by the route, which holds the log)."""
    case = session.get(ReviewCase, record_id)
    if case is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    versions = session.exec(select(ReceivedRecord).where(ReceivedRecord.record_id == record_id)
                            .order_by(col(ReceivedRecord.version))).all()
    shown = next((r for r in versions if r.version == (version or case.version)), None)
    if shown is None:
        raise ReviewError(404, "unknown_version", f"检查记录 {record_id} 没有第 {version} 版")
    institution = session.get(Institution, case.institution_code)
    keys = {row.key_id: _key_facts(row)
            for row in session.exec(select(DeviceKey).where(DeviceKey.device_id == shown.device_id))}
    for signature in shown.signatures:  # a key of another tablet would otherwise show as unknown
        if signature["key_id"] not in keys and (row := session.get(DeviceKey, signature["key_id"])) is not None:
            keys[row.key_id] = _key_facts(row)
    events, problems = audit_log(session, case)
    facts = _case_facts(case, shown if shown.version == case.version else record_of(session, case), viewer,
                        local_date(now))
    corrections = session.exec(select(CorrectionRequest).where(CorrectionRequest.record_id == record_id)
                               .order_by(col(CorrectionRequest.seq))).all()
    return {
        "record_id": record_id, "version": shown.version, "case_version": case.version, "status": case.status,
        "versions": [{"version": r.version, "record_hash": r.record_hash, "previous_hash": r.previous_hash,
                      "received_at": utc_iso(r.received_at), "correction_reason": r.record.get("correction_reason")}
                     for r in versions],
        "institution": {"code": case.institution_code, "name": institution.name if institution else "",
                        "kind": institution.kind if institution else None,
                        "region": institution.region if institution else None,
                        "address": institution.address if institution else "",
                        "credit_code": institution.credit_code if institution else ""},
        "record": shown.record, "record_hash": shown.record_hash, "log_index": shown.log_index,
        "received_at": utc_iso(shown.received_at), "device_id": shown.device_id,
        "score": {"claimed": shown.score_claimed, "computed": shown.score_computed, "critical": shown.critical,
                  "mismatch": shown.score_mismatch},
        "findings_check": findings_check(shown.record).to_json(),
        "suspicion_checks": suspicion_checks_shown(session, shown.record),
        "verification": verify_signatures(shown.record, shown.record_hash, shown.signatures, keys),
        "device_keys": [{k: v for k, v in key.items() if k != "public_key"} | {"key_id": key_id}
                        for key_id, key in keys.items()],
        "statement": {"deadline": case.statement_deadline.isoformat() if case.statement_deadline else None,
                      "text": case.statement_text, "waived": case.statement_waived,
                      "received_at": utc_iso(case.statement_received_at) if case.statement_received_at else None,
                      "attachment_name": case.attachment_name, "attachment_sha256": case.attachment_sha256},
        "corrections": [{"id": c.id, "version": c.version, "reason": c.reason, "status": c.status,
                         "requested_at": utc_iso(c.requested_at)} for c in corrections],
        "audit": events, "audit_problems": problems,
        "own_inspection": facts.actor_inspected,
        "actions": allowed_actions(facts) if viewer.role == "reviewer" else [],
        "procedure": procedure_view(session, case, viewer, now),
    }


def procedure_view(session: Session, case: ReviewCase, viewer: StaffAccount, now: datetime) -> dict[str, Any]:
    """The penalty procedure of a case as the screen shows it: the record, the clock, the stage, the steps the viewer
    may take, what still blocks the decision, and the payments with what is owed per payee."""
    proc = case.procedure or {}
    ctx = procedure_context(session, case, viewer, now)
    payments = [{"kind": p.kind, "payee": p.payee, "amount_yuan": p.amount_yuan, "paid_on": p.paid_on.isoformat(),
                 "reference": p.reference, "recorded_by": p.recorded_by}
                for p in session.exec(select(CasePayment).where(CasePayment.record_id == case.record_id)
                                      .order_by(col(CasePayment.paid_on), col(CasePayment.id)))]
    decided = case.status in (DECIDED, PUBLISHED, WITHDRAWN)
    return {"record": proc, "stage": procedure.stage(proc, case.status),
            **procedure.clock(proc, ctx.today, decided),
            "steps": procedure.available(proc, ctx, viewer.role),
            "decide_blockers": procedure.decide_problems(proc, ctx) if case.status == HEARING else [],
            "notice_blockers": [p for p in [procedure.filing_problem(proc, ctx.penalty, procedure.NOTIFY)] if p]
            if case.status == PROPOSED else [],
            "payments": payments, "payment_due": (due.isoformat() if (due := procedure.payment_due(proc)) else None),
            "dues": procedure.dues(proc, ctx.penalty, payments, ctx.today) if ctx.penalty and proc.get("service") else [],
            "interim_suspensions": procedure.suspensions_shown(proc, case.status, ctx.articles),
            "terms": ctx.penalty}

