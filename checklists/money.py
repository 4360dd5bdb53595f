"""Money: decimal.Decimal in, a string with exactly two places out; never float.

Input money is a decimal string with at most two places and no sign ("12000", "12000.5", "12000.50").
The integer part is capped at 15 digits (just under ¥10^15) so that sums and 5× fines stay exact within
Decimal's default 28-digit precision.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from checklists.errors import InputError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_INTEGER_DIGITS = 15

_PLAIN = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # used with fullmatch: "10\n" is not money


def money_problem(value: object) -> str | None:
    """What is wrong with `value` as input money, in Chinese; None if it is fine."""
    if not isinstance(value, str):
        shown = f"数字 {value}" if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) \
            else f"{type(value).__name__} {value!r}"
        return f"金额必须是字符串形式的十进制数（如 \"12000.50\"），实际为{shown}"
    if value.startswith("-") and _PLAIN.fullmatch(value[1:]):
        return f"金额不能为负数，实际为 \"{value}\""
    match = _PLAIN.fullmatch(value)
    if not match:
        return f"不是有效的金额（应为如 \"12000.50\" 的十进制数），实际为 \"{value}\""
    if len(match.group(2) or "") > 2:
        return f"金额最多两位小数，实际为 \"{value}\""
    if len(match.group(1).lstrip("0")) > MAX_INTEGER_DIGITS:
        return f"金额过大（整数部分最多 {MAX_INTEGER_DIGITS} 位），实际为 \"{value}\""
    return None


def parse_money(value: object, field: str = "金额") -> Decimal:
    """Parse input money exactly; raise InputError naming `field` and what was expected."""
    problem = money_problem(value)
    if problem:
        raise InputError(f"{field}：{problem}")
    assert isinstance(value, str)  # money_problem accepts nothing but strings
    return Decimal(value).quantize(CENT)


def format_money(amount: Decimal) -> str:
    """Exactly two places, rounded half up; refuses float so a float never sneaks into money."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    text = format(amount.quantize(CENT, rounding=ROUND_HALF_UP), "f")
    return "0.00" if text == "-0.00" else text


def shown_money(value: Decimal | str | None) -> str:
    """Money as every screen shows it: ``¥3,860.50`` (thousands grouped, two places); empty for no amount."""
    if value is None or value == "":
        return ""
    amount = value if isinstance(value, Decimal) else parse_money(value)
    return f"¥{Decimal(format_money(amount)):,}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def yuan_in_capitals(amount: Decimal) -> str:
    """中文大写金额 as 财政部《会计基础工作规范》第五十二条 writes it: ``12000`` → 壹万贰仟元整,
    ``12000.50`` → 壹万贰仟元伍角整, ``1409.05`` → 壹仟肆佰零玖元零伍分, ``10`` → 壹拾元整.

    Choices the rules leave open, made once: 拾 is always preceded by a digit (壹拾, as 票据 require); a run of zeros
    inside the number is one 零; zeros at the 元 place before 角 write no 零 (壹万贰仟元伍角整); a zero 角 before a
    non-zero 分 is 零; 整 follows 元 or 角, never 分; under one yuan there is no 元 (伍角整, 伍分).
    Refuses float, negative amounts and more than two decimal places (ValueError), and integer parts beyond
    MAX_INTEGER_DIGITS."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"金额不能为负数或非有限数：{amount}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"金额最多两位小数：{amount}")
    cents = int(amount.quantize(CENT) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if len(str(yuan)) > MAX_INTEGER_DIGITS:
        raise ValueError(f"金额过大（整数部分最多 {MAX_INTEGER_DIGITS} 位）：{amount}")
    if cents == 0:
        return "零元整"
    text = _integer_capitals(yuan) + "元" if yuan else ""
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    if fen:
        return text + _DIGITS[fen] + "分"
    return text + "整"


def _integer_capitals(number: int) -> str:
    """A positive integer in capitals, by sections of four digits (个, 万, 亿, 万亿)."""
    digits = str(number)
    out: list[str] = []
    pending_zero = False
    for position, char in enumerate(digits):
        power = len(digits) - 1 - position
        section, place = divmod(power, 4)
        if char == "0":
            pending_zero = bool(out)
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(_DIGITS[int(char)] + _PLACES[place])
        if place == 0 and section and int(digits[max(0, position - 3):position + 1]):
            out.append(_SECTIONS[section])
    return "".join(out)
