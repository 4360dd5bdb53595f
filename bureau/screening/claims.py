"""The claims file (结算明细, one row per line item): its columns, and each row checked and normalised, purely.

A row's problems are `RowError`s naming its line and column and what was expected, as the registries report theirs.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Generator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import IO, Any

HEADERS = ("结算ID", "机构编码", "参保人ID", "性别", "出生日期", "就诊类型", "入院日期", "出院日期", "费用日期",
           "诊断编码", "项目编码", "项目名称", "数量", "单价", "金额", "医保支付金额", "用药天数")
# The store's column for each header, in order (the fixed claims schema the rules' SQL is written against).
COLUMNS = ("settlement_id", "institution", "person", "sex", "birth_date", "visit_type", "admit_date", "discharge_date",
           "fee_date", "diagnosis", "item_code", "item_name", "quantity", "unit_price", "amount", "fund_amount",
           "supply_days")
SEXES = ("男", "女")
VISIT_TYPES = ("门诊", "住院", "购药")
INPATIENT = "住院"

INSTITUTION_CODE = re.compile(r"[HP][0-9]{11}")  # 定点医药机构编码, as in the 名录库
IDENTIFIER = re.compile(r"[0-9A-Za-z_\-.]{1,64}")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ICD10 = re.compile(r"[A-Z][0-9]{2}(\.?[0-9A-Z]{1,4})?")
QUANTITY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,4})?")
PRICE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,4})?")  # 单价: a tablet of a drug costs fractions of a fen
MONEY = re.compile(r"[0-9]{1,14}(\.[0-9]{1,2})?")
DAYS = re.compile(r"[0-9]{1,4}")
# An uploaded claims file (`POST /v1/screening/claims`): a city's year of line items as CSV runs to a few GB
MAX_CLAIMS_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class RowError:
    line: int  # the line in a CSV file (the header is line 1), the row number in a Parquet file (first row is 2)
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": self.value, "message": self.message}


class ClaimsFileError(Exception):
    """The file cannot be read at all (format, encoding, header)."""


class ClaimsImportError(Exception):
    """Rows were wrong, or settlements already stored; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} 处错误，未导入任何数据")
        self.errors = errors


def header_problem(columns: list[str]) -> str | None:
    """Why a header row is not the claims file's, or None."""
    names = [c.replace("\ufeff", "").strip() for c in columns]
    names = [re.sub(r"\s*[（(][^（()）]*[)）]$", "", n) for n in names]  # `性别(男/女)` → `性别`
    if names == list(HEADERS):
        return None
    missing = [h for h in HEADERS if h not in names]
    extra = [n for n in names if n not in HEADERS]
    if missing or extra:
        return ("表头应为：" + "、".join(HEADERS) + (f"；缺少列：{'、'.join(missing)}" if missing else "")
                + (f"；多出列：{'、'.join(extra)}" if extra else ""))
    return "表头的列顺序应为：" + "、".join(HEADERS)


# (column index, pattern, what was expected, required) of the cells checked by pattern alone
_PATTERNS = ((0, IDENTIFIER, "应为 1–64 位字母、数字或 _-.", True),
             (1, INSTITUTION_CODE, "应为定点医药机构编码：H 或 P 加 11 位数字", True),
             (2, IDENTIFIER, "应为 1–64 位字母、数字或 _-.", True),
             (10, IDENTIFIER, "应为 1–64 位字母、数字或 _-.", True),
             (12, QUANTITY, "应为正数，最多 4 位小数", True),
             (13, PRICE, "应为金额（元），最多 4 位小数", True),
             (14, MONEY, "应为金额（元），如 12.50", True),
             (15, MONEY, "应为金额（元），如 12.50", True),
             (16, DAYS, "应为整数天数，非药品为空", False))


@lru_cache(maxsize=65536)  # a year of claims has few distinct dates: each is parsed once
def _day(value: str) -> date | None:
    if DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _optional(pattern: re.Pattern[str]) -> str:
    return f"(?:{pattern.pattern})?"


# A row as most rows are (every cell in its shape, no blanks around): joined by the unit separator, which no cell
# pattern admits, it matches this one pattern; the other rows go through the checks that name each problem.
_USUAL_ROW = re.compile("\x1f".join([
    IDENTIFIER.pattern, INSTITUTION_CODE.pattern, IDENTIFIER.pattern, "|".join(SEXES).join("()"), DAY.pattern,
    "|".join(VISIT_TYPES).join("()"), _optional(DAY), _optional(DAY), DAY.pattern, _optional(ICD10),
    IDENTIFIER.pattern, r"[^\x1f\s](?:[^\x1f]*[^\x1f\s])?", QUANTITY.pattern, PRICE.pattern, MONEY.pattern,
    MONEY.pattern, _optional(DAYS)]))


def _sql_day(cell: str) -> str:
    """A cell's date in SQL, NULL unless `_day` reads it (DuckDB also knows year 0, Python's date does not)."""
    return (f"CASE WHEN regexp_full_match({cell}, '{DAY.pattern}') AND {cell} NOT LIKE '0000%' "
            f"THEN TRY_CAST({cell} AS DATE) END")


def usual_row_sql(cells: list[str]) -> str:
    """`check_row`'s usual row as an SQL condition over the cells (SQL text expressions, NULL or '' for blank): true
    only of a row that `check_row` passes unchanged. It is stricter where the engines differ (RE2's \\s is ASCII,
    Python's Unicode): the item name may hold no control character, quote or blank at either end, so that DuckDB and
    Python's csv read it alike; a row it refuses goes through `check_row`."""
    c = [f"coalesce({cell}, '')" for cell in cells]

    def like(index: int, pattern: re.Pattern[str]) -> str:
        return f"regexp_full_match({c[index]}, '{pattern.pattern}')"

    birth, admit, discharge, fee = (_sql_day(c[i]) for i in (4, 6, 7, 8))
    name = r'''[^\s\pZ\pC"](?:[^\pC"]*[^\s\pZ\pC"])?'''
    return " AND ".join([
        like(0, IDENTIFIER), like(1, INSTITUTION_CODE), like(2, IDENTIFIER), like(10, IDENTIFIER),
        f"{c[3]} IN ('男', '女')", f"{c[5]} IN ('门诊', '住院', '购药')", f"{fee} >= {birth}",
        f"CASE WHEN {c[5]} = '{INPATIENT}' THEN {discharge} >= {admit} ELSE {c[6]} = '' AND {c[7]} = '' END",
        f"CASE WHEN {c[9]} = '' THEN {c[5]} = '购药' ELSE {like(9, ICD10)} END",
        f"regexp_full_match({c[11]}, '{name}')", like(12, QUANTITY), like(13, PRICE), like(14, MONEY),
        like(15, MONEY), f"({c[16]} = '' OR {like(16, DAYS)})", f"TRY_CAST({c[12]} AS DECIMAL(18,4)) <> 0",
        f"TRY_CAST({c[15]} AS DECIMAL(18,2)) <= TRY_CAST({c[14]} AS DECIMAL(18,2))"])


def check_row(line: int, cells: list[str], errors: list[RowError]) -> tuple[str, ...] | None:
    """One line item's cells (in HEADERS order) → its normalised values (in COLUMNS order, empty for none), or None
    with its problems added to `errors`."""
    if len(cells) == len(HEADERS) and _USUAL_ROW.fullmatch("\x1f".join(cells)):
        birth, admit, discharge, fee = _day(cells[4]), _day(cells[6]), _day(cells[7]), _day(cells[8])
        inpatient = cells[5] == INPATIENT
        if (birth and fee and fee >= birth and (cells[9] or cells[5] == "购药")
                and (admit and discharge and discharge >= admit if inpatient else not (cells[6] or cells[7]))
                and Decimal(cells[12]) != 0 and Decimal(cells[15]) <= Decimal(cells[14])):
            return tuple(cells)
    return _checked_row(line, cells, errors)


def _checked_row(line: int, cells: list[str], errors: list[RowError]) -> tuple[str, ...] | None:
    """`check_row` cell by cell, naming every problem."""
    if len(cells) != len(HEADERS):
        errors.append(RowError(line, "", "", f"应有 {len(HEADERS)} 列，实际 {len(cells)} 列"))
        return None
    values = [c.strip() for c in cells]
    found: list[tuple[int, str]] = []  # (column index, problem)
    for index, pattern, message, required in _PATTERNS:
        value = values[index]
        if not value:
            if required:
                found.append((index, "不能为空"))
        elif not pattern.fullmatch(value):
            found.append((index, message))
    if values[3] not in SEXES:
        found.append((3, "应为 男 或 女"))
    kind = values[5]
    if kind not in VISIT_TYPES:
        found.append((5, "应为 门诊、住院 或 购药"))
    inpatient = kind == INPATIENT
    days: dict[int, date | None] = {}
    for index in (4, 6, 7, 8):
        value = values[index]
        if not value:
            days[index] = None
            if index in (4, 8) or inpatient:
                found.append((index, "不能为空，应为日期 YYYY-MM-DD"))
        elif not inpatient and index in (6, 7):
            found.append((index, "只有住院才填入院、出院日期，应为空"))
        else:
            days[index] = _day(value)
            if days[index] is None:
                found.append((index, "应为日期 YYYY-MM-DD"))
    birth, admit, discharge, fee = (days.get(i) for i in (4, 6, 7, 8))
    if admit and discharge and discharge < admit:
        found.append((7, f"出院日期应不早于入院日期 {admit.isoformat()}"))
    if birth and fee and fee < birth:
        found.append((8, f"费用日期应不早于出生日期 {birth.isoformat()}"))
    if values[9] and not ICD10.fullmatch(values[9]):
        found.append((9, "应为 ICD-10 诊断编码（如 J18.9）"))
    elif not values[9] and kind != "购药":
        found.append((9, "不能为空"))
    if not values[11]:
        found.append((11, "不能为空"))
    if not found:
        if Decimal(values[12]) == 0:
            found.append((12, "应为正数"))
        elif Decimal(values[15]) > Decimal(values[14]):
            found.append((15, f"不应超过金额 {values[14]}"))
    if found:
        errors.extend(RowError(line, HEADERS[i], values[i], message) for i, message in sorted(found, key=lambda f: f[0]))
        return None
    return tuple(values)


# ---- reading CSV ------------------------------------------------------------------------------------------------


def csv_encodings(source: IO[bytes]) -> tuple[str, ...]:
    """The encodings to try in turn: the byte order mark's, else UTF-8 then GB18030 (a superset of GBK). A reader
    that meets bytes its encoding cannot decode raises UnicodeDecodeError, and the caller starts again with the next."""
    head = source.read(4)
    source.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return ("utf-8-sig",)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ("utf-16",)
    return ("utf-8", "gb18030")


def csv_rows(source: IO[bytes], encoding: str, filename: str) -> Generator[tuple[int, list[str]], None, None]:
    """The rows of a CSV file as they are read (line, cells), the header first; the file stays open."""
    text = io.TextIOWrapper(source, encoding=encoding, newline="")
    try:
        reader = csv.reader(text)
        try:
            for cells in reader:
                if any(cells):
                    yield reader.line_num, cells
        except csv.Error as exc:
            raise ClaimsFileError(f"{filename} 第 {reader.line_num} 行：CSV 格式错误（{exc}）") from None
    finally:
        text.detach()
