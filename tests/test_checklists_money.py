"""Money: exact decimals in and out, never float."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists.errors import InputError
from checklists.money import ZERO, format_money, money_problem, parse_money, shown_money

cents = st.integers(min_value=0, max_value=10**17 - 1)  # up to 15 integer digits


def as_text(cent_count: int) -> str:
    return f"{cent_count // 100}.{cent_count % 100:02d}"


@pytest.mark.parametrize("text, expected", [
    ("12000", Decimal("12000.00")),
    ("12000.5", Decimal("12000.50")),
    ("12000.50", Decimal("12000.50")),
    ("0", Decimal("0.00")),
    ("0.01", Decimal("0.01")),
])
def test_parse_accepts_decimal_strings_with_up_to_two_places(text, expected):
    parsed = parse_money(text)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize("value, fragment", [
    ("12000.001", "最多两位小数"),
    ("-5", "不能为负数"),
    ("-0.01", "不能为负数"),
    ("1e3", "不是有效的金额"),
    ("12,000", "不是有效的金额"),
    (".5", "不是有效的金额"),
    ("5.", "不是有效的金额"),
    ("", "不是有效的金额"),
    (" 5", "不是有效的金额"),
    ("10\n", "不是有效的金额"),
    ("NaN", "不是有效的金额"),
    ("１２", "不是有效的金额"),  # full-width digits
    ("1" * 16, "金额过大"),
    (12000.5, "字符串"),
    (12000, "字符串"),
    (Decimal("1.5"), "字符串"),
    (None, "字符串"),
    (True, "字符串"),
])
def test_parse_rejects_bad_money_naming_the_field(value, fragment):
    assert fragment in money_problem(value)
    with pytest.raises(InputError) as caught:
        parse_money(value, "findings[1].amount_yuan")
    assert caught.value.problems[0].startswith("findings[1].amount_yuan：")
    assert fragment in str(caught.value)


def test_format_has_exactly_two_places_and_refuses_float():
    assert format_money(Decimal("12000")) == "12000.00"
    assert format_money(Decimal("0.005")) == "0.01"  # half up
    assert format_money(Decimal("-0.001")) == "0.00"
    assert format_money(ZERO) == "0.00"
    with pytest.raises(TypeError):
        format_money(1.5)  # type: ignore[arg-type]


@given(cents)
def test_parse_format_round_trip(cent_count):
    text = as_text(cent_count)
    assert format_money(parse_money(text)) == text
    assert parse_money(text) == Decimal(cent_count) / 100


@given(st.lists(cents, max_size=50))
def test_sums_are_exact(cent_counts):
    total = sum((parse_money(as_text(c)) for c in cent_counts), ZERO)
    assert total == Decimal(sum(cent_counts)) / 100
    assert format_money(total) == as_text(sum(cent_counts))


@given(cents, st.sampled_from(["1", "2", "5"]))
def test_multiples_are_exact(cent_count, multiple):
    amount = parse_money(as_text(cent_count))
    assert format_money(amount * Decimal(multiple)) == as_text(cent_count * int(multiple))


def test_every_screen_shows_money_one_way():
    assert shown_money("3860.5") == "¥3,860.50"
    assert shown_money(Decimal("1234567.005")) == "¥1,234,567.01"  # half up, like format_money
    assert shown_money("0.00") == "¥0.00" and shown_money(None) == "" and shown_money("") == ""
