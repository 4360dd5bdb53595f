"""Ledgers, 回头看 follow-ups and the year's dashboard: all derived from decisions and records, read-only here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select

from bureau import dashboard, decisions, ledger
from bureau.api.deps import SessionDep, require_role
from bureau.assignments import utc_iso
from bureau.models import Institution, RectificationOrder, StaffAccount

router = APIRouter(prefix="/v1", tags=["ledger"])
Reader = Annotated[StaffAccount, require_role("reviewer", "supervisor")]
Overview = Annotated[StaffAccount, require_role("reviewer", "supervisor", "admin")]
YEAR = Query(None, ge=2000, le=2999)


@router.get("/ledger")
def ledgers(session: SessionDep, account: Reader, year: int | None = YEAR, as_of: date | None = None) -> dict[str, Any]:
    """Institutions' agreement points and grades, people's 医保支付资格 points, money recovered and fined. People's
    暂停/终止 are read on `as_of` (its year is the ledger's year): by default today in the current year, the year's
    last day for an earlier one, its first for a later one."""
    today = date.today()
    year = as_of.year if as_of else year or today.year
    on = as_of or (today if year == today.year else date(year, 12, 31) if year < today.year else date(year, 1, 1))
    entries = ledger.entries(decisions.load_decisions(session))
    names = dict(session.exec(select(Institution.code, Institution.name)).all())
    return {"year": year, "as_of": on.isoformat(), "institutions": ledger.institutions(entries, year, names),
            "people": ledger.people(entries, on), "money": ledger.money_by_month(entries, year),
            "totals": ledger.summary(entries, year),
            "entries": [e.to_json() for e in entries if e.on.year == year]}


@router.get("/followups")
def followups(session: SessionDep, account: Reader, as_of: date | None = None) -> dict[str, Any]:
    """回头看: rectification orders; the open ones are follow-ups in the next draw, the overdue ones come first."""
    today = as_of or date.today()
    rows = session.exec(select(RectificationOrder, Institution.name)
                        .join(Institution, col(Institution.code) == RectificationOrder.institution_code, isouter=True)
                        .order_by(col(RectificationOrder.due_date), col(RectificationOrder.id))).all()
    items = []
    for order, name in rows:
        open_ = order.closed_at is None
        overdue = open_ and order.due_date is not None and order.due_date < today
        days_overdue = (today - order.due_date).days if overdue and order.due_date is not None else 0
        items.append({"id": order.id, "institution_code": order.institution_code, "institution_name": name or "",
                      "ordered_at": order.ordered_at.isoformat(),
                      "due_date": order.due_date.isoformat() if order.due_date else None,
                      "closed_at": utc_iso(order.closed_at) if order.closed_at else None, "note": order.note,
                      "open": open_, "overdue": overdue,
                      "days_overdue": days_overdue})
    items.sort(key=lambda i: (not i["overdue"], not i["open"], i["due_date"] or "", i["id"]))
    return {"as_of": today.isoformat(), "items": items, "open": sum(i["open"] for i in items),
            "overdue": sum(i["overdue"] for i in items)}


@router.get("/dashboard")
def year_dashboard(session: SessionDep, account: Overview, year: int | None = YEAR) -> dict[str, Any]:
    """The year at a glance, as tables (the screen charts them and exports any of them to XLSX)."""
    today = date.today()
    return dashboard.load(session, year or today.year, today)
