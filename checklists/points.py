"""Points (记分) — the pure core of the bureau's ledger; the rules are data in rules/points.toml.

Institutions (协议管理记分): points per failed item by severity; a year's total reaches thresholds
(责令整改 → 通报批评 → 暂停协议 → 解除协议) and sets the annual grade; two consecutive failing years → 解除.
People (医保支付资格, 驾照式记分): per calendar year, reset each year; ≥ suspend_at → 暂停 (1–6 months from the day
reached), ≥ terminate_at → 终止 with a bar on re-registration of 1 year if accumulated, 3 years if reached by one entry
at once, counted from the 终止之日. The reset clears the points, not a 暂停 or 终止 still running into the next years.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml
from checklists.errors import InputError
from checklists.vocabulary import Vocabulary, vocabulary

POINTS_FILE = PACKAGE_DIR / "rules" / "points.toml"

SUSPEND = "暂停"
TERMINATE = "终止"


@dataclass(frozen=True)
class Threshold:
    at_least: int
    action: str


@dataclass(frozen=True)
class Grade:
    grade: str
    max_points: int | None  # None: the last grade, no upper bound


@dataclass(frozen=True)
class InstitutionRules:
    severity_points: Mapping[str, int]
    thresholds: tuple[Threshold, ...]
    grades: tuple[Grade, ...]
    failing_grade: str
    consecutive_failing_years_to_terminate: int


@dataclass(frozen=True)
class Tier:
    tier: int
    min: int
    max: int


@dataclass(frozen=True)
class Behaviour:
    id: str
    text: str
    tier: int
    points: int


@dataclass(frozen=True)
class PeopleRules:
    suspend_at: int
    suspension_months: tuple[int, int]
    terminate_at: int
    bar_years_accumulated: int
    bar_years_at_once: int
    period_basis: str
    tiers: tuple[Tier, ...]
    behaviours: Mapping[str, Behaviour]


@dataclass(frozen=True)
class PointsRules:
    institution: InstitutionRules
    people: PeopleRules


@dataclass(frozen=True)
class PointEntry:
    """One entry in a ledger: points recorded on a day, for a reason."""

    on: date
    points: int
    reason: str = ""
    suspension_months: int | None = None  # the 暂停's term fixed with these points, should they reach it


@dataclass(frozen=True)
class InstitutionStatus:
    year: int
    points: int
    actions: tuple[str, ...]  # every threshold reached, mildest first
    grade: str


@dataclass(frozen=True)
class PersonStatus:
    """A person's 医保支付资格 on a day: the year's points so far, and the 暂停 or 终止 that governs — reached by this
    year's points, or carried from an earlier year while its term runs."""

    year: int
    points: int
    action: str | None  # None, SUSPEND or TERMINATE
    suspension_months: tuple[int, int] | None
    bar_years: int | None  # after 终止: years before re-registration
    since: date | None = None  # the day the points reached it: the 暂停's first day, the 终止之日
    until: date | None = None  # its last day: of the bar (终止), of the 暂停's term (the longest, when none was fixed)
    at_once: bool | None = None  # 终止: reached by one entry (一次性记满) rather than accumulated
    carried: bool = False  # reached in an earlier year and still running

    @property
    def register_from(self) -> date | None:
        """After 终止: the first day the person may register again."""
        return self.until + timedelta(days=1) if self.action == TERMINATE and self.until else None


# ------------------------------------------------------------------------------------------ rules file

def _positive(raw: Any, path: tuple, problems: Problems) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        problems.add(path, f"应为正整数，实际为 {raw!r}")
        return None
    return raw


def _text(raw: Any, path: tuple, problems: Problems) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        problems.add(path, f"应为非空字符串，实际为 {raw!r}")
        return None
    return raw


def _tables(raw: Any, path: tuple, problems: Problems) -> list[dict]:
    if not isinstance(raw, list) or not raw or not all(isinstance(x, dict) for x in raw):
        problems.add(path, "应为非空的表数组（[[…]]）")
        return []
    return raw


def _parse_institution(raw: dict, problems: Problems, vocab: Vocabulary) -> InstitutionRules:
    p = ("institution",)
    _text(raw.get("basis"), p + ("basis",), problems)
    severity_points = {}
    table = raw.get("severity_points")
    if not isinstance(table, dict):
        problems.add(p + ("severity_points",), "应为表：严重程度 → 分值")
        table = {}
    for severity in vocab.severities:
        if severity not in table:
            problems.add(p + ("severity_points",), f"缺少严重程度 {severity} 的分值")
        else:
            severity_points[severity] = _positive(table[severity], p + ("severity_points", severity), problems) or 0
    for extra in set(table) - set(vocab.severities):
        problems.add(p + ("severity_points", extra), f"未知的严重程度（应为 {'、'.join(vocab.severities)}）")

    thresholds: list[Threshold] = []
    for index, t in enumerate(_tables(raw.get("thresholds"), p + ("thresholds",), problems)):
        at_least = _positive(t.get("at_least"), p + ("thresholds", index, "at_least"), problems)
        action = _text(t.get("action"), p + ("thresholds", index, "action"), problems)
        if at_least is not None and thresholds and at_least <= thresholds[-1].at_least:
            problems.add(p + ("thresholds", index, "at_least"), f"阈值须严格递增（前一档为 {thresholds[-1].at_least}）")
        elif at_least is not None and action is not None:
            thresholds.append(Threshold(at_least, action))

    grades: list[Grade] = []
    raw_grades = _tables(raw.get("grades"), p + ("grades",), problems)
    for index, g in enumerate(raw_grades):
        name = _text(g.get("grade"), p + ("grades", index, "grade"), problems)
        last = index == len(raw_grades) - 1
        if last:
            if "max_points" in g:
                problems.add(p + ("grades", index, "max_points"), "最后一档不设上限，应删除 max_points")
            if name is not None:
                grades.append(Grade(name, None))
            continue
        limit = g.get("max_points")
        previous = grades[-1].max_points if grades else None  # only the last grade, not yet reached, has None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            problems.add(p + ("grades", index, "max_points"), f"应为非负整数，实际为 {limit!r}")
        elif previous is not None and limit <= previous:
            problems.add(p + ("grades", index, "max_points"), f"上限须严格递增（前一档为 {previous}）")
        elif name is not None:
            grades.append(Grade(name, limit))
    failing = raw.get("failing_grade")
    if failing not in {g.grade for g in grades}:
        problems.add(p + ("failing_grade",), f"应为 grades 中的等次之一，实际为 {failing!r}")
    years = _positive(raw.get("consecutive_failing_years_to_terminate"),
                      p + ("consecutive_failing_years_to_terminate",), problems)
    failing_grade = failing if isinstance(failing, str) else ""  # anything else has been reported above
    return InstitutionRules(severity_points, tuple(thresholds), tuple(grades), failing_grade, years or 0)


def _parse_people(raw: dict, problems: Problems) -> PeopleRules:
    p = ("people",)
    _text(raw.get("basis"), p + ("basis",), problems)
    numbers = {key: _positive(raw.get(key), p + (key,), problems)
               for key in ("suspend_at", "terminate_at", "bar_years_accumulated", "bar_years_at_once")}
    period_basis = _text(raw.get("period_basis"), p + ("period_basis",), problems)
    suspend_at, terminate_at = numbers["suspend_at"], numbers["terminate_at"]
    if suspend_at is not None and terminate_at is not None and suspend_at >= terminate_at:
        problems.add(p + ("suspend_at",), "暂停分值须小于终止分值（terminate_at）")
    months = raw.get("suspension_months")
    if not isinstance(months, dict) or set(months) != {"min", "max"}:
        problems.add(p + ("suspension_months",), "应为 { min = …, max = … }")
        months = (0, 0)
    else:
        low = _positive(months["min"], p + ("suspension_months", "min"), problems)
        high = _positive(months["max"], p + ("suspension_months", "max"), problems)
        if low is not None and high is not None and low > high:
            problems.add(p + ("suspension_months",), "下限大于上限")
        months = (low or 0, high or 0)

    tiers: list[Tier] = []
    for index, t in enumerate(_tables(raw.get("tiers"), p + ("tiers",), problems)):
        number, least, most = [_positive(t.get(key), p + ("tiers", index, key), problems)
                               for key in ("tier", "min", "max")]
        if number is None or least is None or most is None:
            continue
        new_tier = Tier(number, least, most)
        expected_min = tiers[-1].max + 1 if tiers else 1
        if new_tier.min != expected_min or new_tier.max < new_tier.min:
            problems.add(p + ("tiers", index), f"档次须从 {expected_min} 分起连续（实际 {new_tier.min}–{new_tier.max}）")
        tiers.append(new_tier)
    if tiers and numbers["terminate_at"] is not None and tiers[-1].max != numbers["terminate_at"]:
        problems.add(p + ("tiers",), f"最高档上限应为终止分值 {numbers['terminate_at']}，实际为 {tiers[-1].max}")

    behaviours: dict[str, Behaviour] = {}
    by_tier = {t.tier: t for t in tiers}
    for index, b in enumerate(_tables(raw.get("behaviours"), p + ("behaviours",), problems)):
        at = p + ("behaviours", index)
        behaviour_id = _text(b.get("id"), at + ("id",), problems)
        text = _text(b.get("text"), at + ("text",), problems)
        tier = b.get("tier")
        points = _positive(b.get("points"), at + ("points",), problems)
        if tier not in by_tier:
            problems.add(at + ("tier",), f"未知的档次 {tier!r}（应为 {'、'.join(str(t) for t in by_tier)}）")
        elif points is not None and not by_tier[tier].min <= points <= by_tier[tier].max:
            problems.add(at + ("points",), f"分值 {points} 不在第 {tier} 档 {by_tier[tier].min}–{by_tier[tier].max} 分之内")
        elif behaviour_id in behaviours:
            problems.add(at + ("id",), f"行为编号 \"{behaviour_id}\" 重复")
        elif behaviour_id is not None and text is not None and points is not None:
            behaviours[behaviour_id] = Behaviour(behaviour_id, text, tier, points)
    return PeopleRules(numbers["suspend_at"] or 0, months, numbers["terminate_at"] or 0,
                       numbers["bar_years_accumulated"] or 0, numbers["bar_years_at_once"] or 0,
                       period_basis or "", tuple(tiers), behaviours)


def parse_points_rules(doc: dict[str, Any], problems: Problems, vocab: Vocabulary) -> PointsRules:
    for key in ("institution", "people"):
        if not isinstance(doc.get(key), dict):
            problems.add((key,), "缺少此表")
            doc = {**doc, key: {}}
    return PointsRules(_parse_institution(doc["institution"], problems, vocab), _parse_people(doc["people"], problems))


def load_points_rules(path: Path = POINTS_FILE, vocab: Vocabulary | None = None) -> PointsRules:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    rules = parse_points_rules(doc, problems, vocab or vocabulary())
    problems.raise_if_any()
    return rules


@cache
def points_rules() -> PointsRules:
    """The packaged rules, read once."""
    return load_points_rules()


# ------------------------------------------------------------------------------------------ ledgers

def _entries_of(entries: Iterable[PointEntry], year: int | None) -> list[PointEntry]:
    """The entries of `year` (None: of every year) in date order, each checked."""
    chosen = []
    for entry in entries:
        if isinstance(entry.points, bool) or not isinstance(entry.points, int) or entry.points <= 0:
            raise InputError(f"记分应为正整数，实际为 {entry.points!r}（{entry.on}）")
        if year is None or entry.on.year == year:
            chosen.append(entry)
    return sorted(chosen, key=lambda e: e.on)


def year_total(entries: Iterable[PointEntry], year: int) -> int:
    """Points of one calendar year; other years' entries do not count (the reset)."""
    return sum(e.points for e in _entries_of(entries, year))


def running_totals(entries: Iterable[PointEntry], year: int) -> list[int]:
    """The year's total after each of its entries, in date order."""
    totals, total = [], 0
    for entry in _entries_of(entries, year):
        total += entry.points
        totals.append(total)
    return totals


def institution_points(severity: str, rules: PointsRules | None = None) -> int:
    """Points for one failed item of `severity`."""
    table = (rules or points_rules()).institution.severity_points
    if severity not in table:
        raise InputError(f"未知的严重程度 {severity!r}（应为 {'、'.join(table)}）")
    return table[severity]


def institution_actions(total: int, rules: PointsRules | None = None) -> tuple[str, ...]:
    """Every handling threshold the total reaches, mildest first."""
    return tuple(t.action for t in (rules or points_rules()).institution.thresholds if total >= t.at_least)


def annual_grade(total: int, rules: PointsRules | None = None) -> str:
    for grade in (rules or points_rules()).institution.grades:
        if grade.max_points is None or total <= grade.max_points:
            return grade.grade
    raise AssertionError("the last grade has no upper bound")


def terminate_for_grades(grades_by_year: Mapping[int, str], rules: PointsRules | None = None) -> bool:
    """True when the grades hold a run of consecutive failing years long enough for 解除 (two, under Hangzhou's 协议管理记分制)."""
    institution = (rules or points_rules()).institution
    run = 0
    for year in range(min(grades_by_year, default=0), max(grades_by_year, default=-1) + 1):
        run = run + 1 if grades_by_year.get(year) == institution.failing_grade else 0
        if run >= institution.consecutive_failing_years_to_terminate:
            return True
    return False


def institution_status(entries: Iterable[PointEntry], year: int, rules: PointsRules | None = None) -> InstitutionStatus:
    total = year_total(entries, year)
    return InstitutionStatus(year, total, institution_actions(total, rules), annual_grade(total, rules))


def person_points(behaviour_id: str, rules: PointsRules | None = None) -> int:
    """Points for a behaviour, per the (provincial) behaviour → tier table."""
    behaviours = (rules or points_rules()).people.behaviours
    if behaviour_id not in behaviours:
        raise InputError(f"未知的记分行为 {behaviour_id!r}（应为 {'、'.join(behaviours)}）")
    return behaviours[behaviour_id].points


def add_months(day: date, months: int) -> date:
    """The last day of a term of `months` from `day` (民法典 第二百零一条、第二百零二条: the first day does not count;
    the term ends on the same day of the month it reaches, or that month's last day when it has no such day)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _year_measures(of_year: list[PointEntry], year: int, people: PeopleRules) -> list[PersonStatus]:
    """Each 暂停 or 终止 one year's entries reach, on the day they reach it: 暂停 when the total first reaches
    suspend_at short of terminate_at; 终止 when it first reaches terminate_at (the bar for accumulated points) and
    again on any entry of terminate_at points at once (the longer bar)."""
    reached, total = [], 0
    for entry in of_year:
        before, total = total, total + entry.points
        at_once = entry.points >= people.terminate_at
        if at_once or before < people.terminate_at <= total:
            bar = people.bar_years_at_once if at_once else people.bar_years_accumulated
            reached.append(PersonStatus(year, 0, TERMINATE, None, bar, entry.on, add_months(entry.on, 12 * bar),
                                        at_once))
        elif before < people.suspend_at <= total:
            term = (entry.suspension_months,) * 2 if entry.suspension_months else people.suspension_months
            reached.append(PersonStatus(year, 0, SUSPEND, term, None, entry.on, add_months(entry.on, term[1])))
    return reached


def person_status(entries: Iterable[PointEntry], on: date, rules: PointsRules | None = None) -> PersonStatus:
    """The person's status on the day `on`, from their entries of every year (those after `on` not yet counted):
    the points of `on`'s year, and the heaviest of the 暂停/终止 this year's points reached and those of earlier years
    still running on `on` (the latest-ending when two are alike)."""
    people = (rules or points_rules()).people
    checked = [e for e in _entries_of(entries, None) if e.on <= on]
    total = sum(e.points for e in checked if e.on.year == on.year)
    candidates = []
    for year in sorted({e.on.year for e in checked}):
        for measure in _year_measures([e for e in checked if e.on.year == year], year, people):
            if year == on.year:
                candidates.append(measure)
            elif measure.until is not None and measure.until >= on:
                candidates.append(replace(measure, carried=True))
    if not candidates:
        return PersonStatus(on.year, total, None, None, None)
    rank = {SUSPEND: 1, TERMINATE: 2}
    chosen = max(candidates, key=lambda m: (rank[m.action or ""], m.until or on))
    return replace(chosen, year=on.year, points=total)


def person_status_text(status: PersonStatus, rules: PointsRules | None = None) -> str:
    """The status in the words of a ledger or a notice (days as a notice writes them: 2026年12月21日); empty when
    neither 暂停 nor 终止 applies."""
    people = (rules or points_rules()).people
    if status.since is None or status.until is None:
        return ""
    if status.action == TERMINATE:
        how = "一次性记满" if status.at_once else "累计记满"
        return (f"终止医保支付资格，{_cn_day(status.until + timedelta(days=1))}前不得再次登记备案（{status.since.year}年度{how}"
                f"{people.terminate_at}分，{status.bar_years}年，自终止之日{_cn_day(status.since)}起算）")
    low, high = status.suspension_months or people.suspension_months
    reached = f"（{status.since.year}年度累计记满{people.suspend_at}分）"
    if low == high:  # the term fixed with the points
        return f"暂停医保支付资格{low}个月，自{_cn_day(status.since)}起至{_cn_day(status.until)}止{reached}"
    return f"暂停医保支付资格{low}～{high}个月，自{_cn_day(status.since)}起，最长至{_cn_day(status.until)}{reached}"


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
