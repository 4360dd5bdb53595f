"""Text bound for a spreadsheet (the staff's Excel exports, the 一公开 CSV) that Excel must show, never run."""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes Excel (or LibreOffice) read a cell as a formula
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def inert_cell(text: str) -> str:
    """`text` as a cell that stays text: one starting like a formula gets a leading apostrophe (OWASP's advice on
    CSV injection: `=HYPERLINK(…)` is shown, not followed); a plain signed number such as "-12.50" is left as it is,
    a number and nothing more."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
