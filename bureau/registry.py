"""名录库: reading registry files, validating them row by row, importing them all-or-nothing with history.

Files are what bureau staff already keep: CSV (UTF-8, UTF-8 with BOM, GBK, or Excel's UTF-16 "Unicode text") or XLSX,
with Chinese headers, possibly under a title row. Validation is pure (`validate_table`, `validated_records`) and reports
every problem as `{line, column, value, message}`, so a screen can show the whole list; an import with any error writes
nothing.

An import streams its file: rows are read, checked and written IMPORT_BATCH at a time with bulk statements (COPY on
PostgreSQL), so it holds one batch and keys (those seen so far; for conflicts, the registries' codes), never the
file's rows; from the first error on it writes no more, checks the rest for the whole list of errors, and rolls back
what it wrote.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import operator
import re
import zipfile
from collections.abc import Callable, Container, Generator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import JSON, ColumnElement, DateTime, and_, bindparam, cast, func, literal, tuple_, update
from sqlalchemy import Table as DbTable
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from bureau.draw import kind_names
from bureau.models import Conflict, Inspector, Institution, ReceivedRecord, RegistryChange, RegistryImport

REGISTRY_KINDS = ("institutions", "inspectors", "conflicts")
REQUIRED_COLUMNS = {
    "institutions": ("机构编码", "机构名称", "机构类别", "区划代码", "统一社会信用代码"),
    "inspectors": ("人员编号", "姓名", "执法证号", "区划代码"),
    "conflicts": ("人员编号", "机构编码", "原因"),
}
KIND_ALIASES = {"社会办医疗机构/诊所": "private", "社会办诊所": "private"}  # as DESIGN.md and some bureaus write it
KIND_LABELS = {"institutions": "定点医药机构名录", "inspectors": "执法检查人员名录", "conflicts": "利益冲突登记"}

# Matched whole (fullmatch), ASCII digits only: \d would take full-width and other scripts' digits, $ a final newline.
INSTITUTION_CODE = re.compile(r"[HP][0-9]{11}")
REGION_CODE = re.compile(r"[0-9]{6}")
PERSON_CODE = re.compile(r"[0-9A-Za-z_\-]{1,32}")
RISK_SCORE = re.compile(r"(\d{1,3})(?:\.0+)?")
DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
HEADER_SEARCH_ROWS = 10

# What a registry file may be: limits on what is uploaded and on what reading it may cost, so a small file cannot
# unpack or pad itself into gigabytes.
MAX_FILE_BYTES = 50 * 1024 * 1024  # as uploaded
MAX_ROWS = 200_000  # a province's designated institutions are a few tens of thousands
MAX_COLUMNS = 64  # cells read per row: a registry has about ten columns; cells further right are not read
MAX_XLSX_UNPACKED = 256 * 1024 * 1024  # all the parts of an XLSX together, unpacked
MAX_XLSX_RATIO = 100  # a part packed tighter than 1:100 is a zip bomb (Apache POI's ZipSecureFile default) ...
_XLSX_RATIO_GRACE = 1024 * 1024  # ... unless it unpacks to no more than this

IMPORT_BATCH = 1000  # records looked up and written at a time
_READ_CHUNK = 1024 * 1024

# GB 32100-2015 统一社会信用代码: 31 characters (no I O S V Z), weights for positions 1–17.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE_TABLE = bytes(CREDIT_CODE_CHARSET.find(chr(byte)) % 256 for byte in range(256))  # value, or 255

Cells = tuple[int, dict[str, str]]  # a data row: its line, and its cells by column name
RawRows = Generator[tuple[int, list[str]], None, None]  # a file's rows as read: line, cells
_T = TypeVar("_T")


@dataclass(frozen=True)
class RowError:
    line: int  # the line in the file (CSV) or the row number (XLSX); the header's line for a missing column
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Table:
    """A registry file as text cells under its header row. From `open_table` the rows stream (read them once; reading
    may raise RegistryFileError); from `read_table` they are a list."""

    header_line: int
    columns: list[str]
    rows: Iterable[Cells] = field(default_factory=list)


class RegistryFileError(Exception):
    """The file cannot be read at all (format, encoding, no header row)."""


class RegistryImportError(Exception):
    """Validation failed; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} 处错误，未导入任何数据")
        self.errors = errors


# ---- identifiers -----------------------------------------------------------------------------------------------


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a 统一社会信用代码."""
    values = _credit_code_values(first17)
    if len(first17) != len(CREDIT_CODE_WEIGHTS) or values is None:
        raise ValueError(f"应为 {len(CREDIT_CODE_WEIGHTS)} 个代码字符：{first17!r}")
    return _check_char(values)


def _credit_code_values(code: str) -> bytes | None:
    """The characters' values (0–30) in CREDIT_CODE_CHARSET, or None when one is not in it (one C-level pass: a
    registry has a code a row)."""
    try:
        values = code.encode("ascii").translate(_CREDIT_CODE_TABLE)
    except UnicodeEncodeError:
        return None
    return None if 255 in values else values


def _check_char(values: bytes) -> str:
    return CREDIT_CODE_CHARSET[-sum(map(operator.mul, values, CREDIT_CODE_WEIGHTS)) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid 统一社会信用代码, or None."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位（实际 {len(code)} 位）"
    values = _credit_code_values(code)
    if values is None:
        bad = sorted(set(code).difference(CREDIT_CODE_CHARSET))
        return f"含非法字符 {'、'.join(bad)}（只能是数字和除 I、O、S、V、Z 以外的大写字母）"
    expected = _check_char(values)
    if code[17] != expected:
        return f"校验位错误：第 18 位应为 {expected}（GB 32100-2015）"
    return None


def normalize_kind(value: str) -> str | None:
    """机构类别 given as the id (`pharmacy`) or the Chinese name (定点零售药店) → the id; None when unknown."""
    return kind_reader(kind_names())(value)


def kind_reader(names: dict[str, str]) -> Callable[[str], str | None]:
    """`normalize_kind` for the kinds `names` names (`bureau.draw.kind_names()`), to read many rows with."""
    ids_by_name = {**KIND_ALIASES, **{name: kind for kind, name in names.items()}}

    def read(value: str) -> str | None:
        text = value.strip()
        return text.lower() if text.lower() in names else ids_by_name.get(text)

    return read


# ---- reading files ---------------------------------------------------------------------------------------------


def read_table(data: bytes, filename: str, kind: str) -> Table:
    """A whole CSV or XLSX registry file read into a Table (as `open_table` reads it, every row read)."""
    table = open_table(io.BytesIO(data), filename, kind)
    return Table(table.header_line, table.columns, list(table.rows))


def open_table(source: IO[bytes], filename: str, kind: str) -> Table:
    """A CSV or XLSX registry file (a seekable binary file) as its header and its rows as they are read; the header row
    is the first of the top rows naming the key column. Reading is bounded: at most MAX_COLUMNS cells a row, and a
    file of more than MAX_ROWS rows (or an XLSX that would unpack to far more than it weighs) is a RegistryFileError."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        raw_rows = _xlsx_rows(source, filename)
    elif suffix == ".xls":
        raise RegistryFileError(f"{filename}：不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV")
    else:
        raw_rows = _csv_rows(source, filename)
    top = list(itertools.islice(raw_rows, HEADER_SEARCH_ROWS))
    key_column = REQUIRED_COLUMNS[kind][0]
    for header_line, cells in top:  # noqa: B007 (the header row found is used below)
        columns = [_header_name(c) for c in cells]
        if key_column in columns:
            break
    else:
        raw_rows.close()
        expected = "、".join(REQUIRED_COLUMNS[kind])
        raise RegistryFileError(f"{filename}：前 {HEADER_SEARCH_ROWS} 行中找不到表头行（应含列：{expected}）")
    return Table(header_line, columns, _data_rows(header_line, columns, itertools.chain(top, raw_rows)))


def _data_rows(header_line: int, columns: list[str], raw_rows: Iterable[tuple[int, list[str]]]) -> Iterator[Cells]:
    width, unnamed = len(columns), "" in columns
    for line, cells in raw_rows:
        if line <= header_line or not any(cells):
            continue
        values = dict(zip(columns, cells if len(cells) >= width else cells + [""] * (width - len(cells))))
        if unnamed:
            del values[""]  # a column with no name is not read
        yield line, values


def _header_name(cell: str) -> str:
    """`* 风险分（0-100）` → `风险分`: required-markers and trailing hints in brackets are decoration."""
    name = cell.replace("*", "").replace("＊", "").strip()
    return re.sub(r"\s*[（(][^（()）]*[)）]$", "", name)


def _encoding(source: IO[bytes], filename: str) -> str:
    """The encoding of a text file: its byte order mark's, else the first of UTF-8 and GB18030 that decodes all of it
    (read through once in chunks; the file is left at its start)."""
    head = source.read(len(codecs.BOM_UTF8))
    source.seek(0)
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-16"
        if _decodes(source, encoding):
            return encoding
        raise RegistryFileError(f"{filename}：文件编码与其字节顺序标记不符")
    for encoding in ("utf-8", "gb18030"):
        if _decodes(source, encoding):
            return encoding
    raise RegistryFileError(f"{filename}：无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK 与 XLSX）")


def _decodes(source: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := source.read(_READ_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        source.seek(0)


def _too_many_rows(filename: str, line: int) -> RegistryFileError:
    return RegistryFileError(f"{filename} 第 {line} 行：超过名录文件的行数上限（{MAX_ROWS} 行），未导入")


def _csv_rows(source: IO[bytes], filename: str) -> RawRows:
    text = io.TextIOWrapper(source, encoding=_encoding(source, filename), newline="")
    try:
        first_line = text.readline()
        delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
        reader = csv.reader(itertools.chain([first_line], text), delimiter=delimiter)
        rows = 0
        try:
            for cells in reader:
                if rows == MAX_ROWS:
                    raise _too_many_rows(filename, reader.line_num)
                rows += 1
                yield reader.line_num, list(map(str.strip, cells[:MAX_COLUMNS]))
        except csv.Error as exc:
            raise RegistryFileError(f"{filename} 第 {reader.line_num} 行：CSV 格式错误（{exc}）") from None
    finally:
        text.detach()  # the caller's file stays open


def _check_archive(source: IO[bytes], filename: str) -> None:
    """Refuse an XLSX that unpacks to far more than it weighs, from its directory, before openpyxl opens it (zipfile
    never unpacks a part past the size its directory declares)."""
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RegistryFileError(f"{filename}：不是有效的 XLSX 文件（{exc}）") from None
    if sum(part.file_size for part in parts) > MAX_XLSX_UNPACKED:
        raise RegistryFileError(f"{filename}：解压后超过 {MAX_XLSX_UNPACKED >> 20} MB，疑为压缩炸弹，未导入")
    for part in parts:
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise RegistryFileError(f"{filename}：{part.filename} 的压缩方式不是 Excel 所用的，未导入")
        if part.file_size > max(_XLSX_RATIO_GRACE, MAX_XLSX_RATIO * part.compress_size):
            raise RegistryFileError(f"{filename}：{part.filename} 的压缩比超过 1:{MAX_XLSX_RATIO}，疑为压缩炸弹，未导入")


def _xlsx_rows(source: IO[bytes], filename: str) -> RawRows:
    """The first sheet's rows as they stream, as wide as the widest of the top rows the header is searched in (cells
    further right have no column; at most MAX_COLUMNS), at most MAX_ROWS of them; empty rows below the top left
    out (their numbers are kept)."""
    from openpyxl import load_workbook

    _check_archive(source, filename)
    source.seek(0)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RegistryFileError(f"{filename}：不是有效的 XLSX 文件（{exc}）") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the size a file declares (XFD1048576, say) is not read: only the rows it has
        top = list(sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, max_col=MAX_COLUMNS, values_only=True))
        width = max((len(values) - _trailing_blanks(values) for values in top), default=0)
        yield from ((line, [_cell_text(v) for v in values[:width]]) for line, values in enumerate(top, 1))
        if not width:
            return  # nothing at the top, so no header: open_table says so
        below = sheet.iter_rows(min_row=HEADER_SEARCH_ROWS + 1, max_col=width, values_only=True)
        for line, values in enumerate(below, HEADER_SEARCH_ROWS + 1):
            if line > MAX_ROWS:
                raise _too_many_rows(filename, line)
            if values.count(None) < width:
                yield line, [_cell_text(v) for v in values]
    finally:
        workbook.close()


def _trailing_blanks(values: tuple[Any, ...]) -> int:
    return next((n for n, value in enumerate(reversed(values)) if value is not None), len(values))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ---- validation ------------------------------------------------------------------------------------------------


def validate_table(kind: str, table: Table, *, known_inspectors: Iterable[str] = (),
                   known_institutions: Iterable[str] = ()) -> tuple[list[dict[str, Any]], list[RowError]]:
    """The records a table would import, and every problem with it. Conflicts are checked against the known codes."""
    errors: list[RowError] = []
    records = list(validated_records(kind, table, errors, known_inspectors=set(known_inspectors),
                                     known_institutions=set(known_institutions)))
    return records, errors


def validated_records(kind: str, table: Table, errors: list[RowError], *, known_inspectors: Container[str] = (),
                      known_institutions: Container[str] = ()) -> Iterator[dict[str, Any]]:
    """The records of the table's valid rows, in file order, as its rows are read; each problem is appended to `errors`
    when it is found (the header's first, then row by row). Conflicts are checked against the known codes."""
    header_errors = [RowError(table.header_line, name, "", f"缺少必填列「{name}」")
                     for name in REQUIRED_COLUMNS[kind] if name not in table.columns]
    named = [c for c in table.columns if c]
    header_errors += [RowError(table.header_line, name, "", f"列「{name}」重复出现")
                      for name in sorted(set(named)) if named.count(name) > 1]
    if header_errors:
        errors += header_errors
        return
    counted = _Counted(table.rows)
    if kind == "institutions":
        yield from _institution_records(counted, errors)
    elif kind == "inspectors":
        yield from _inspector_records(counted, errors)
    else:
        yield from _conflict_records(counted, errors, known_inspectors, known_institutions)
    if not counted.seen:
        errors.append(RowError(table.header_line, "", "", "表头下没有数据行（导入空名录会停用全部条目，已拒绝）"))


class _Counted:
    """An iterable that counts what was taken from it."""

    def __init__(self, items: Iterable[Cells]):
        self.items, self.seen = items, 0

    def __iter__(self) -> Iterator[Cells]:
        for item in self.items:
            self.seen += 1
            yield item


class _RowCheck:
    """Collects the errors of one row."""

    def __init__(self, line: int, cells: dict[str, str], errors: list[RowError]):
        self.line, self.cells, self.errors = line, cells, errors

    def value(self, column: str) -> str:
        return self.cells.get(column, "")

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, self.value(column), message))

    def required(self, column: str, max_length: int = 200) -> str | None:
        text = self.cells.get(column, "")
        if text and len(text) <= max_length:
            return text
        self.error(column, f"过长（最多 {max_length} 个字符）" if text else "必填，不能为空")
        return None

    def matching(self, column: str, pattern: re.Pattern, message: str) -> str | None:
        text = self.required(column)
        if text is None or pattern.fullmatch(text):
            return text
        self.error(column, message)
        return None

    def unique(self, column: str, text: str | None, seen: dict[str, int], what: str) -> None:
        if text is None:
            return
        if text in seen:
            self.error(column, f"{what}重复（与第 {seen[text]} 行相同）")
        else:
            seen[text] = self.line


def _institution_records(rows: Iterable[Cells], errors: list[RowError]) -> Iterator[dict[str, Any]]:
    seen_codes: dict[str, int] = {}
    seen_credit: dict[str, int] = {}
    names = kind_names()
    read_kind = kind_reader(names)
    for line, cells in rows:
        row = _RowCheck(line, cells, errors)
        code = row.matching("机构编码", INSTITUTION_CODE, "应为 H 或 P 加 11 位数字（如 H35010200001；P 为定点零售药店）")
        row.unique("机构编码", code, seen_codes, "机构编码")
        name = row.required("机构名称")
        kind = None
        if row.required("机构类别") is not None:
            kind = read_kind(row.value("机构类别"))
            if kind is None:
                row.error("机构类别", "应为 " + "、".join(f"{k}（{v}）" for k, v in names.items()) + " 之一")
        if code is not None and kind is not None and (code[0] == "P") != (kind == "pharmacy"):
            row.error("机构编码", "定点零售药店的编码应以 P 开头" if kind == "pharmacy"
                      else f"{names[kind]}的编码应以 H 开头（P 仅用于定点零售药店）")
            code = None
        region = row.matching("区划代码", REGION_CODE, "应为 6 位数字（GB/T 2260 行政区划代码，如 350102）")
        credit = row.required("统一社会信用代码", 64)
        if credit is not None:
            credit = credit.upper()
            problem = credit_code_problem(credit)
            if problem:
                row.error("统一社会信用代码", problem)
                credit = None
        row.unique("统一社会信用代码", credit, seen_credit, "统一社会信用代码")
        risk = _risk_score(row)
        last_inspected = _optional_date(row, "上次检查日期")
        if None in (code, name, kind, region, credit) or risk is False or last_inspected is False:
            continue
        yield {"code": code, "name": name, "kind": kind, "region": region, "credit_code": credit,
               "address": row.value("地址"), "risk_score": risk, "last_inspected": last_inspected}


def _risk_score(row: _RowCheck) -> int | None | bool:
    """风险分 as an int, None when blank, False when invalid (the error is recorded)."""
    text = row.value("风险分")
    if not text:
        return None
    match = RISK_SCORE.fullmatch(text)
    if not match or int(match.group(1)) > 100:
        row.error("风险分", "应为 0 到 100 的整数，或留空")
        return False
    return int(match.group(1))


def _optional_date(row: _RowCheck, column: str) -> date | None | bool:
    """A date as YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or YYYY年M月D日; None when blank, False when invalid."""
    text = row.value(column)
    if not text:
        return None
    match = DAY.fullmatch(text)
    try:
        if match:
            year, month, day = match.groups()
            return date(int(year), int(month), int(day))
    except ValueError:
        pass
    row.error(column, "应为日期，如 2024-05-20 或 2024年5月20日")
    return False


def _inspector_records(rows: Iterable[Cells], errors: list[RowError]) -> Iterator[dict[str, Any]]:
    seen_codes: dict[str, int] = {}
    seen_badges: dict[str, int] = {}
    for line, cells in rows:
        row = _RowCheck(line, cells, errors)
        code = row.matching("人员编号", PERSON_CODE, "应为 1 到 32 位字母、数字、- 或 _")
        row.unique("人员编号", code, seen_codes, "人员编号")
        name = row.required("姓名", 50)
        badge = row.required("执法证号", 50)
        row.unique("执法证号", badge, seen_badges, "执法证号")
        region = row.matching("区划代码", REGION_CODE, "应为 6 位数字（GB/T 2260 行政区划代码，如 350102）")
        if None not in (code, name, badge, region):
            yield {"code": code, "name": name, "badge_no": badge, "region": region}


def _conflict_records(rows: Iterable[Cells], errors: list[RowError], inspectors: Container[str],
                      institutions: Container[str]) -> Iterator[dict[str, Any]]:
    seen_pairs: dict[str, int] = {}
    for line, cells in rows:
        row = _RowCheck(line, cells, errors)
        inspector = row.required("人员编号", 32)
        if inspector is not None and inspector not in inspectors:
            row.error("人员编号", "执法检查人员名录中没有此人员编号（请先导入人员名录）")
            inspector = None
        institution = row.required("机构编码", 12)
        if institution is not None and institution not in institutions:
            row.error("机构编码", "定点医药机构名录中没有此机构编码（请先导入机构名录）")
            institution = None
        reason = row.value("原因")
        if len(reason) > 500:
            row.error("原因", "过长（最多 500 个字符）")
            continue
        if inspector is None or institution is None:
            continue
        pair = f"{inspector}/{institution}"
        if pair in seen_pairs:
            row.error("机构编码", f"该人员与该机构的利益冲突重复登记（与第 {seen_pairs[pair]} 行相同）")
            continue
        seen_pairs[pair] = line
        yield {"inspector_code": inspector, "institution_code": institution, "reason": reason}


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def check_file(session: Session, kind: str, data: bytes, filename: str) -> list[dict[str, Any]]:
    """What an import of this file would report, without importing: the error rows (empty when it would succeed).

    A file that cannot be read at all is one row with line 0.
    """
    errors: list[RowError] = []
    try:
        for _record in validated_records(kind, open_table(io.BytesIO(data), filename, kind), errors,
                                         **_known_codes(session, kind)):
            pass
    except RegistryFileError as exc:
        return [RowError(0, "", filename, str(exc)).as_dict()]
    return [e.as_dict() for e in errors]


def _known_codes(session: Session, kind: str) -> dict[str, set[str]]:
    """What conflicts are checked against: the codes of the registries (a registry's keys, read once, not a file's)."""
    if kind != "conflicts":
        return {}
    return {"known_inspectors": _codes(session, Inspector), "known_institutions": _codes(session, Institution)}


def _codes(session: Session, model: type[SQLModel]) -> set[str]:
    """A registry's codes, read as one text the database joins (a registry's worth of rows, even the driver's, costs
    more than this); a code holds no line break (the imports' patterns)."""
    connection = session.connection()
    table = connection.dialect.identifier_preparer.quote(model.__table__.name)  # type: ignore[attr-defined]
    joined = ("string_agg(code, E'\\n')" if connection.dialect.name == "postgresql"
              else "group_concat(code, char(10))")
    cursor: Any = connection.connection.cursor()
    try:
        cursor.execute(f"SELECT {joined} FROM {table}")
        (text,) = cursor.fetchone()
        return set(text.split("\n")) if text is not None else set()
    finally:
        cursor.close()


# ---- importing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registry:
    model: type[SQLModel]
    key: tuple[str, ...]  # what a row is upserted by
    fields: tuple[str, ...]  # what the file sets, and the history records
    dates: tuple[str, ...] = ()  # the fields that hold dates (ISO text in the history)


_REGISTRIES = {
    "institutions": _Registry(Institution, ("code",), ("name", "kind", "region", "credit_code", "address", "risk_score",
                                                       "last_inspected"), ("last_inspected",)),
    "inspectors": _Registry(Inspector, ("code",), ("name", "badge_no", "region")),
    "conflicts": _Registry(Conflict, ("inspector_code", "institution_code"), ("reason",)),
}
_CHANGES = ("created", "updated", "unchanged", "reactivated", "deactivated")


def import_registry(session: Session, kind: str, source: bytes | IO[bytes], filename: str,
                    now: datetime) -> dict[str, Any]:
    """Validate and upsert by code with history as the file (bytes, or a seekable binary file) is read; then rows
    missing from the file are deactivated, never deleted.

    Raises RegistryFileError or RegistryImportError once the session is rolled back: nothing of the import is
    stored, nor anything else the session had not committed. The caller commits.
    """
    if kind not in REGISTRY_KINDS:
        raise ValueError(kind)
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return _import(session, kind, file, filename, now)
    except (RegistryFileError, RegistryImportError):
        session.rollback()
        raise


def _import(session: Session, kind: str, file: IO[bytes], filename: str, now: datetime) -> dict[str, Any]:
    digest = _sha256(file)
    table = open_table(file, filename, kind)
    batch = RegistryImport(kind=kind, source_name=Path(filename).name, source_sha256=digest, rows=0, imported_at=now)
    session.add(batch)
    session.flush()  # the batch's id, and whatever the session held, before the bulk statements
    assert batch.id is not None
    writer = _Writer(session, _REGISTRIES[kind], kind, batch.id, now)
    errors: list[RowError] = []
    for records in _batches(validated_records(kind, table, errors, **_known_codes(session, kind)), IMPORT_BATCH):
        if not errors:
            writer.write(records)
    if errors:
        raise RegistryImportError(errors)
    writer.deactivate_missing()
    counts = writer.counts
    batch.rows, batch.created, batch.updated, batch.deactivated = (writer.rows, counts["created"], counts["updated"],
                                                                   counts["deactivated"])
    session.add(batch)
    session.flush()
    for instance in list(session.identity_map.values()):  # the ORM's copies of rows the statements changed
        if isinstance(instance, _REGISTRIES[kind].model):
            session.expire(instance)
    return {"kind": kind, "file": batch.source_name, "import_id": batch.id, "rows": writer.rows, **counts}


def _sha256(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := file.read(_READ_CHUNK):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


Key = tuple[Any, ...]
Change = tuple[str, Key, dict[str, Any] | None, dict[str, Any] | None]  # change, key, before, after


def _key_getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], Key]:
    """A row's values of `names` as a tuple (itemgetter's, and a 1-tuple for one name)."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    name = names[0]
    return lambda row: (row[name],)


def _plan_upserts(records: list[dict[str, Any]], keys: list[Key], existing: dict[Key, dict[str, Any]],
                  registry: _Registry) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Change]]:
    """What a batch of records (and their keys) does to the rows stored under their keys: the records to insert, the
    changed rows (their key, fields and `active`), and the history in file order ("unchanged" ones included, with no
    states)."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[Change] = []
    for record, key in zip(records, keys, strict=True):
        row = existing.get(key)
        if row is None:
            inserts.append(record)
            changes.append(("created", key, None, _state(record, registry, True)))
            continue
        before = _state(row, registry, row["active"])
        # the bureau tracks inspections itself: a blank 上次检查日期 does not erase them
        values = {name: row[name] if name == "last_inspected" and record[name] is None else record[name]
                  for name in registry.fields}
        after = _state(values, registry, True)
        if after == before:
            changes.append(("unchanged", key, None, None))
            continue
        updates.append({**dict(zip(registry.key, key, strict=True)), **values, "active": True})
        changes.append(("updated" if before["active"] else "reactivated", key, before, after))
    return inserts, updates, changes


def _plan_deactivations(rows: Iterable[dict[str, Any]], registry: _Registry) -> list[Change]:
    """The history of active rows the file left out, as they are deactivated."""
    changes: list[Change] = []
    for row in rows:
        before = _state(row, registry, True)
        changes.append(("deactivated", tuple(row[name] for name in registry.key), before, {**before, "active": False}))
    return changes


def _state(source: dict[str, Any], registry: _Registry, active: bool) -> dict[str, Any]:
    """The history form of a row: JSON-safe values of the imported fields, plus whether it is active."""
    state = {name: source[name] for name in registry.fields}
    for name in registry.dates:
        if state[name] is not None:
            state[name] = state[name].isoformat()
    state["active"] = active
    return state


class _Writer:
    """Writes an import a batch at a time with bulk statements: the new rows, the changed ones, a history row each."""

    def __init__(self, session: Session, registry: _Registry, kind: str, import_id: int, now: datetime):
        self.session, self.registry, self.kind, self.import_id = session, registry, kind, import_id
        self.table: DbTable = registry.model.__table__  # type: ignore[attr-defined]
        self.dialect = session.get_bind().dialect
        self.stamp = {"updated_at": now} if "updated_at" in self.table.c else {}
        self.new_row = {"active": True, **self.stamp}  # what every inserted row has
        if self.dialect.name == "postgresql" and self.stamp:  # COPY drops the zone: the server turns it as a parameter
            self.new_row["updated_at"] = session.execute(core_select(cast(literal(now), DateTime()))).scalar_one()
        self.key_of = _key_getter(registry.key)
        self.in_file: set[Key] = set()
        self.rows = 0
        self.counts = dict.fromkeys(_CHANGES, 0)
        key_columns = [self.table.c[name] for name in registry.key]
        self.columns = [*key_columns, *(self.table.c[name] for name in registry.fields), self.table.c.active]
        self.where_key = and_(*(column == bindparam(f"key_{column.name}") for column in key_columns))
        self.was_empty = session.execute(core_select(key_columns[0]).limit(1)).first() is None

    def _with_keys(self, keys: list[Key]) -> ColumnElement[bool]:
        key_columns = self.columns[:len(self.registry.key)]
        if len(key_columns) == 1:
            return key_columns[0].in_([key[0] for key in keys])
        return tuple_(*key_columns).in_(keys)

    def write(self, records: list[dict[str, Any]]) -> None:
        keys = list(map(self.key_of, records))
        self.rows += len(records)
        existing = {}
        if not self.was_empty:  # else no row is missing from the file, nor stored under its keys
            self.in_file.update(keys)
            existing = self._stored(keys)
        inserts, updates, changes = _plan_upserts(records, keys, existing, self.registry)
        names = (*self.registry.key, *self.registry.fields)
        self._insert(self.table, names, list(map(operator.itemgetter(*names), inserts)), self.new_row)
        self._update([{**row, **self.stamp} for row in updates])
        self._log(changes)

    def _stored(self, keys: list[Key]) -> dict[Key, dict[str, Any]]:
        found = self.session.execute(core_select(*self.columns).where(self._with_keys(keys))).mappings()
        return {tuple(row[name] for name in self.registry.key): dict(row) for row in found}

    def deactivate_missing(self) -> None:
        """Page through the keys of the active rows in primary-key order; deactivate the rows the file left out."""
        if self.was_empty:
            return  # every row there is came from the file
        order = list(self.table.primary_key.columns)[0]
        key_columns = self.columns[:len(self.registry.key)]
        last = None
        while True:
            query = core_select(order, *key_columns).where(self.table.c.active == True)  # noqa: E712
            if last is not None:
                query = query.where(order > last)
            page = self.session.execute(query.order_by(order).limit(IMPORT_BATCH)).all()
            if not page:
                return
            last = page[-1][0]
            missing = [tuple(row[1:]) for row in page if tuple(row[1:]) not in self.in_file]
            if missing:
                stored = self._stored(missing)
                changes = _plan_deactivations((stored[key] for key in missing), self.registry)
                self._update([{**dict(zip(self.registry.key, key, strict=True)), "active": False, **self.stamp}
                              for _change, key, _before, _after in changes])
                self._log(changes)

    def _update(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            params = [{f"key_{name}" if name in self.registry.key else name: value for name, value in row.items()}
                      for row in rows]
            self.session.execute(update(self.table).where(self.where_key), params)

    def _log(self, changes: list[Change]) -> None:
        history = []
        counts, dumps = self.counts, json.dumps  # JSON as SQLAlchemy writes it: None is the JSON null, as before
        import_id, kind = self.import_id, self.kind
        for change, key, before, after in changes:
            counts[change] += 1
            if change != "unchanged":
                history.append(("/".join(key), change, "null" if before is None else dumps(before), dumps(after),
                                import_id, kind))
        self._insert(RegistryChange.__table__, ("code", "change", "before", "after", "import_id", "kind"),  # type: ignore[attr-defined]
                     history, {})

    def _insert(self, table: DbTable, names: tuple[str, ...], rows: list[tuple[Any, ...]],
                same: dict[str, Any]) -> None:
        """Bulk insert of rows (values of `names`, JSON ones as their text, then `same` in each), stored as SQLAlchemy
        stores them (its own type conversions) without its per-row work: COPY on PostgreSQL, the driver's executemany
        on SQLite."""
        if not rows:
            return
        quote = self.dialect.identifier_preparer.quote
        columns = f"{quote(table.name)} ({', '.join(quote(name) for name in (*names, *same))})"
        cursor: Any = self.session.connection().connection.cursor()
        try:
            if self.dialect.name == "postgresql":
                with cursor.copy(f"COPY {columns} FROM STDIN") as out:
                    for row in _converted(rows, (), tuple(same.values())):
                        out.write_row(row)
            else:
                convert = [None if isinstance(table.c[name].type, JSON)
                           else table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)
                           for name in (*names, *same)]
                tail = next(iter(_converted([tuple(same.values())], convert[len(names):], ())))
                cursor.executemany(f"INSERT INTO {columns} VALUES ({', '.join('?' * len(convert))})",
                                   _converted(rows, convert[:len(names)], tail))
        finally:
            cursor.close()


def _converted(rows: Iterable[Sequence[Any]], convert: Sequence[Callable[[Any], Any] | None],
               tail: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """Each row with its values converted (None as the conversion makes it) and `tail` appended."""
    columns = [(n, to, to(None)) for n, to in enumerate(convert) if to is not None]
    if columns:
        return _converting(rows, columns, tail)
    return ((*row, *tail) for row in rows) if tail else rows


def _converting(rows: Iterable[Sequence[Any]], columns: list[tuple[int, Callable[[Any], Any], Any]],
                tail: Sequence[Any]) -> Iterator[list[Any]]:
    for row in rows:
        values = [*row, *tail]
        for n, to, none in columns:
            value = values[n]
            values[n] = none if value is None else to(value)
        yield values


# ---- what coverage reads ---------------------------------------------------------------------------------------


def inspection_status(session: Session) -> list[dict[str, Any]]:
    """Active institutions with their last inspection, the input of `bureau.coverage.coverage_report`: the later of
    the imported 上次检查日期 and the bureau's day of the last inspection record received for the institution."""
    received = dict(session.exec(select(ReceivedRecord.institution_code, func.max(ReceivedRecord.received_at))
                                 .group_by(ReceivedRecord.institution_code)).all())
    institutions = session.exec(select(Institution).where(col(Institution.active) == True))  # noqa: E712
    out = []
    for institution in institutions:
        code, name, kind, region = institution.code, institution.name, institution.kind, institution.region
        last = institution.last_inspected
        if received.get(code) is not None:
            arrived = received[code]
            day = (arrived if arrived.tzinfo else arrived.replace(tzinfo=timezone.utc)).astimezone().date()
            last = max(last, day) if last else day
        out.append({"code": code, "name": name, "kind": kind, "region": region, "last_inspected": last})
    return out
