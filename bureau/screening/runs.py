"""Screening runs kept in the bureau database (`ScreeningRun`), for a later plan to take risk weights from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bureau.models import ScreeningRun
from bureau.screening.rules import Rule


def record_run(session: Session, rules: list[Rule], outcome: dict[str, Any], now: datetime) -> ScreeningRun:
    """Store a run (`store.screen`'s outcome); the caller commits."""
    run = ScreeningRun(id=uuid.uuid4().hex, ran_at=now,
                       rules=[{"id": r.id, "version": r.version, "result": r.result} for r in rules],
                       input_digest=outcome["input_digest"], result_digest=outcome["result_digest"],
                       hits=len(outcome["hits"]), risk=outcome["institutions"])
    session.add(run)
    return run


def latest_run(session: Session) -> ScreeningRun | None:
    return session.exec(select(ScreeningRun).order_by(col(ScreeningRun.ran_at).desc())).first()
