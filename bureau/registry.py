"""名录库: reading registry files, validating them row by row, importing them all-or-nothing with history.

Files are what bureau staff already keep: CSV (UTF-8, UTF-8 with BOM, GBK, or Excel's UTF-16 "Unicode text") or XLSX,
with Chinese headers, possibly under a title row. Validation is pure (`validate_table`) and reports every problem as
`{line, column, value, message}`, so a screen can show the whole list; an import with any error writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from bureau.draw import kind_names
from bureau.models import Conflict, Inspector, Institution, ReceivedRecord, RegistryChange, RegistryImport

_RegistryRow = TypeVar("_RegistryRow", Institution, Inspector, Conflict)

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
HEADER_SEARCH_ROWS = 10

# What a registry file may be: limits on what is uploaded and on what reading it may cost, so a small file cannot
# unpack or pad itself into gigabytes.
MAX_FILE_BYTES = 50 * 1024 * 1024  # as uploaded
MAX_ROWS = 200_000  # a province's designated institutions are a few tens of thousands
MAX_COLUMNS = 64  # cells read per row: a registry has about ten columns; cells further right are not read
MAX_XLSX_UNPACKED = 256 * 1024 * 1024  # all the parts of an XLSX together, unpacked
MAX_XLSX_RATIO = 100  # a part packed tighter than 1:100 is a zip bomb (Apache POI's ZipSecureFile default) ...
_XLSX_RATIO_GRACE = 1024 * 1024  # ... unless it unpacks to no more than this

# GB 32100-2015 统一社会信用代码: 31 characters (no I O S V Z), weights for positions 1–17.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


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
    """A registry file as text cells under its header row."""

    header_line: int
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


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
    total = sum(CREDIT_CODE_CHARSET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid 统一社会信用代码, or None."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位（实际 {len(code)} 位）"
    bad = sorted({ch for ch in code if ch not in CREDIT_CODE_CHARSET})
    if bad:
        return f"含非法字符 {'、'.join(bad)}（只能是数字和除 I、O、S、V、Z 以外的大写字母）"
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return f"校验位错误：第 18 位应为 {expected}（GB 32100-2015）"
    return None


def normalize_kind(value: str) -> str | None:
    """机构类别 given as the id (`pharmacy`) or the Chinese name (定点零售药店) → the id; None when unknown."""
    text = value.strip()
    names = kind_names()
    if text.lower() in names:
        return text.lower()
    return next((kind for kind, name in names.items() if name == text), KIND_ALIASES.get(text))


# ---- reading files ---------------------------------------------------------------------------------------------


def read_table(data: bytes, filename: str, kind: str) -> Table:
    """Parse a CSV or XLSX registry file; the header row is the first of the top rows naming the key column. Reading
    is bounded: at most MAX_COLUMNS cells a row, and a file of more than MAX_ROWS rows (or an XLSX that would unpack
    to far more than it weighs) is a RegistryFileError."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        raw_rows = _xlsx_rows(data, filename)
    elif suffix == ".xls":
        raise RegistryFileError(f"{filename}：不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV")
    else:
        raw_rows = _csv_rows(data, filename)
    key_column = REQUIRED_COLUMNS[kind][0]
    for header_line, cells in raw_rows[:HEADER_SEARCH_ROWS]:  # noqa: B007 (the header row found is used below)
        columns = [_header_name(c) for c in cells]
        if key_column in columns:
            break
    else:
        expected = "、".join(REQUIRED_COLUMNS[kind])
        raise RegistryFileError(f"{filename}：前 {HEADER_SEARCH_ROWS} 行中找不到表头行（应含列：{expected}）")
    table = Table(header_line=header_line, columns=columns)
    for line, cells in raw_rows:
        if line <= header_line or not any(cells):
            continue
        padded = cells + [""] * (len(columns) - len(cells))
        table.rows.append((line, {name: padded[n] for n, name in enumerate(columns) if name}))
    return table


def _header_name(cell: str) -> str:
    """`* 风险分（0-100）` → `风险分`: required-markers and trailing hints in brackets are decoration."""
    name = cell.replace("*", "").replace("＊", "").strip()
    return re.sub(r"\s*[（(][^（()）]*[)）]$", "", name)


def _decode(data: bytes, filename: str) -> str:
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8):].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
    except UnicodeDecodeError:
        raise RegistryFileError(f"{filename}：文件编码与其字节顺序标记不符") from None
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RegistryFileError(f"{filename}：无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8、GBK 与 XLSX）")


def _too_many_rows(filename: str, line: int) -> RegistryFileError:
    return RegistryFileError(f"{filename} 第 {line} 行：超过名录文件的行数上限（{MAX_ROWS} 行），未导入")


def _csv_rows(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    text = _decode(data, filename)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if len(rows) == MAX_ROWS:
                raise _too_many_rows(filename, reader.line_num)
            rows.append((reader.line_num, [c.strip() for c in cells[:MAX_COLUMNS]]))
    except csv.Error as exc:
        raise RegistryFileError(f"{filename} 第 {reader.line_num} 行：CSV 格式错误（{exc}）") from None
    return rows


def _check_archive(data: bytes, filename: str) -> None:
    """Refuse an XLSX that unpacks to far more than it weighs, from its directory, before openpyxl opens it (zipfile
    never unpacks a part past the size its directory declares)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
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


def _xlsx_rows(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as they stream, as wide as the widest of the top rows the header is searched in (cells
    further right have no column; at most MAX_COLUMNS), at most MAX_ROWS of them; empty rows below the top left
    out (their numbers are kept)."""
    from openpyxl import load_workbook

    _check_archive(data, filename)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RegistryFileError(f"{filename}：不是有效的 XLSX 文件（{exc}）") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # the size a file declares (XFD1048576, say) is not read: only the rows it has
        top = list(sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, max_col=MAX_COLUMNS, values_only=True))
        width = max((len(values) - _trailing_blanks(values) for values in top), default=0)
        rows = [(line, [_cell_text(v) for v in values[:width]]) for line, values in enumerate(top, 1)]
        if not width:
            return rows  # nothing at the top, so no header: read_table says so
        below = sheet.iter_rows(min_row=HEADER_SEARCH_ROWS + 1, max_col=width, values_only=True)
        for line, values in enumerate(below, HEADER_SEARCH_ROWS + 1):
            if line > MAX_ROWS:
                raise _too_many_rows(filename, line)
            if values.count(None) < width:
                rows.append((line, [_cell_text(v) for v in values]))
        return rows
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
    errors = [RowError(table.header_line, name, "", f"缺少必填列「{name}」")
              for name in REQUIRED_COLUMNS[kind] if name not in table.columns]
    named = [c for c in table.columns if c]
    errors += [RowError(table.header_line, name, "", f"列「{name}」重复出现")
               for name in sorted(set(named)) if named.count(name) > 1]
    if errors:
        return [], errors
    if not table.rows:
        return [], [RowError(table.header_line, "", "", "表头下没有数据行（导入空名录会停用全部条目，已拒绝）")]
    if kind == "institutions":
        return _validate_institutions(table)
    if kind == "inspectors":
        return _validate_inspectors(table)
    return _validate_conflicts(table, set(known_inspectors), set(known_institutions))


class _RowCheck:
    """Collects the errors of one row."""

    def __init__(self, line: int, cells: dict[str, str], errors: list[RowError]):
        self.line, self.cells, self.errors = line, cells, errors

    def value(self, column: str) -> str:
        return self.cells.get(column, "")

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, self.value(column), message))

    def required(self, column: str, max_length: int = 200) -> str | None:
        text = self.value(column)
        if not text:
            self.error(column, "必填，不能为空")
            return None
        if len(text) > max_length:
            self.error(column, f"过长（最多 {max_length} 个字符）")
            return None
        return text

    def matching(self, column: str, pattern: re.Pattern, message: str) -> str | None:
        text = self.required(column)
        if text is not None and not pattern.fullmatch(text):
            self.error(column, message)
            return None
        return text

    def unique(self, column: str, text: str | None, seen: dict[str, int], what: str) -> None:
        if text is None:
            return
        if text in seen:
            self.error(column, f"{what}重复（与第 {seen[text]} 行相同）")
        else:
            seen[text] = self.line


def _validate_institutions(table: Table) -> tuple[list[dict[str, Any]], list[RowError]]:
    errors: list[RowError] = []
    records = []
    seen_codes: dict[str, int] = {}
    seen_credit: dict[str, int] = {}
    names = kind_names()
    for line, cells in table.rows:
        row = _RowCheck(line, cells, errors)
        code = row.matching("机构编码", INSTITUTION_CODE, "应为 H 或 P 加 11 位数字（如 H35010200001；P 为定点零售药店）")
        row.unique("机构编码", code, seen_codes, "机构编码")
        name = row.required("机构名称")
        kind = None
        if row.required("机构类别") is not None:
            kind = normalize_kind(row.value("机构类别"))
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
        records.append({"code": code, "name": name, "kind": kind, "region": region, "credit_code": credit,
                        "address": row.value("地址"), "risk_score": risk, "last_inspected": last_inspected})
    return records, errors


def _risk_score(row: _RowCheck) -> int | None | bool:
    """风险分 as an int, None when blank, False when invalid (the error is recorded)."""
    text = row.value("风险分")
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,3})(?:\.0+)?", text)
    if not match or int(match.group(1)) > 100:
        row.error("风险分", "应为 0 到 100 的整数，或留空")
        return False
    return int(match.group(1))


def _optional_date(row: _RowCheck, column: str) -> date | None | bool:
    """A date as YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or YYYY年M月D日; None when blank, False when invalid."""
    text = row.value(column)
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    try:
        if match:
            return date(*(int(g) for g in match.groups()))
    except ValueError:
        pass
    row.error(column, "应为日期，如 2024-05-20 或 2024年5月20日")
    return False


def _validate_inspectors(table: Table) -> tuple[list[dict[str, Any]], list[RowError]]:
    errors: list[RowError] = []
    records = []
    seen_codes: dict[str, int] = {}
    seen_badges: dict[str, int] = {}
    for line, cells in table.rows:
        row = _RowCheck(line, cells, errors)
        code = row.matching("人员编号", PERSON_CODE, "应为 1 到 32 位字母、数字、- 或 _")
        row.unique("人员编号", code, seen_codes, "人员编号")
        name = row.required("姓名", 50)
        badge = row.required("执法证号", 50)
        row.unique("执法证号", badge, seen_badges, "执法证号")
        region = row.matching("区划代码", REGION_CODE, "应为 6 位数字（GB/T 2260 行政区划代码，如 350102）")
        if None not in (code, name, badge, region):
            records.append({"code": code, "name": name, "badge_no": badge, "region": region})
    return records, errors


def _validate_conflicts(table: Table, inspectors: set[str],
                        institutions: set[str]) -> tuple[list[dict[str, Any]], list[RowError]]:
    errors: list[RowError] = []
    records = []
    seen_pairs: dict[str, int] = {}
    for line, cells in table.rows:
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
        records.append({"inspector_code": inspector, "institution_code": institution, "reason": reason})
    return records, errors


def check_file(session: Session, kind: str, data: bytes, filename: str) -> list[dict[str, Any]]:
    """What an import of this file would report, without importing: the error rows (empty when it would succeed).

    A file that cannot be read at all is one row with line 0.
    """
    try:
        table = read_table(data, filename, kind)
    except RegistryFileError as exc:
        return [RowError(0, "", filename, str(exc)).as_dict()]
    _, errors = validate_table(kind, table, **_known_codes(session, kind))
    return [e.as_dict() for e in errors]


def _known_codes(session: Session, kind: str) -> dict[str, set[str]]:
    if kind != "conflicts":
        return {}
    return {"known_inspectors": set(session.exec(select(Inspector.code)).all()),
            "known_institutions": set(session.exec(select(Institution.code)).all())}


# ---- importing -------------------------------------------------------------------------------------------------


def import_registry(session: Session, kind: str, data: bytes, filename: str, now: datetime) -> dict[str, Any]:
    """Validate, then upsert by code with history; rows missing from the file are deactivated, never deleted.

    Raises RegistryFileError or RegistryImportError (nothing written). The caller commits.
    """
    if kind not in REGISTRY_KINDS:
        raise ValueError(kind)
    table = read_table(data, filename, kind)
    records, errors = validate_table(kind, table, **_known_codes(session, kind))
    if errors:
        raise RegistryImportError(errors)
    batch = RegistryImport(kind=kind, source_name=Path(filename).name, source_sha256=hashlib.sha256(data).hexdigest(),
                           rows=len(records), imported_at=now)
    session.add(batch)
    session.flush()
    if kind == "institutions":
        counts = _upsert(session, batch, Institution, ("code",), ("name", "kind", "region", "credit_code", "address",
                                                                  "risk_score", "last_inspected"), records, now)
    elif kind == "inspectors":
        counts = _upsert(session, batch, Inspector, ("code",), ("name", "badge_no", "region"), records, now)
    else:
        counts = _upsert(session, batch, Conflict, ("inspector_code", "institution_code"), ("reason",), records, now)
    batch.created, batch.updated, batch.deactivated = counts["created"], counts["updated"], counts["deactivated"]
    session.add(batch)
    session.flush()
    return {"kind": kind, "file": batch.source_name, "import_id": batch.id, "rows": len(records), **counts}


def _upsert(session: Session, batch: RegistryImport, model: type[_RegistryRow], key: tuple[str, ...],
            fields: tuple[str, ...], records: list[dict[str, Any]], now: datetime) -> dict[str, int]:
    existing = {tuple(getattr(row, k) for k in key): row for row in session.exec(select(model)).all()}
    batch_id = batch.id
    assert batch_id is not None  # import_registry flushes the batch before upserting
    counts = {"created": 0, "updated": 0, "unchanged": 0, "reactivated": 0, "deactivated": 0}
    in_file = set()

    def log(code: tuple, change: str, before: dict | None, after: dict | None) -> None:
        counts[change] += 1
        session.add(RegistryChange(import_id=batch_id, kind=batch.kind, code="/".join(code), change=change,
                                   before=before, after=after))

    for record in records:
        code = tuple(record[k] for k in key)
        in_file.add(code)
        row = existing.get(code)
        if row is None:
            stamp: dict[str, Any] = _stamp(model, now)  # a plain kwargs dict for the model's constructor
            session.add(model(**record, active=True, **stamp))
            log(code, "created", None, _state(record, fields, True))
            continue
        before = _state(row, fields, row.active)
        for name in fields:
            if name == "last_inspected" and record[name] is None:
                continue  # the bureau tracks inspections itself; a blank cell does not erase them
            setattr(row, name, record[name])
        row.active = True
        after = _state(row, fields, True)
        if after == before:
            counts["unchanged"] += 1
            continue
        for name, value in _stamp(model, now).items():
            setattr(row, name, value)
        session.add(row)
        log(code, "updated" if before["active"] else "reactivated", before, after)
    for code, row in existing.items():
        if code not in in_file and row.active:
            before = _state(row, fields, True)
            row.active = False
            for name, value in _stamp(model, now).items():
                setattr(row, name, value)
            session.add(row)
            log(code, "deactivated", before, {**before, "active": False})
    return counts


def _stamp(model: type[SQLModel], now: datetime) -> dict[str, datetime]:
    return {"updated_at": now} if "updated_at" in model.model_fields else {}


def _state(source: Any, fields: tuple[str, ...], active: bool) -> dict[str, Any]:
    """The history form of a row: JSON-safe values of the imported fields, plus whether it is active."""
    get = source.get if isinstance(source, dict) else (lambda name: getattr(source, name))
    values = {name: get(name) for name in fields}
    state = {name: value.isoformat() if isinstance(value, date) else value for name, value in values.items()}
    return {**state, "active": active}


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
