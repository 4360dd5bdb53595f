"""Progress toward the 3-year goal: every designated institution inspected at least once within three years (S002).

Pure: institutions with their last inspection in, a report out. An institution is covered on `as_of` when its last
inspection is on or after the same calendar day three years earlier; otherwise it is overdue (never inspected, or
its due date — last inspection + 3 years — has passed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bureau.draw import kind_names

COVERAGE_YEARS = 3


def shift_years(day: date, years: int) -> date:
    """The same calendar day `years` later (or earlier); 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


def _percent(part: int, whole: int) -> str:
    if whole == 0:
        return "0.00"
    return str((Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def coverage_report(institutions: Iterable[Mapping[str, Any]], as_of: date,
                    years: int = COVERAGE_YEARS) -> dict[str, Any]:
    """`institutions`: mappings with code, name, kind and last_inspected (a date, an ISO date string, or None)."""
    since = shift_years(as_of, -years)
    names = kind_names()
    by_kind: dict[str, dict[str, Any]] = {
        kind: {"kind": kind, "name": name, "total": 0, "covered": 0} for kind, name in names.items()}
    overdue = []
    total = covered = 0
    for row in institutions:
        last = _as_date(row.get("last_inspected"))
        stats = by_kind.setdefault(row["kind"], {"kind": row["kind"], "name": row["kind"], "total": 0, "covered": 0})
        total += 1
        stats["total"] += 1
        if last is not None and last >= since:
            covered += 1
            stats["covered"] += 1
            continue
        due = shift_years(last, years) if last is not None else None
        overdue.append({
            "code": row["code"], "name": row.get("name", ""), "kind": row["kind"],
            "last_inspected": last.isoformat() if last else None,
            "due_date": due.isoformat() if due else None,
            "days_overdue": (as_of - due).days if due else None,
        })
    overdue.sort(key=lambda item: (item["due_date"] is not None, item["due_date"] or "", item["code"]))
    return {
        "as_of": as_of.isoformat(),
        "window_years": years,
        "counts_inspections_since": since.isoformat(),
        "total": total,
        "covered": covered,
        "overdue": total - covered,
        "progress_percent": _percent(covered, total),
        "by_kind": [{**stats, "overdue": stats["total"] - stats["covered"],
                     "progress_percent": _percent(stats["covered"], stats["total"])}
                    for stats in by_kind.values()],
        "overdue_institutions": overdue,
    }
