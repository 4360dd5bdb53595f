"""Screening runs kept in the bureau database (`ScreeningRun`, with every hit as a `ScreeningHit`), for a later plan
to take risk weights from and an assignment to carry its institution's 疑点."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from bureau.models import Institution, ScreeningHit, ScreeningRun
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
                       rules=[{"id": r.id, "version": r.version, "result": r.result, "name": r.name,
                               "basis": r.basis} for r in rules],  # name, basis: as the 疑点 of its hits say
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


def hits_page(session: Session, run_id: str, institution_code: str, offset: int,
              limit: int) -> tuple[int, list[ScreeningHit]]:
    """One institution's hits in a run, `limit` of them from `offset` in the result file's order, and how many in all."""
    where = (ScreeningHit.run_id == run_id, ScreeningHit.institution_code == institution_code)
    total = session.exec(select(func.count()).select_from(ScreeningHit).where(*where)).one()
    page = session.exec(select(ScreeningHit).where(*where).order_by(col(ScreeningHit.seq)).offset(offset).limit(limit))
    return total, list(page)


def run_hits(session: Session, run_id: str) -> Iterator[ScreeningHit]:
    """Every hit of a run in the result file's order, read a batch at a time."""
    last = 0
    while batch := list(session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run_id, ScreeningHit.seq > last)
                                     .order_by(col(ScreeningHit.seq)).limit(HIT_BATCH))):
        yield from batch
        last = batch[-1].seq


def institution_names(session: Session, codes: Collection[str] | None = None) -> dict[str, str]:
    """Institution code → name in the registry (名录库), for these codes (every institution when None)."""
    query = select(Institution.code, Institution.name)
    if codes is not None:
        query = query.where(col(Institution.code).in_(list(codes)))
    return {code: name for code, name in session.exec(query)}
