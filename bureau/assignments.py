"""Issuing, signing and listing assignments. Devices verify the bureau signature before showing one.

An assignment carries its institution's 疑点 (v3, `sync.assignments`): the hits of the screening run that was the
latest when it was issued, named in its row (`screening_run_id`). They are read again from that run whenever the
assignment is signed or served (`suspicions_of`): a run and its hits never change, so neither does what was signed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bureau.models import (
    Assignment,
    AssignmentMember,
    Counter,
    Inspector,
    Institution,
    ReceivedRecord,
    ScreeningHit,
    ScreeningRun,
)
from bureau.screening.rules import load_rules
from checklists.money import format_money, parse_money
from sync.assignments import MAX_SUSPICIONS, sign_assignment, signed_fields

REVOKED = "已撤回"
SUBMITTED = "已提交"  # once a record of it is stored


class AssignmentError(Exception):
    """An assignment change that is not allowed: HTTP status, reason code, Chinese message."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


def utc_iso(moment: datetime) -> str:
    """A stable text form: databases differ in whether they keep the time zone, the signature must not."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


@dataclass
class NewAssignment:
    """An assignment being issued, before its row exists: what `issue_assignments` signs and bulk-inserts."""

    id: str
    plan_id: str
    institution_code: str
    team: list[str]
    members: list[dict[str, str]]
    reason: str
    issued_at: datetime
    seq: int
    signature: str = ""
    due_date: date | None = None
    revoked: bool = False
    screening_run_id: str | None = None


@dataclass(frozen=True)
class Carried:
    """An assignment's 疑点: the entries it carries (at most `MAX_SUSPICIONS`, the highest amounts, in hit order)
    and how many hits its institution had in the run."""

    suspicions: list[dict[str, Any]]
    total: int


NONE_CARRIED = Carried([], 0)


def carried_hits(hits: list[ScreeningHit]) -> list[ScreeningHit]:
    """The hits an assignment carries: the `MAX_SUSPICIONS` highest amounts (an earlier hit first on a tie), in the
    run's order."""
    kept = sorted(hits, key=lambda h: (-parse_money(h.amount_yuan), h.seq))[:MAX_SUSPICIONS]
    return sorted(kept, key=lambda h: h.seq)


def suspicion_of(hit: ScreeningHit, rule: dict[str, Any]) -> dict[str, Any]:
    """One hit as the 疑点 an assignment carries (`sync.assignments.SUSPICION_FIELDS`), with its rule's name, result
    type and basis."""
    out: dict[str, Any] = {"hit_id": hit.hit_id, "rule": hit.rule, "rule_name": rule["name"],
                           "result": rule["result"], "settlement_id": hit.settlement_id, "person": hit.person}
    if hit.day is not None:
        out["date"] = hit.day
    elif hit.month is not None:
        out["month"] = hit.month
    return {**out, "amount_yuan": format_money(parse_money(hit.amount_yuan)), "evidence": hit.evidence,
            "basis": rule["basis"]}


def _rule_facts(run: ScreeningRun) -> dict[str, dict[str, Any]]:
    """Rule id → name, result type and basis as the run recorded them; a run recorded before it kept names (result
    only) takes them from the rules file."""
    if all("name" in r and "basis" in r for r in run.rules):
        return {r["id"]: {"result": r["result"], "name": r["name"], "basis": r["basis"]} for r in run.rules}
    current = {r.id: {"name": r.name, "basis": r.basis} for r in load_rules()}
    return {r["id"]: {"result": r["result"], "name": current.get(r["id"], {}).get("name", r["id"]),
                      "basis": current.get(r["id"], {}).get("basis", "")} for r in run.rules}


def suspicions_of(session: Session, assignments: list[Assignment] | list[NewAssignment]) -> dict[str, Carried]:
    """Assignment id → its 疑点: its institution's hits in the screening run its row names (none if it names none).
    One query per run and institution."""
    out: dict[str, Carried] = {}
    cache: dict[tuple[str, str], Carried] = {}
    facts: dict[str, dict[str, dict[str, Any]]] = {}
    for a in assignments:
        run_id = a.screening_run_id
        if run_id is None:
            out[a.id] = NONE_CARRIED
            continue
        key = (run_id, a.institution_code)
        if key not in cache:
            if run_id not in facts:
                run = session.get(ScreeningRun, run_id)
                assert run is not None  # named at issue; runs are never deleted
                facts[run_id] = _rule_facts(run)
            hits = list(session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run_id,
                                                                ScreeningHit.institution_code == a.institution_code)))
            cache[key] = Carried([suspicion_of(h, facts[run_id][h.rule]) for h in carried_hits(hits)], len(hits))
        out[a.id] = cache[key]
    return out


def signed_content(a: Assignment | NewAssignment, carried: Carried = NONE_CARRIED) -> dict[str, Any]:
    """The fields a bureau signature covers (`sync.assignments.signed_fields`), as the device receives them: with
    the members since v2 and the 疑点 (`suspicions_of`) when it carries any (v3); one issued before (no members
    stored) is re-signed as it was."""
    content: dict[str, Any] = {
        "id": a.id,
        "plan_id": a.plan_id,
        "institution_code": a.institution_code,
        "team": list(a.team),
        "reason": a.reason,
        "issued_at": utc_iso(a.issued_at),
        "due_date": a.due_date.isoformat() if a.due_date else None,
        "revoked": a.revoked,
    }
    if a.members:
        content["members"] = [dict(member) for member in a.members]
    if carried.suspicions:
        content["suspicions"] = [dict(suspicion) for suspicion in carried.suspicions]
    assert tuple(content) == signed_fields(content)
    return content


def registry_members(session: Session, codes: set[str]) -> dict[str, dict[str, str]]:
    """Inspector code → the member entry an assignment carries: name and 执法证号 as the registry has them now."""
    rows = session.exec(select(Inspector.code, Inspector.name, Inspector.badge_no)
                        .where(col(Inspector.code).in_(codes))).all()
    return {code: {"inspector_code": code, "name": name, "badge_no": badge_no} for code, name, badge_no in rows}


def next_seq(session: Session, name: str = "assignments", count: int = 1) -> int:
    """Take `count` consecutive numbers of the counter `name` and return the first: one upsert, atomic on both
    databases (the row stays locked until the transaction ends, so concurrent takers queue behind it)."""
    insert_into = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert_into(Counter).values(name=name, value=count)
    statement = statement.on_conflict_do_update(index_elements=[col(Counter.name)],
                                                set_={"value": Counter.value + statement.excluded.value})
    last = session.exec(statement.returning(col(Counter.value))).scalar_one()
    return last - count + 1


def issue_assignments(
    session: Session,
    signing_key: Ed25519PrivateKey,
    *,
    plan_id: str,
    selected: list[dict[str, Any]],
    issued_at: datetime,
) -> None:
    """Create one signed assignment per selected institution (status 已下达), naming its members as the registry
    has them: their `seq` numbers taken at once, the rows inserted in bulk. The caller commits."""
    members = registry_members(session, {code for item in selected for code in item["team"]})
    unknown = sorted({code for item in selected for code in item["team"]} - set(members))
    if unknown:
        raise AssignmentError(422, "unknown_inspector", f"执法检查人员名录中没有人员编号 {'、'.join(unknown)}")
    if not selected:
        return
    first = next_seq(session, count=len(selected))
    latest = session.exec(select(ScreeningRun.id).order_by(col(ScreeningRun.ran_at).desc())).first()
    issued = [
        NewAssignment(
            id=str(uuid.uuid4()),
            plan_id=plan_id,
            institution_code=item["institution"],
            team=list(item["team"]),
            members=[members[code] for code in item["team"]],
            reason=item.get("reason", "random"),
            issued_at=issued_at,
            seq=seq,
            screening_run_id=latest,
        )
        for seq, item in enumerate(selected, start=first)
    ]
    carried = suspicions_of(session, issued)
    for assignment in issued:
        assignment.signature = sign_assignment(signed_content(assignment, carried[assignment.id]), signing_key)
    session.exec(insert(Assignment), params=[vars(assignment) for assignment in issued])
    session.exec(insert(AssignmentMember), params=[{"assignment_id": assignment.id, "inspector_code": code}
                                                   for assignment in issued for code in assignment.team])


def revoke_assignment(session: Session, signing_key: Ed25519PrivateKey, assignment_id: str, reason: str,
                      actor: str, now: datetime) -> Assignment:
    """撤回 an issued assignment (a team member recused after the draw, the institution closed): signed again with
    `revoked` set and a new `seq`, so every tablet of the team receives the change on its next pull; from then on a
    record for it is refused (a tablet keeps such a record, set aside with the reason). The caller commits."""
    if not reason.strip():
        raise AssignmentError(422, "reason_required", "撤回检查任务须写明理由")
    assignment = session.exec(select(Assignment).where(Assignment.id == assignment_id).with_for_update()).first()
    if assignment is None:
        raise AssignmentError(404, "unknown_assignment", f"没有检查任务 {assignment_id}")
    if assignment.revoked:
        assert assignment.revoked_at is not None  # set together with `revoked`, below and nowhere else
        raise AssignmentError(409, "already_revoked", f"检查任务已于 {utc_iso(assignment.revoked_at)} 撤回")
    assignment.revoked, assignment.status, assignment.seq = True, REVOKED, next_seq(session)
    assignment.revoked_at, assignment.revoked_by, assignment.revoked_reason = now, actor, reason.strip()[:500]
    carried = suspicions_of(session, [assignment])[assignment.id]
    assignment.signature = sign_assignment(signed_content(assignment, carried), signing_key)
    session.add(assignment)
    return assignment


def assignments_for(session: Session, inspector_code: str, since: int = 0) -> list[dict[str, Any]]:
    """What a device of this inspector pulls: its team's assignments changed after `since`, with the institution."""
    rows = session.exec(
        select(Assignment, Institution)
        .join(AssignmentMember, col(AssignmentMember.assignment_id) == Assignment.id)
        .join(Institution, col(Institution.code) == Assignment.institution_code)
        .where(AssignmentMember.inspector_code == inspector_code, Assignment.seq > since)
        .order_by(col(Assignment.seq))
    ).all()
    carried = suspicions_of(session, [a for a, _ in rows])
    return [
        {
            **signed_content(a, carried[a.id]),
            **({"suspicions_total": carried[a.id].total} if carried[a.id].suspicions else {}),
            "status": a.status,
            "seq": a.seq,
            "signature": a.signature,
            "institution": {
                "code": inst.code,
                "name": inst.name,
                "kind": inst.kind,
                "region": inst.region,
                "address": inst.address,
            },
        }
        for a, inst in rows
    ]


def plan_assignments(session: Session, plan_id: str) -> list[dict[str, Any]]:
    """A plan's assignments as the supervisor manages them: institution, team with names, status, how many records
    the bureau holds for each (an assignment with records is withdrawn knowing the work was done)."""
    rows = session.exec(
        select(Assignment, Institution)
        .join(Institution, col(Institution.code) == Assignment.institution_code)
        .where(Assignment.plan_id == plan_id)
        .order_by(Assignment.institution_code)
    ).all()
    codes = {code for a, _ in rows for code in a.team}
    names = dict(session.exec(select(Inspector.code, Inspector.name).where(col(Inspector.code).in_(codes))).all())
    received = dict(session.exec(
        select(ReceivedRecord.assignment_id, func.count(func.distinct(ReceivedRecord.record_id)))
        .where(col(ReceivedRecord.assignment_id).in_([a.id for a, _ in rows])).group_by(ReceivedRecord.assignment_id)
    ).all())
    return [
        {
            **signed_content(a),
            "status": a.status,
            "institution": {"code": inst.code, "name": inst.name, "kind": inst.kind, "region": inst.region},
            "team_names": [names.get(code, code) for code in a.team],
            "records": received.get(a.id, 0),
            "revoked_at": utc_iso(a.revoked_at) if a.revoked_at else None,
            "revoked_by": a.revoked_by,
            "revoked_reason": a.revoked_reason,
        }
        for a, inst in rows
    ]
