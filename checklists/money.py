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

_PLAIN = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")


def money_problem(value: object) -> str | None:
    """What is wrong with `value` as input money, in Chinese; None if it is fine."""
    if not isinstance(value, str):
        shown = f"数字 {value}" if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) \
            else f"{type(value).__name__} {value!r}"
        return f"金额必须是字符串形式的十进制数（如 \"12000.50\"），实际为{shown}"
    if value.startswith("-") and _PLAIN.match(value[1:]):
        return f"金额不能为负数，实际为 \"{value}\""
    match = _PLAIN.match(value)
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
    return Decimal(value).quantize(CENT)


def format_money(amount: Decimal) -> str:
    """Exactly two places, rounded half up; refuses float so a float never sneaks into money."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    text = format(amount.quantize(CENT, rounding=ROUND_HALF_UP), "f")
    return "0.00" if text == "-0.00" else text
