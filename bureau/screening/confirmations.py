"""Per screening rule, how many of its hits went on site and how many the inspectors confirmed (属实) or excluded
(排除): the data that tells a bureau which rules work. `confirmation_figures` is pure; `confirmations` reads the
database around it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bureau.assignments import suspicions_of
from bureau.models import Assignment, ReceivedRecord
from bureau.screening.rules import load_rules
from checklists.money import ZERO, format_money


@dataclass
class _Counts:
    carried: int = 0
    checked: int = 0
    confirmed: int = 0
    excluded: int = 0
    amount: Decimal = ZERO


def confirmation_figures(carried: Iterable[Mapping[str, Any]], checks: Iterable[Mapping[str, Any]],
                         rule_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per rule (the rules file's order, then any other rule of the data): the hits carried to site (`carried`:
    the 疑点 of issued, not revoked assignments, each hit once), how many of them were checked, confirmed and
    excluded (`checks`: the 疑点 checks of the latest version of each record, a later one for the same hit
    replacing an earlier), the amount confirmed, and the confirmation rate (confirmed ÷ checked, four places;
    null before any check). A check of a hit not carried is not counted."""
    rule_of = {s["hit_id"]: s["rule"] for s in carried}
    verdicts = {c["hit_id"]: c for c in checks if c["hit_id"] in rule_of}
    rules = list(dict.fromkeys([*rule_names, *sorted(set(rule_of.values()) - set(rule_names))]))
    figures = {rule: _Counts() for rule in rules}
    for rule in rule_of.values():
        figures[rule].carried += 1
    for hit_id, check in verdicts.items():
        counts = figures[rule_of[hit_id]]
        counts.checked += 1
        if check["verdict"] == "confirmed":
            counts.confirmed += 1
            counts.amount += Decimal(check["amount_yuan"])
        else:
            counts.excluded += 1
    return [{"rule": rule, "rule_name": rule_names.get(rule, rule), "carried": f.carried, "checked": f.checked,
             "confirmed": f.confirmed, "excluded": f.excluded, "confirmed_amount_yuan": format_money(f.amount),
             "confirmation_rate": str((Decimal(f.confirmed) / f.checked).quantize(Decimal("0.0001")))
             if f.checked else None}
            for rule, f in figures.items()]


def confirmations(session: Session) -> dict[str, Any]:
    """`confirmation_figures` over the bureau's assignments and received records (`GET /v1/screening/confirmations`,
    `yibao screen confirmations`)."""
    issued = list(session.exec(select(Assignment).where(Assignment.revoked == False)))  # noqa: E712
    carried_by = suspicions_of(session, issued)
    carried = {s["hit_id"]: s for a in issued for s in carried_by[a.id].suspicions}
    with_suspicions = [a.id for a in issued if carried_by[a.id].suspicions]
    latest = select(ReceivedRecord.record_id, func.max(ReceivedRecord.version).label("version")) \
        .where(col(ReceivedRecord.assignment_id).in_(with_suspicions)).group_by(col(ReceivedRecord.record_id)) \
        .subquery()
    records = session.exec(select(ReceivedRecord)
                           .join(latest, (col(ReceivedRecord.record_id) == latest.c.record_id)
                                 & (col(ReceivedRecord.version) == latest.c.version))
                           .order_by(col(ReceivedRecord.received_at), col(ReceivedRecord.record_id))).all()
    checks = [check for r in records for check in r.record.get("suspicion_checks") or []]
    rules = confirmation_figures(carried.values(), checks, {r.id: r.name for r in load_rules()})
    return {"rules": rules, "assignments": len(with_suspicions), "records": len(records)}
