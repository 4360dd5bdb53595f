"""Screening runs kept in the bureau database (`ScreeningRun`, with every hit as a `ScreeningHit`), for a later plan
to take risk weights from and an assignment to carry its institution's 疑点."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from bureau.models import ScreeningHit, ScreeningRun
from bureau.screening.rules import Rule

HIT_BATCH = 5000


def hit_rows(run_id: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The result file's hits as `ScreeningHit` rows, numbered in the file's order."""
    return [{"hit_id": f"{run_id}-{seq}", "run_id": run_id, "seq": seq, "rule": hit["rule"],
             "settlement_id": hit["settlement_id"], "institution_code": hit["institution"], "person": hit["person"],
             "day": hit.get("date"), "month": hit.get("month"), "amount_yuan": hit["amount_yuan"],
             "evidence": hit["evidence"]} for seq, hit in enumerate(hits, start=1)]


def record_run(session: Session, rules: list[Rule], outcome: dict[str, Any], now: datetime) -> ScreeningRun:
    """Store a run (`store.screen`'s outcome) and its hits; the caller commits."""
    run = ScreeningRun(id=uuid.uuid4().hex, ran_at=now,
                       rules=[{"id": r.id, "version": r.version, "result": r.result} for r in rules],
                       input_digest=outcome["input_digest"], result_digest=outcome["result_digest"],
                       hits=len(outcome["hits"]), risk=outcome["institutions"])
    session.add(run)
    session.flush()
    rows = hit_rows(run.id, outcome["hits"])
    for start in range(0, len(rows), HIT_BATCH):
        session.execute(insert(ScreeningHit), rows[start:start + HIT_BATCH])
    return run


def latest_run(session: Session) -> ScreeningRun | None:
    return session.exec(select(ScreeningRun).order_by(col(ScreeningRun.ran_at).desc())).first()


def hits_of(session: Session, run_id: str, institution_code: str) -> list[ScreeningHit]:
    """One institution's hits in a run, in the result file's order."""
    return list(session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run_id,
                                                        ScreeningHit.institution_code == institution_code)
                             .order_by(col(ScreeningHit.seq))))
