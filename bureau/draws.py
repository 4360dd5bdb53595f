"""Running a draw against the bureau's registry: the imperative shell around the pure `bureau.draw`.

Used by both `yibao draw run` and the supervisor's screen, so the two can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from bureau.assignments import issue_assignments, utc_iso
from bureau.draw import DrawError, run_draw
from bureau.registry import draw_recorded, load_snapshot, record_draw, stored_commitment


def perform_draw(session: Session, plan: dict[str, Any], now: datetime,
                 signing_key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """Draw from the current registry. With a signing key, issue the signed assignments and record the draw
    (the caller commits); without one it is a preview that writes nothing. Raises PlanError / DrawError."""
    if signing_key is not None and draw_recorded(session, plan["plan_id"]):
        raise DrawError(f"计划 {plan['plan_id']!r} 已抽取并下达任务，不能重复抽取")
    transcript = run_draw(plan, load_snapshot(session), stored_commitment(session, plan["plan_id"]))
    transcript["drawn_at"] = utc_iso(now)
    if signing_key is not None:
        issue_assignments(session, signing_key, plan_id=plan["plan_id"], selected=transcript["selected"], issued_at=now)
        record_draw(session, transcript, now)
    return transcript
