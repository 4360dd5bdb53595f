"""The ledgers, derived from decisions and never typed in: institutions' agreement points (协议管理记分) and annual
grades, people's 医保支付资格 points, money recovered and fines imposed.

`entries` turns issued decisions into dated ledger entries; a decision withdrawn on 复议 keeps its entries and gets
one reversing entry for each, dated the day it was withdrawn, so the ledger shows both and every balance nets to
zero for it. Points statuses (thresholds, grades, 暂停/终止) count only standing entries — those of decisions not
withdrawn — and apply `checklists.points`; a person's 暂停 or 终止 runs on into later years until its term ends.
Pure: the decisions come from `bureau.decisions.load_decisions`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping

from bureau.review import local_date
from checklists import points
from checklists.money import ZERO, format_money, parse_money

INSTITUTION_POINTS, PERSON_POINTS, RECOVERED, FINED = "institution_points", "person_points", "recovered", "fined"
LEDGER_LABELS = {INSTITUTION_POINTS: "机构协议记分", PERSON_POINTS: "医保支付资格记分", RECOVERED: "追回（退回）金额",
                 FINED: "罚款"}


@dataclass(frozen=True)
class Entry:
    ledger: str  # INSTITUTION_POINTS | PERSON_POINTS | RECOVERED | FINED
    subject: str  # the institution's code, or the person's staff code
    on: date
    amount: int | Decimal  # points (int) or yuan (Decimal); negative in a reversal
    record_id: str
    decision_no: str
    institution_code: str
    reversal: bool = False
    note: str = ""
    suspension_months: int | None = None  # person's points: the 暂停's term fixed with them (`points.PointEntry`)

    def to_json(self) -> dict[str, Any]:
        return {"ledger": self.ledger, "label": LEDGER_LABELS[self.ledger], "subject": self.subject,
                "on": self.on.isoformat(),
                "amount": format_money(self.amount) if isinstance(self.amount, Decimal) else self.amount,
                "record_id": self.record_id, "decision_no": self.decision_no,
                "institution_code": self.institution_code, "reversal": self.reversal, "note": self.note}


def _day(iso: str) -> date:
    return local_date(datetime.fromisoformat(iso))


def _entries_of(decision: Mapping[str, Any], on: date) -> list[Entry]:
    common = {"on": on, "record_id": decision["record_id"], "decision_no": decision["decision_no"] or "",
              "institution_code": decision["institution_code"]}
    code = decision["institution_code"]
    out = [Entry(INSTITUTION_POINTS, code, amount=p["points"], note=f"{p['item_id']}（{p['severity']} 类）", **common)
           for p in decision["institution_points"]]
    out += [Entry(PERSON_POINTS, p["staff_code"], amount=p["points"], note=p.get("behaviour", ""),
                  suspension_months=p.get("suspension_months"), **common) for p in decision["person_points"]]
    recovered = parse_money(decision["recover_yuan"])
    if recovered > 0:
        out.append(Entry(RECOVERED, code, amount=recovered, **common))
    if decision["fine_yuan"]:
        out.append(Entry(FINED, code, amount=parse_money(decision["fine_yuan"]), **common))
    return out


def entries(decisions: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """Every ledger entry the decisions make (`decisions.decision_json` shapes), in date order. Drafts and closed
    cases without findings make none."""
    out: list[Entry] = []
    for decision in decisions:
        if decision["outcome"] != "handled" or decision["status"] not in ("issued", "withdrawn"):
            continue
        made = _entries_of(decision, _day(decision["decided_at"]))
        out += made
        if decision["status"] == "withdrawn":
            out += [replace(e, on=_day(decision["withdrawn_at"]), amount=-e.amount, reversal=True,
                            note=f"经复议撤销：{decision['withdrawn_reason']}") for e in made]
    return sorted(out, key=lambda e: (e.on, e.record_id, e.ledger, e.reversal))


def standing(all_entries: Iterable[Entry]) -> list[Entry]:
    """The entries of decisions that stand (a withdrawn decision's entries and their reversals drop out)."""
    listed = list(all_entries)
    withdrawn = {e.record_id for e in listed if e.reversal}
    return [e for e in listed if e.record_id not in withdrawn]


def _point_entries(listed: Iterable[Entry], ledger: str) -> dict[str, list[points.PointEntry]]:
    by_subject: dict[str, list[points.PointEntry]] = defaultdict(list)
    for e in listed:
        if e.ledger == ledger:
            by_subject[e.subject].append(points.PointEntry(e.on, int(e.amount), e.decision_no, e.suspension_months))
    return by_subject


def grades_by_year(point_entries: list[points.PointEntry], first_year: int, year: int,
                   rules: points.PointsRules | None = None) -> dict[int, str]:
    return {y: points.institution_status(point_entries, y, rules).grade for y in range(first_year, year + 1)}


def institutions(all_entries: Iterable[Entry], year: int, names: Mapping[str, str],
                 rules: points.PointsRules | None = None) -> list[dict[str, Any]]:
    """One row per institution with any entry: the year's points, the handling they reach, the grade, the grades of
    the years since its first entry, and whether two consecutive failing years call for 解除."""
    listed = list(all_entries)
    kept = _point_entries(standing(listed), INSTITUTION_POINTS)
    money = _money_totals(listed, year)
    codes = sorted({e.institution_code for e in listed if e.on.year <= year})
    first_year = min((e.on.year for e in listed), default=year)
    rows = []
    for code in codes:
        status = points.institution_status(kept.get(code, []), year, rules)
        grades = grades_by_year(kept.get(code, []), first_year, year, rules)
        rows.append({"institution_code": code, "name": names.get(code, ""), "year": year, "points": status.points,
                     "actions": list(status.actions), "grade": status.grade,
                     "grades": {str(y): g for y, g in grades.items()},
                     "terminate": points.terminate_for_grades(grades, rules),
                     "recovered_yuan": format_money(money[code][RECOVERED]),
                     "fined_yuan": format_money(money[code][FINED])})
    return rows


def people(all_entries: Iterable[Entry], on: date, rules: points.PointsRules | None = None) -> list[dict[str, Any]]:
    """One row per person with points in `on`'s year or a 暂停/终止 still running on `on` (from an earlier year's
    points, `carried`): the year's total, and the 暂停 (≥ 9) or 终止 (12) with its days, rule and words."""
    kept = _point_entries(standing(all_entries), PERSON_POINTS)
    rows = []
    for code, person_entries in sorted(kept.items()):
        status = points.person_status(person_entries, on, rules)
        if status.points or status.action:
            rows.append({"staff_code": code, "year": status.year, "points": status.points, "action": status.action,
                         "suspension_months": list(status.suspension_months) if status.suspension_months else None,
                         "bar_years": status.bar_years, "since": _iso(status.since), "until": _iso(status.until),
                         "register_from": _iso(status.register_from), "at_once": status.at_once,
                         "carried": status.carried, "text": points.person_status_text(status, rules)})
    return rows


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _money_totals(listed: Iterable[Entry], year: int) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: {RECOVERED: ZERO, FINED: ZERO})
    for e in listed:
        if e.ledger in (RECOVERED, FINED) and e.on.year == year:
            totals[e.institution_code][e.ledger] += e.amount
    return totals


def money_by_month(all_entries: Iterable[Entry], year: int) -> list[dict[str, str]]:
    """Recovered and fined per month of `year`, reversals netted in the month they happen."""
    months = {m: {RECOVERED: ZERO, FINED: ZERO} for m in range(1, 13)}
    for e in all_entries:
        if e.ledger in (RECOVERED, FINED) and e.on.year == year:
            months[e.on.month][e.ledger] += e.amount
    return [{"month": f"{year}-{m:02d}", "recovered_yuan": format_money(v[RECOVERED]),
             "fined_yuan": format_money(v[FINED])} for m, v in months.items()]


def grade_counts(institution_codes: Iterable[str], all_entries: Iterable[Entry], year: int,
                 rules: points.PointsRules | None = None) -> dict[str, int]:
    """How many of the institutions fall in each grade this year (no points: the best grade)."""
    kept = _point_entries(standing(all_entries), INSTITUTION_POINTS)
    counts = {g.grade: 0 for g in (rules or points.points_rules()).institution.grades}
    for code in institution_codes:
        counts[points.institution_status(kept.get(code, []), year, rules).grade] += 1
    return counts


def _money_total(entries: Iterable[Entry], ledger: str) -> Decimal:
    total = ZERO
    for e in entries:
        if e.ledger == ledger:
            total += e.amount
    return total


def summary(all_entries: Iterable[Entry], year: int) -> dict[str, str]:
    listed = [e for e in all_entries if e.on.year == year]
    return {"recovered_yuan": format_money(_money_total(listed, RECOVERED)),
            "fined_yuan": format_money(_money_total(listed, FINED))}
