"""中文大写金额 for the 决定书 (财政部《会计基础工作规范》第五十二条): examples, refusals, and properties checked against an
independent reader of capitals."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists.money import MAX_INTEGER_DIGITS, yuan_in_capitals

DIGIT = {c: n for n, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE = {"拾": 10, "佰": 100, "仟": 1000}


@pytest.mark.parametrize("amount, capitals", [
    ("12000", "壹万贰仟元整"),
    ("12000.50", "壹万贰仟元伍角整"),
    ("12000.05", "壹万贰仟元零伍分"),
    ("12000.55", "壹万贰仟元伍角伍分"),
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("107000.53", "壹拾万零柒仟元伍角叁分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("10", "壹拾元整"),
    ("10.10", "壹拾元壹角整"),
    ("15", "壹拾伍元整"),
    ("20", "贰拾元整"),
    ("105", "壹佰零伍元整"),
    ("1001", "壹仟零壹元整"),
    ("1010", "壹仟零壹拾元整"),
    ("10010", "壹万零壹拾元整"),
    ("100000", "壹拾万元整"),
    ("200300", "贰拾万零叁佰元整"),
    ("1000000", "壹佰万元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("110000000", "壹亿壹仟万元整"),
    ("1000000000000", "壹万亿元整"),
    ("1000100000000", "壹万亿零壹亿元整"),
    ("999999999999999.99", "玖佰玖拾玖万亿玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("0.5", "伍角整"),
    ("0.50", "伍角整"),
    ("0.05", "伍分"),
    ("0.35", "叁角伍分"),
    ("0", "零元整"),
    ("0.00", "零元整"),
    ("1", "壹元整"),
])
def test_examples(amount, capitals):
    assert yuan_in_capitals(Decimal(amount)) == capitals


@pytest.mark.parametrize("value, error", [
    (12000, TypeError), (12000.5, TypeError), ("12000", TypeError),
    (Decimal("-1"), ValueError), (Decimal("0.001"), ValueError), (Decimal("NaN"), ValueError),
    (Decimal("Infinity"), ValueError), (Decimal(10) ** MAX_INTEGER_DIGITS, ValueError),
])
def test_refusals(value, error):
    with pytest.raises(error):
        yuan_in_capitals(value)


def read_capitals(text: str) -> Decimal:
    """An independent reader: capitals back to an amount (it must accept whatever the writer writes)."""
    match = re.fullmatch(r"(?:(.+)元)?(?:(.)角)?(?:零?(.)分)?(整)?", text)
    assert match, text
    integer, jiao, fen, whole = match.groups()
    assert (whole is not None) == (fen is None), text  # 整 after 元 or 角, never after 分
    yuan = _read_integer(integer.replace("万亿", "兆")) if integer else 0
    return Decimal(yuan) + Decimal(DIGIT[jiao] if jiao else 0) / 10 + Decimal(DIGIT[fen] if fen else 0) / 100


def _read_integer(text: str) -> int:
    for unit, value in (("兆", 10**12), ("亿", 10**8), ("万", 10**4)):
        if unit in text:
            high, low = text.split(unit, 1)
            return _read_section(high) * value + _read_integer(low)
    return _read_section(text)


def _read_section(text: str) -> int:
    total = digit = 0
    for char in text:
        if char in DIGIT:
            digit = DIGIT[char]
        else:
            total, digit = total + digit * PLACE[char], 0
    return total + digit


amounts = st.integers(min_value=0, max_value=10**(MAX_INTEGER_DIGITS + 2) - 1).map(lambda c: Decimal(c) / 100)


@given(amounts)
def test_reads_back_to_the_same_amount(amount):
    assert read_capitals(yuan_in_capitals(amount)) == amount


@given(amounts)
def test_the_written_form_follows_the_rules(amount):
    text = yuan_in_capitals(amount)
    cents = int(amount * 100)
    assert "零零" not in text and not text.startswith("拾")
    assert text.endswith("分") == (cents % 10 != 0)
    assert text.endswith("整") == (cents % 10 == 0)
    assert ("角" in text) == (cents // 10 % 10 != 0)
    assert ("元" in text) == (cents >= 100 or cents == 0)
    assert text == "零元整" or not re.search(r"零[元万亿]", text)  # no zero run is written before a unit
    assert all(ch in "零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整" for ch in text)


@given(st.integers(min_value=1, max_value=10**MAX_INTEGER_DIGITS - 1))
def test_whole_yuan_and_exponents_do_not_matter(yuan):
    assert yuan_in_capitals(Decimal(yuan)) == yuan_in_capitals(Decimal(f"{yuan}.00")) == \
        yuan_in_capitals(Decimal(yuan).scaleb(2).scaleb(-2))
