"""Seeding a demo bureau: its agency (福州市医疗保障局), the demo registries (福州, all four kinds), three staff
accounts (the 负责人 who approves 立案, the reviewer who handles the case, and a second reviewer for its 法制审核, which
the case's own investigator may not do) and a committed, drawn plan."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from bureau import agency, registry, staff
from bureau.draw_records import commit_plan, perform_draw
from bureau.models import Assignment, Institution

DEMO_AGENCY = "福州市医疗保障局"
DEMO_STAFF = [("zhuren", "郑主任", "supervisor"), ("shenhe", "黄审核", "reviewer"), ("fazhi", "林法制", "reviewer")]
DEMO_PLAN = {
    "plan_id": "演示-2026-第四季度",
    "strata": [{"kind": "hospital", "count": 2}, {"kind": "primary", "ratio": "0.25"},
               {"kind": "private", "ratio": "0.25"}, {"kind": "pharmacy", "ratio": "0.34"}],
    "team_size": 2,
    "max_assignments_per_inspector": 4,
    "risk_weighted": True,
    "include_followups": True,
}
DEMO_PUBLIC_RANDOM = ["2026-11-20 福彩3D 3 9 4", "双色球 2026134 05 11 17 22 28 31 + 07"]


def is_seeded(session: Session) -> bool:
    return session.exec(select(Institution)).first() is not None


def seed(session: Session, signing_key: Ed25519PrivateKey, staff_password: str) -> dict[str, Any]:
    """Name the agency, import the demo registries, create the staff accounts, commit and draw the demo plan. The
    caller commits."""
    now = datetime.now(timezone.utc)
    agency.set_agency_name(session, DEMO_AGENCY)
    for kind in registry.REGISTRY_KINDS:
        data = resources.files("bureau").joinpath("demo", f"{kind}.csv").read_bytes()
        registry.import_registry(session, kind, data, f"{kind}.csv", now)
    for username, name, role in DEMO_STAFF:
        staff.add_account(session, username, name, role, staff_password)
    commit_plan(session, DEMO_PLAN, now)
    return perform_draw(session, {**DEMO_PLAN, "public_random": DEMO_PUBLIC_RANDOM}, now, signing_key).transcript


DEMO_CLAIMS = "结算明细-示例.csv"


def write_demo_claims(folder: Path) -> Path:
    """A small claims file (结算明细, 1,366 line items at six of the demo's institutions, with violations of every
    screening rule planted) for the supervisor's 智能监控 screen to import; written once into the demo's folder."""
    target = folder / DEMO_CLAIMS
    if not target.exists():
        target.write_bytes(resources.files("bureau").joinpath("demo", "claims.csv").read_bytes())
    return target


def busiest_inspector(session: Session) -> str:
    """The inspector with the most assignments: the demo tablet is theirs."""
    counts = Counter(code for a in session.exec(select(Assignment)) for code in a.team)
    return counts.most_common(1)[0][0]


def other_assignments(session: Session, busy_inspector: str, count: int) -> list[Assignment]:
    """`count` assignments the busiest inspector is not on, one per institution kind where possible (a second demo
    tablet does them, so the reviewer has cases while the demo tablet keeps all of its own)."""
    kinds = dict(session.exec(select(Institution.code, Institution.kind)).all())
    others = [a for a in session.exec(select(Assignment).order_by(col(Assignment.seq))) if busy_inspector not in a.team]
    by_kind: dict[str, Assignment] = {}
    for assignment in others:
        by_kind.setdefault(kinds.get(assignment.institution_code, ""), assignment)
    chosen = list(by_kind.values())[:count]
    return chosen + [a for a in others if a not in chosen][:count - len(chosen)]
