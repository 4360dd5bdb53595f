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
from bureau.draw import DrawError, encode_transcript, make_commitment, run_draw
from bureau.models import Conflict, DrawCommitment, DrawRecord, Inspector, Institution, RectificationOrder


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


def _commitment_dict(row: DrawCommitment) -> dict[str, str]:
    return {"plan_id": row.plan_id, "plan_hash": row.plan_hash, "registry_hash": row.registry_hash,
            "commitment_hash": row.commitment_hash, "committed_at": utc_iso(row.committed_at)}


def commit_plan(session: Session, plan: dict[str, Any], now: datetime) -> dict[str, str]:
    """Record the commitment to this plan and the current registry; committing the same thing again is harmless.

    Raises PlanError for an invalid plan and DrawError when the plan id is already committed to something else.
    """
    commitment = make_commitment(plan, load_snapshot(session))
    existing = session.get(DrawCommitment, commitment["plan_id"])
    if existing is not None:
        if existing.commitment_hash != commitment["commitment_hash"]:
            raise DrawError(f"计划 {commitment['plan_id']!r} 已于 {utc_iso(existing.committed_at)} 承诺过不同的内容"
                            "（计划或名录库已变化）；承诺不能更改，请使用新的 plan_id")
        return _commitment_dict(existing)
    row = DrawCommitment(**commitment, plan={k: v for k, v in plan.items() if k != "public_random"}, committed_at=now)
    session.add(row)
    session.flush()
    return _commitment_dict(row)


def stored_commitment(session: Session, plan_id: str) -> dict[str, str] | None:
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
    transcript = run_draw(plan, load_snapshot(session), stored_commitment(session, plan["plan_id"]))
    transcript["drawn_at"] = utc_iso(now)
    data, digest = encode_transcript(transcript)
    if signing_key is not None:
        issue_assignments(session, signing_key, plan_id=plan["plan_id"], selected=transcript["selected"], issued_at=now)
        record_draw(session, transcript, digest, now)
    return Drawn(transcript, data, digest)
