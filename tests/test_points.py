"""Points (记分): institution agreement points and people's 医保支付资格 points — pure functions over data."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists import InputError
from checklists.points import (
    POINTS_FILE,
    SUSPEND,
    TERMINATE,
    PointEntry,
    annual_grade,
    institution_actions,
    institution_points,
    institution_status,
    load_points_rules,
    person_points,
    person_status,
    points_rules,
    running_totals,
    terminate_for_grades,
    year_total,
)

GRADE_RANK = {"合格": 0, "基本合格": 1, "不合格": 2}
PERSON_RANK = {None: 0, SUSPEND: 1, TERMINATE: 2}

entries = st.lists(st.builds(PointEntry, on=st.dates(date(2023, 1, 1), date(2026, 12, 31)),
                             points=st.integers(1, 12)), max_size=30)


# ---------------------------------------------------------------- institutions

def test_points_per_severity_come_from_data():
    rules = points_rules()
    for severity in "ABCD":
        assert institution_points(severity) == rules.institution.severity_points[severity] > 0
    assert institution_points("A") > institution_points("B") > institution_points("C") > institution_points("D")
    with pytest.raises(InputError, match="未知的严重程度"):
        institution_points("E")


def test_thresholds_ladder():
    ladder = points_rules().institution.thresholds
    assert [t.action for t in ladder] == ["责令整改", "通报批评", "暂停协议", "解除协议"]
    assert institution_actions(0) == ()
    assert institution_actions(ladder[0].at_least - 1) == ()
    assert institution_actions(ladder[0].at_least) == ("责令整改",)
    assert institution_actions(ladder[-1].at_least) == ("责令整改", "通报批评", "暂停协议", "解除协议")


def test_annual_grade_bounds():
    grades = points_rules().institution.grades
    assert annual_grade(0) == "合格"
    assert annual_grade(grades[0].max_points) == "合格"
    assert annual_grade(grades[0].max_points + 1) == "基本合格"
    assert annual_grade(grades[1].max_points + 1) == "不合格"
    assert annual_grade(10**6) == "不合格"


def test_two_consecutive_failing_years_terminate():
    assert terminate_for_grades({2023: "不合格", 2024: "不合格"})
    assert not terminate_for_grades({2023: "不合格", 2024: "合格", 2025: "不合格"})
    assert not terminate_for_grades({2023: "不合格", 2025: "不合格"})  # a missing year breaks the run
    assert not terminate_for_grades({})
    assert terminate_for_grades({2022: "合格", 2023: "基本合格", 2024: "不合格", 2025: "不合格"})


def test_institution_status_for_a_year():
    ledger = [PointEntry(date(2024, 3, 1), institution_points("B"), "H-FEE-01"),
              PointEntry(date(2024, 9, 1), institution_points("A"), "H-DX-06"),
              PointEntry(date(2023, 12, 31), 100, "去年")]
    status = institution_status(ledger, 2024)
    assert status.points == 18 and status.year == 2024
    assert status.actions == ("责令整改", "通报批评", "暂停协议") and status.grade == "不合格"
    assert institution_status(ledger, 2025).points == 0


def test_points_must_be_positive():
    with pytest.raises(InputError, match="正整数"):
        year_total([PointEntry(date(2024, 1, 1), 0)], 2024)
    with pytest.raises(InputError, match="正整数"):
        running_totals([PointEntry(date(2024, 1, 1), -3)], 2024)


# ---------------------------------------------------------------- people

def test_behaviour_points_sit_in_their_tier():
    rules = points_rules()
    tiers = {t.tier: t for t in rules.people.tiers}
    assert [(t.min, t.max) for t in rules.people.tiers] == [(1, 3), (4, 6), (7, 9), (10, 12)]
    for behaviour in rules.people.behaviours.values():
        assert tiers[behaviour.tier].min <= person_points(behaviour.id) <= tiers[behaviour.tier].max
    assert person_points("fictitious_services") == 12
    with pytest.raises(InputError, match="未知的记分行为"):
        person_points("jaywalking")


def test_person_below_9_no_action():
    status = person_status([PointEntry(date(2025, 2, 1), 4), PointEntry(date(2025, 5, 1), 4)], 2025)
    assert (status.points, status.action, status.suspension_months, status.bar_years) == (8, None, None, None)


def test_person_9_suspends_1_to_6_months():
    status = person_status([PointEntry(date(2025, 2, 1), 5), PointEntry(date(2025, 5, 1), 4)], 2025)
    assert (status.points, status.action, status.suspension_months) == (9, SUSPEND, (1, 6))


def test_person_12_accumulated_terminates_with_1_year_bar():
    ledger = [PointEntry(date(2025, 2, 1), 6), PointEntry(date(2025, 5, 1), 6)]
    status = person_status(ledger, 2025)
    assert (status.points, status.action, status.bar_years, status.suspension_months) == (12, TERMINATE, 1, None)


def test_person_12_at_once_terminates_with_3_year_bar():
    ledger = [PointEntry(date(2025, 2, 1), 2), PointEntry(date(2025, 5, 1), person_points("forge_records"))]
    status = person_status(ledger, 2025)
    assert (status.action, status.bar_years) == (TERMINATE, 3)


def test_person_points_reset_each_calendar_year():
    ledger = [PointEntry(date(2024, 12, 31), 11), PointEntry(date(2025, 1, 1), 2)]
    assert person_status(ledger, 2024).action == SUSPEND
    assert person_status(ledger, 2025).points == 2 and person_status(ledger, 2025).action is None


# ---------------------------------------------------------------- properties

@given(entries, st.integers(2023, 2026))
def test_points_never_decrease_within_a_year(ledger, year):
    totals = running_totals(ledger, year)
    assert all(a < b for a, b in zip(totals, totals[1:]))
    assert (totals[-1] if totals else 0) == year_total(ledger, year)


@given(entries, entries, st.integers(2023, 2026))
def test_the_year_resets(ledger, other, year):
    others = [e for e in other if e.on.year != year]
    assert year_total(ledger + others, year) == year_total(ledger, year)
    assert person_status(ledger + others, year) == person_status(ledger, year)


@given(st.integers(0, 200), st.integers(0, 200))
def test_institution_thresholds_and_grades_are_monotone(a, b):
    low, high = min(a, b), max(a, b)
    assert set(institution_actions(low)) <= set(institution_actions(high))
    assert GRADE_RANK[annual_grade(low)] <= GRADE_RANK[annual_grade(high)]


@given(entries, st.integers(2023, 2026), st.builds(PointEntry, on=st.dates(date(2023, 1, 1), date(2026, 12, 31)),
                                                   points=st.integers(1, 12)))
def test_more_points_never_lighten_a_persons_status(ledger, year, extra):
    before, after = person_status(ledger, year), person_status(ledger + [extra], year)
    assert after.points >= before.points
    assert PERSON_RANK[after.action] >= PERSON_RANK[before.action]


# ---------------------------------------------------------------- the rules file

def test_thresholds_are_data(tmp_path):
    path = tmp_path / "points.toml"
    path.write_text(POINTS_FILE.read_text(encoding="utf-8").replace("suspend_at = 9", "suspend_at = 6"), encoding="utf-8")
    rules = load_points_rules(path)
    assert person_status([PointEntry(date(2025, 1, 1), 6)], 2025, rules).action == SUSPEND
    assert person_status([PointEntry(date(2025, 1, 1), 6)], 2025).action is None


@pytest.mark.parametrize("old, new, key, fragment", [
    ("at_least = 12\n", "at_least = 5\n", "institution.thresholds[第3个].at_least", "严格递增"),
    ("A = 12\n", "A = 0\n", "institution.severity_points.A", "正整数"),
    ("D = 1\n", "", "institution.severity_points", "缺少严重程度 D"),
    ("max_points = 11\n", "max_points = 3\n", "institution.grades[第2个].max_points", "严格递增"),
    ('failing_grade = "不合格"', 'failing_grade = "差"', "institution.failing_grade", "等次之一"),
    ("suspend_at = 9", "suspend_at = 12", "people.suspend_at", "小于终止分值"),
    ("min = 4\n", "min = 5\n", "people.tiers[第2个]", "连续"),
    ("points = 7\n", "points = 10\n", "people.behaviours[第7个].points", "不在第 3 档"),
    ("tier = 1\npoints = 2", "tier = 9\npoints = 2", "people.behaviours[第2个].tier", "未知的档次"),
])
def test_rules_problems_name_file_line_and_key(tmp_path, old, new, key, fragment):
    text = POINTS_FILE.read_text(encoding="utf-8")
    assert old in text
    edited = text.replace(old, new, 1)
    path = tmp_path / "points.toml"
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_points_rules(path)
    [problem] = [p for p in caught.value.problems if f"键 {key}：" in p]
    assert "points.toml" in problem and "第 " in problem and fragment in problem
