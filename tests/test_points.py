"""Points (记分): institution agreement points and people's 医保支付资格 points — pure functions over data."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists import InputError
from checklists.points import (
    POINTS_FILE,
    SUSPEND,
    TERMINATE,
    PointEntry,
    add_months,
    annual_grade,
    institution_actions,
    institution_points,
    institution_status,
    load_points_rules,
    person_points,
    person_status,
    person_status_text,
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
    status = person_status([PointEntry(date(2025, 2, 1), 4), PointEntry(date(2025, 5, 1), 4)], date(2025, 12, 31))
    assert person_status_text(status) == ""
    assert (status.points, status.action, status.suspension_months, status.bar_years) == (8, None, None, None)


def test_person_9_suspends_1_to_6_months():
    status = person_status([PointEntry(date(2025, 2, 1), 5), PointEntry(date(2025, 5, 1), 4)], date(2025, 12, 31))
    assert (status.points, status.action, status.suspension_months) == (9, SUSPEND, (1, 6))
    assert (status.since, status.until, status.carried) == (date(2025, 5, 1), date(2025, 11, 1), False)
    assert person_status_text(status) == "暂停医保支付资格1～6个月，自2025年5月1日起，最长至2025年11月1日（2025年度累计记满9分）"


def test_person_9_with_a_term_fixed_suspends_for_that_term():
    """The 暂停's term fixed with the points that reach 9 (the 经办机构's choice within 1–6 months) is the term."""
    status = person_status([PointEntry(date(2025, 2, 1), 5), PointEntry(date(2025, 8, 31), 4, "", 3)],
                           date(2025, 12, 31))
    assert (status.action, status.suspension_months, status.since, status.until) == (
        SUSPEND, (3, 3), date(2025, 8, 31), date(2025, 11, 30))  # no 31 November: the month's last day
    assert person_status_text(status) == "暂停医保支付资格3个月，自2025年8月31日起至2025年11月30日止（2025年度累计记满9分）"
    # a term given with points that do not reach 9 changes nothing
    early = person_status([PointEntry(date(2025, 2, 1), 5, "", 2), PointEntry(date(2025, 5, 1), 4)], date(2025, 12, 31))
    assert (early.suspension_months, early.until) == ((1, 6), date(2025, 11, 1))


def test_person_12_accumulated_terminates_with_1_year_bar():
    ledger = [PointEntry(date(2025, 2, 1), 6), PointEntry(date(2025, 5, 1), 6)]
    status = person_status(ledger, date(2025, 12, 31))
    assert (status.points, status.action, status.bar_years, status.suspension_months) == (12, TERMINATE, 1, None)
    assert (status.since, status.until, status.register_from, status.at_once) == (
        date(2025, 5, 1), date(2026, 5, 1), date(2026, 5, 2), False)


def test_person_12_at_once_terminates_with_3_year_bar():
    ledger = [PointEntry(date(2025, 2, 1), 2), PointEntry(date(2025, 5, 1), person_points("forge_records"))]
    status = person_status(ledger, date(2025, 12, 31))
    assert (status.action, status.bar_years, status.at_once, status.until) == (TERMINATE, 3, True, date(2028, 5, 1))
    assert person_status_text(status) == ("终止医保支付资格，2028年5月2日前不得再次登记备案"
                                          "（2025年度一次性记满12分，3年，自终止之日2025年5月1日起算）")


def test_ten_points_on_two_are_accumulated_not_at_once():
    """一次性记满12分 means one entry of 12; 2 + 10 reach 12 by accumulation: the 1-year bar."""
    ledger = [PointEntry(date(2025, 2, 1), 2), PointEntry(date(2025, 5, 1), person_points("other_fraud"))]
    status = person_status(ledger, date(2025, 12, 31))
    assert (status.points, status.action, status.bar_years, status.at_once) == (12, TERMINATE, 1, False)


def test_a_december_termination_carries_into_the_next_year_until_its_bar_ends():
    ledger = [PointEntry(date(2025, 6, 1), 6), PointEntry(date(2025, 12, 20), 6)]  # accumulated: 1 year
    for day in (date(2026, 1, 1), date(2026, 12, 20)):
        status = person_status(ledger, day)
        assert (status.year, status.points, status.action, status.carried) == (day.year, 0, TERMINATE, True)
        assert (status.since, status.until, status.bar_years) == (date(2025, 12, 20), date(2026, 12, 20), 1)
    assert person_status_text(person_status(ledger, date(2026, 3, 1))) == (
        "终止医保支付资格，2026年12月21日前不得再次登记备案（2025年度累计记满12分，1年，自终止之日2025年12月20日起算）")
    after = person_status(ledger, date(2026, 12, 21))  # the bar's last day has passed
    assert (after.points, after.action, after.since) == (0, None, None)


def test_an_at_once_termination_bars_three_years_across_year_ends():
    ledger = [PointEntry(date(2024, 3, 13), person_points("fictitious_services"))]
    assert person_status(ledger, date(2027, 3, 13)).action == TERMINATE
    assert person_status(ledger, date(2027, 3, 13)).register_from == date(2027, 3, 14)
    assert person_status(ledger, date(2027, 3, 14)).action is None
    # points of the new years count on their own and do not shorten the bar
    later = ledger + [PointEntry(date(2026, 4, 1), 3)]
    status = person_status(later, date(2026, 6, 1))
    assert (status.points, status.action, status.until) == (3, TERMINATE, date(2027, 3, 13))


def test_the_bar_ends_on_the_corresponding_day_or_the_month_end():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2025, 12, 20), 1) == date(2026, 1, 20)
    ledger = [PointEntry(date(2024, 2, 29), 12)]
    assert person_status(ledger, date(2027, 2, 28)).action == TERMINATE
    assert person_status(ledger, date(2027, 3, 1)).action is None


def test_a_suspension_crossing_new_year_stays_until_its_longest_term_ends():
    ledger = [PointEntry(date(2025, 11, 20), 9)]
    status = person_status(ledger, date(2026, 1, 5))
    assert (status.points, status.action, status.carried, status.since, status.until) == (
        0, SUSPEND, True, date(2025, 11, 20), date(2026, 5, 20))
    assert person_status_text(status) == ("暂停医保支付资格1～6个月，自2025年11月20日起，最长至2026年5月20日"
                                          "（2025年度累计记满9分）")
    assert person_status(ledger, date(2026, 5, 20)).action == SUSPEND
    assert person_status(ledger, date(2026, 5, 21)).action is None


def test_a_new_years_termination_outweighs_a_carried_suspension():
    ledger = [PointEntry(date(2025, 11, 20), 9), PointEntry(date(2026, 2, 1), 12)]
    status = person_status(ledger, date(2026, 3, 1))
    assert (status.points, status.action, status.carried, status.bar_years) == (12, TERMINATE, False, 3)
    assert person_status(ledger, date(2026, 1, 31)).action == SUSPEND  # the entry of February not yet made


def test_a_later_at_once_entry_lengthens_an_accumulated_bar():
    ledger = [PointEntry(date(2025, 2, 1), 6), PointEntry(date(2025, 3, 1), 6), PointEntry(date(2025, 9, 1), 12)]
    status = person_status(ledger, date(2026, 6, 1))
    assert (status.action, status.at_once, status.since, status.until) == (
        TERMINATE, True, date(2025, 9, 1), date(2028, 9, 1))


def test_person_points_reset_each_calendar_year():
    ledger = [PointEntry(date(2024, 12, 31), 11), PointEntry(date(2025, 1, 1), 2)]
    assert person_status(ledger, date(2024, 12, 31)).action == SUSPEND
    status = person_status(ledger, date(2025, 12, 31))
    assert status.points == 2 and status.action is None  # the suspension of 2024-12-31 ended on 2025-06-30


# ---------------------------------------------------------------- properties

@given(entries, st.integers(2023, 2026))
def test_points_never_decrease_within_a_year(ledger, year):
    totals = running_totals(ledger, year)
    assert all(a < b for a, b in zip(totals, totals[1:]))
    assert (totals[-1] if totals else 0) == year_total(ledger, year)


@given(entries, entries, st.dates(date(2023, 1, 1), date(2026, 12, 31)))
def test_the_year_resets(ledger, other, day):
    others = [e for e in other if e.on.year != day.year]
    assert year_total(ledger + others, day.year) == year_total(ledger, day.year)
    assert person_status(ledger + others, day).points == person_status(ledger, day).points
    later = [e for e in other if e.on > day]  # entries not yet made
    assert person_status(ledger + later, day) == person_status(ledger, day)


@given(entries, st.dates(date(2023, 1, 1), date(2026, 12, 31)))
def test_a_status_runs_from_its_day_to_its_end(ledger, day):
    status = person_status(ledger, day)
    assert (status.action is None) == (status.since is None) == (status.until is None)
    if status.action is not None:
        assert status.since <= day and (status.until >= day or not status.carried)
        assert status.carried == (status.since.year < day.year)


@given(st.integers(0, 200), st.integers(0, 200))
def test_institution_thresholds_and_grades_are_monotone(a, b):
    low, high = min(a, b), max(a, b)
    assert set(institution_actions(low)) <= set(institution_actions(high))
    assert GRADE_RANK[annual_grade(low)] <= GRADE_RANK[annual_grade(high)]


@given(entries, st.dates(date(2023, 1, 1), date(2026, 12, 31)), st.integers(0, 365), st.integers(1, 12))
def test_more_points_this_year_never_lighten_a_persons_status(ledger, day, offset, extra_points):
    """Within the year. (An earlier year's extra points may move its 终止之日 earlier and so end the bar sooner.)"""
    extra = PointEntry(min(day, date(day.year, 1, 1) + timedelta(days=offset)), extra_points)
    before, after = person_status(ledger, day), person_status(ledger + [extra], day)
    assert after.points >= before.points
    assert PERSON_RANK[after.action] >= PERSON_RANK[before.action]


# ---------------------------------------------------------------- the rules file

def test_thresholds_are_data(tmp_path):
    path = tmp_path / "points.toml"
    path.write_text(POINTS_FILE.read_text(encoding="utf-8").replace("suspend_at = 9", "suspend_at = 6"), encoding="utf-8")
    rules = load_points_rules(path)
    assert person_status([PointEntry(date(2025, 1, 1), 6)], date(2025, 1, 1), rules).action == SUSPEND
    assert person_status([PointEntry(date(2025, 1, 1), 6)], date(2025, 1, 1)).action is None


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
