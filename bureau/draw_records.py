"""The draw's persistence: the registry snapshot it runs on, the stored commitments and draw records, and
`perform_draw`, the imperative shell around the pure `bureau.draw`.

`perform_draw` is used by both `yibao draw run` and the supervisor's screen, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Select
from sqlmodel import Session, col, select

from bureau.assignments import issue_assignments, utc_iso
from bureau.draw import (
    NO_SCREENING_RUN,
    DrawError,
    encode_transcript,
    make_commitment,
    run_draw,
    screening_basis,
    screening_pin,
    uses_screening,
)
from bureau.models import (
    Conflict,
    DrawCommitment,
    DrawRecord,
    Inspector,
    Institution,
    RectificationOrder,
    ScreeningHit,
    ScreeningRun,
)
from bureau.screening.risk import digest
from bureau.screening.runs import latest_run


def load_snapshot(session: Session) -> dict[str, list]:
    """The registry as the draw sees it: only the fields that affect it, active rows only, sorted by code.

    Sorting happens here, in code-point order, so the database's collation cannot change the pool order. The rows
    are read through the session's connection, without the ORM's per-row handling (a third of the time).
    """
    def rows(statement: Select) -> list[list]:
        return list(map(list, session.connection().execute(statement)))

    institutions = sorted(rows(select(Institution.code, Institution.kind, Institution.region, Institution.risk_score)
                               .where(col(Institution.active))))
    inspectors = sorted(rows(select(Inspector.code, Inspector.region).where(col(Inspector.active))))
    active_institutions = {row[0] for row in institutions}
    active_inspectors = {row[0] for row in inspectors}
    conflicts = sorted(
        row for row in rows(select(Conflict.inspector_code, Conflict.institution_code, Conflict.reason)
                            .where(col(Conflict.active)))
        if row[0] in active_inspectors and row[1] in active_institutions)
    open_orders = rows(select(RectificationOrder.institution_code).where(col(RectificationOrder.closed_at).is_(None)))
    followups = sorted({code for (code,) in open_orders if code in active_institutions})
    return {"institutions": institutions, "inspectors": inspectors, "conflicts": conflicts, "followups": followups}


# The committed plan (`DrawCommitment.plan`) records the screening run it is weighted by under this key.
PINNED_RUN = "screening"


def _commitment_dict(row: DrawCommitment) -> dict[str, Any]:
    pinned = {"screening": row.plan[PINNED_RUN]} if uses_screening(row.plan) else {}
    return {"plan_id": row.plan_id, "plan_hash": row.plan_hash, "registry_hash": row.registry_hash, **pinned,
            "commitment_hash": row.commitment_hash, "committed_at": utc_iso(row.committed_at)}


def commit_plan(session: Session, plan: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Record the commitment to this plan and the current registry (and, for `"risk_source": "screening"`, the
    latest screening run); committing the same thing again is harmless.

    Raises PlanError for an invalid plan and DrawError when the plan id is already committed to something else or
    the plan wants a screening run and there is none.
    """
    screening = latest_screening(session) if uses_screening(plan) else None
    commitment = make_commitment(plan, load_snapshot(session), screening)
    existing = session.get(DrawCommitment, commitment["plan_id"])
    if existing is not None:
        if existing.commitment_hash != commitment["commitment_hash"]:
            raise DrawError(f"计划 {commitment['plan_id']!r} 已于 {utc_iso(existing.committed_at)} 承诺过不同的内容"
                            "（计划、名录库或最近一次筛查已变化）；承诺不能更改，请使用新的 plan_id")
        return _commitment_dict(existing)
    committed_plan = {k: v for k, v in plan.items() if k != "public_random"}
    if "screening" in commitment:
        committed_plan[PINNED_RUN] = commitment["screening"]
    row = DrawCommitment(plan_id=commitment["plan_id"], plan_hash=commitment["plan_hash"],
                         registry_hash=commitment["registry_hash"], commitment_hash=commitment["commitment_hash"],
                         plan=committed_plan, committed_at=now)
    session.add(row)
    session.flush()
    return _commitment_dict(row)


# ---- the screening run a plan is weighted by -------------------------------------------------------------------


def stored_result_digest(session: Session, run: ScreeningRun) -> str:
    """The run's `result_digest` recomputed from what the database holds of it (its hits and risk list), to tell a
    run altered since `yibao screen run` recorded it: the hits rebuilt as the result file has them."""
    hits = []
    for hit in session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run.id).order_by(col(ScreeningHit.seq))):
        row: dict[str, Any] = {"rule": hit.rule, "settlement_id": hit.settlement_id,
                               "institution": hit.institution_code, "person": hit.person}
        row.update({"month": hit.month} if hit.month else {"date": hit.day})
        hits.append({**row, "amount_yuan": hit.amount_yuan, "evidence": hit.evidence})
    return digest({"hits": hits, "institutions": run.risk})


def run_basis(session: Session, run: ScreeningRun) -> dict[str, Any]:
    """What a draw takes from a stored screening run (`bureau.draw.screening_basis`); DrawError when its hits or
    risk list no longer match its result digest."""
    if stored_result_digest(session, run) != run.result_digest:
        raise DrawError(f"筛查运行 {run.id} 的疑点或风险分与其 result_digest 不符：筛查记录自运行后已被改动")
    return screening_basis(run.id, utc_iso(run.ran_at), run.result_digest, run.input_digest, run.risk)


def latest_screening(session: Session) -> dict[str, Any]:
    run = latest_run(session)
    if run is None:
        raise DrawError(NO_SCREENING_RUN)
    return run_basis(session, run)


def screening_differences(session: Session, recorded: dict[str, Any]) -> list[str]:
    """How a transcript's `screening` differs from the run it names as the database holds it (empty: identical)."""
    run = session.get(ScreeningRun, recorded["run_id"])
    if run is None:
        return [f"screening.run_id: 数据库中没有筛查运行 {recorded['run_id']}（已被删除？）"]
    try:
        stored = run_basis(session, run)
    except DrawError as exc:
        return [f"screening: {exc}"]
    return [f"screening.{key}: 与数据库中筛查运行 {run.id} 的记录不符" for key in stored
            if recorded.get(key) != stored[key]]


def _pinned_screening(session: Session, pin: dict[str, str]) -> dict[str, Any]:
    run = session.get(ScreeningRun, pin["run_id"])
    if run is None:
        raise DrawError(f"拒绝抽取：承诺所固定的筛查运行 {pin['run_id']} 已不在数据库中")
    basis = run_basis(session, run)
    if screening_pin(basis) != pin:
        raise DrawError(f"拒绝抽取：筛查运行 {run.id} 与承诺时固定的记录不符（自承诺后已被改动）")
    return basis


def stored_commitment(session: Session, plan_id: str) -> dict[str, Any] | None:
    row = session.get(DrawCommitment, plan_id)
    return _commitment_dict(row) if row is not None else None


def draw_recorded(session: Session, plan_id: str) -> bool:
    return session.get(DrawRecord, plan_id) is not None


def record_draw(session: Session, transcript: dict[str, Any], digest: str, now: datetime) -> DrawRecord:
    row = DrawRecord(plan_id=transcript["plan_id"], transcript_hash=digest, selected=len(transcript["selected"]),
                     transcript=transcript, drawn_at=now)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Drawn:
    """A draw performed: its transcript, the transcript's canonical bytes (the file `draw run --out` writes) and the
    `transcript_hash` published for it."""

    transcript: dict[str, Any]
    data: bytes
    transcript_hash: str


def perform_draw(session: Session, plan: dict[str, Any], now: datetime,
                 signing_key: Ed25519PrivateKey | None) -> Drawn:
    """Draw from the current registry. With a signing key, issue the signed assignments and record the draw
    (the caller commits); without one it is a preview that writes nothing. Raises PlanError / DrawError."""
    if signing_key is not None and draw_recorded(session, plan["plan_id"]):
        raise DrawError(f"计划 {plan['plan_id']!r} 已抽取并下达任务，不能重复抽取")
    commitment = stored_commitment(session, plan["plan_id"])
    screening = None
    if uses_screening(plan):
        pin = (commitment or {}).get("screening")
        screening = _pinned_screening(session, pin) if pin is not None else latest_screening(session)
    transcript = run_draw(plan, load_snapshot(session), commitment, screening)
    transcript["drawn_at"] = utc_iso(now)
    data, digest = encode_transcript(transcript)
    if signing_key is not None:
        issue_assignments(session, signing_key, plan_id=plan["plan_id"], selected=transcript["selected"], issued_at=now)
        record_draw(session, transcript, digest, now)
    return Drawn(transcript, data, digest)
