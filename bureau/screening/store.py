"""The claims store: a DuckDB file under the bureau's data directory holding the line items (`claims`), the knowledge
base (`kb`) and the import history; the rules run on it. The only module that imports duckdb.

An import lets DuckDB read the whole file into `claims` in one transaction, checking every row on the way
(`claims.usual_row_sql`), and keeps it when every row was usual, each on its own line, and no settlement is wrong or
imported before (or `replace` says to replace those settlements). Otherwise nothing is kept and the import names the
problems exactly as the checks of each row always have: a settlement's by the rows' lines (which DuckDB's row numbers
are, then), a row's by streaming the file through `claims.check_row` into a staging CSV beside the store, which DuckDB
loads in one transaction if every row is right after all (a cell with blanks around it, a line break in a name)."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

import duckdb

from bureau.screening import claims
from bureau.screening.claims import HEADERS, ClaimsFileError, ClaimsImportError, RowError
from bureau.screening.risk import digest, hit_record, rank_institutions
from bureau.screening.rules import DEFAULT_KB, KB_COLUMNS, KB_HEADERS, Rule, check_kb_row, kb_header_problem

STORE_FILE = "claims.duckdb"
MAX_ERRORS = 1000  # listed before the check stops reading
_FETCH = 10_000
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
  line_id BIGINT NOT NULL, settlement_id VARCHAR NOT NULL, institution VARCHAR NOT NULL, person VARCHAR NOT NULL,
  sex VARCHAR NOT NULL, birth_date DATE NOT NULL, visit_type VARCHAR NOT NULL, admit_date DATE, discharge_date DATE,
  fee_date DATE NOT NULL, diagnosis VARCHAR, item_code VARCHAR NOT NULL, item_name VARCHAR NOT NULL,
  quantity DECIMAL(18,4) NOT NULL, unit_price DECIMAL(18,4) NOT NULL, amount DECIMAL(18,2) NOT NULL,
  fund_amount DECIMAL(18,2) NOT NULL, supply_days INTEGER);
CREATE TABLE IF NOT EXISTS kb (
  item_code VARCHAR PRIMARY KEY, item_name VARCHAR NOT NULL, sex VARCHAR, max_age INTEGER, daily_max DECIMAL(18,4),
  max_days INTEGER, mutex_code VARCHAR, basis VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS claims_import (
  imported_at TIMESTAMPTZ NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, rows BIGINT NOT NULL,
  settlements BIGINT NOT NULL, replaced BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS kb_import (imported_at TIMESTAMPTZ NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL);
"""
_TYPES = {"line": "BIGINT", "settlement_id": "VARCHAR", "institution": "VARCHAR", "person": "VARCHAR",
          "sex": "VARCHAR", "birth_date": "DATE", "visit_type": "VARCHAR", "admit_date": "DATE",
          "discharge_date": "DATE", "fee_date": "DATE", "diagnosis": "VARCHAR", "item_code": "VARCHAR",
          "item_name": "VARCHAR", "quantity": "DECIMAL(18,4)", "unit_price": "DECIMAL(18,4)",
          "amount": "DECIMAL(18,2)", "fund_amount": "DECIMAL(18,2)", "supply_days": "INTEGER"}


# said of a settlement imported before, in the words of the command line and of the 智能监控 screen
REIMPORTED = "该结算ID已导入过；要替换其明细，请加 --replace（智能监控页面：打开“替换已导入过的结算ID”）"


class StoreError(Exception):
    """The claims store cannot be opened."""

# The first line of each settlement whose institution, person or visit type differs from the settlement's first line.
_MIXED_SETTLEMENTS = """
SELECT settlement_id, min(line), min(first_line) FROM (
  SELECT settlement_id, line, first_value(line) OVER w AS first_line,
         (institution, person, visit_type) IS DISTINCT FROM first_value((institution, person, visit_type)) OVER w AS differs
  FROM staging WINDOW w AS (PARTITION BY settlement_id ORDER BY line))
WHERE differs GROUP BY settlement_id ORDER BY 2 LIMIT ?
"""


def open_store(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """The claims store in `data_dir` (created with the default knowledge base the first time)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(data_dir / STORE_FILE))
    except duckdb.IOException as exc:  # another process holds it (DuckDB: one writer process at a time)
        raise StoreError(f"{data_dir / STORE_FILE}：无法打开结算明细库（{str(exc).splitlines()[0]}）；"
                         "是否另有导入或筛查正在运行？") from None
    con.execute(SCHEMA)
    fetched = con.execute("SELECT count(*) FROM kb_import").fetchone()
    if fetched is not None and fetched[0] == 0:
        import_kb(con, DEFAULT_KB)
    return con


# ---- claims -----------------------------------------------------------------------------------------------------


def import_claims(con: duckdb.DuckDBPyConnection, path: Path, *, replace: bool = False,
                  now: datetime | None = None) -> dict[str, Any]:
    """Import a claims file (CSV or Parquet) all-or-nothing; what was imported. Raises ClaimsFileError when the file
    cannot be read, ClaimsImportError with every problem (up to MAX_ERRORS) when rows are wrong or a 结算ID is
    already stored and `replace` is not given."""
    with tempfile.TemporaryDirectory(dir=_store_dir(con)) as scratch:  # beside the store: room for a copy
        bulk = _Bulk.of(path)
        imported = _import_usual(con, bulk, Path(scratch), replace, now) if bulk else False
        if isinstance(imported, dict):
            return imported
        try:
            if bulk and imported:  # every row usual: only a settlement's problem to name, by the rows' lines
                con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {_TYPED} FROM {bulk.source}",
                            [str(bulk.read)])
                con.execute("CREATE OR REPLACE TEMP VIEW staging AS SELECT rowid + 2 AS line, * FROM staged")
                rows, sha256 = con.execute("SELECT count(*) FROM staged").fetchall()[0][0], bulk.sha256
            else:
                staged = Path(scratch) / "staged.csv"
                rows, sha256 = _stage(path, staged), _sha256(path)
                columns = ", ".join(f"'{name}': '{kind}'" for name, kind in _TYPES.items())
                con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM read_csv(?, header = false, "
                            f"columns = {{{columns}}}, quote = '\"', escape = '\"')", [str(staged)])
                con.execute("CREATE OR REPLACE TEMP VIEW staging AS SELECT * FROM staged")
            con.begin()
            try:
                report = _store_staged(con, path.name, sha256, rows, replace, now)
                con.commit()
            except BaseException:
                con.rollback()
                raise
        finally:
            con.execute("DROP VIEW IF EXISTS staging; DROP TABLE IF EXISTS staged")
    return report


def _store_staged(con: duckdb.DuckDBPyConnection, filename: str, sha256: str, rows: int, replace: bool,
                  now: datetime | None) -> dict[str, Any]:
    """Store the checked rows of the `staging` view (line and the claims columns) unless a settlement mixes
    institutions, persons or visit types, or was imported before and `replace` is not given."""
    mixed = con.execute(_MIXED_SETTLEMENTS, [MAX_ERRORS]).fetchall()
    if mixed:
        raise ClaimsImportError([RowError(line, HEADERS[0], settlement, f"同一结算ID的机构编码、参保人ID与就诊类型应一致"
                                          f"（与第 {first} 行不同）") for settlement, line, first in mixed])
    stored = con.execute("SELECT s.settlement_id, min(s.line) FROM staging s "
                         "WHERE s.settlement_id IN (SELECT settlement_id FROM claims) "
                         "GROUP BY s.settlement_id ORDER BY 2 LIMIT ?", [MAX_ERRORS]).fetchall()
    if stored and not replace:
        raise ClaimsImportError([RowError(line, HEADERS[0], settlement, REIMPORTED) for settlement, line in stored])
    replaced = con.execute("SELECT count(DISTINCT settlement_id) FROM claims "
                           "WHERE settlement_id IN (SELECT settlement_id FROM staging)").fetchone()
    con.execute("DELETE FROM claims WHERE settlement_id IN (SELECT settlement_id FROM staging)")
    # line_id: past every stored one (a line's number is unique in its file)
    names = ", ".join(claims.COLUMNS)
    con.execute(f"INSERT INTO claims SELECT (SELECT coalesce(max(line_id), 0) FROM claims) + line, {names} "
                "FROM staging")
    settlements = con.execute("SELECT count(DISTINCT settlement_id) FROM staging").fetchone()
    return _record_import(con, filename, sha256, rows, settlements[0] if settlements else 0,
                          replaced[0] if replaced else 0, now)


def _record_import(con: duckdb.DuckDBPyConnection, filename: str, sha256: str, rows: int, settlements: int,
                   replaced: int, now: datetime | None) -> dict[str, Any]:
    report = {"file": filename, "sha256": sha256, "rows": rows, "settlements": settlements, "replaced": replaced}
    con.execute("INSERT INTO claims_import VALUES (?, ?, ?, ?, ?, ?)",
                [now or datetime.now(timezone.utc), *report.values()])
    return report


# Each cell of a claims row (c0 … c16, in HEADERS order) as its store column, as `_write_staged` stages it
_TYPED = ", ".join(f"{cast} AS {name}" for name, cast in zip(claims.COLUMNS, [
    "c0", "c1", "c2", "c3", "TRY_CAST(c4 AS DATE)", "c5", "TRY_CAST(nullif(c6, '') AS DATE)",
    "TRY_CAST(nullif(c7, '') AS DATE)", "TRY_CAST(c8 AS DATE)", "nullif(c9, '')", "c10", "c11",
    "TRY_CAST(c12 AS DECIMAL(18,4))", "TRY_CAST(c13 AS DECIMAL(18,4))", "TRY_CAST(c14 AS DECIMAL(18,2))",
    "TRY_CAST(c15 AS DECIMAL(18,2))", "TRY_CAST(nullif(c16, '') AS INTEGER)"]))
_CELLS = [f"c{i}" for i in range(len(HEADERS))]
_READ_CSV = ("read_csv(?, header = false, skip = 1, delim = ',', quote = '\"', escape = '\"', auto_detect = false, "
             "strict_mode = true, columns = {" + ", ".join(f"'{c}': 'VARCHAR'" for c in _CELLS) + "})")


@dataclass
class _Bulk:
    """A claims file with the right header, as DuckDB reads it: the FROM clause of its cells (c0 … c16, `?` the file
    read), the file read (a UTF-8 copy of a GBK file, once `transcoded`), its number of lines (None for Parquet) and
    the sha256 of the file itself."""
    source: str
    path: Path
    read: Path
    lines: int | None
    sha256: str

    @classmethod
    def of(cls, path: Path) -> _Bulk | None:
        """None when the file cannot be read, its header is wrong or its lines cannot be counted in its bytes (then
        the row-by-row reading says what is wrong, or reads it)."""
        facts = _file_facts(path)
        if facts is None:
            return None
        sha256, (newlines, returns, crlfs, last) = facts
        if path.suffix.lower() == ".parquet":
            with closing(_parquet_rows(path)) as parquet:
                try:
                    names = next(parquet)[1]
                except ClaimsFileError:
                    return None
            if claims.header_problem(names):
                return None
            cells = ", ".join(f'CAST("{n}" AS VARCHAR) AS c{i}'
                              for i, n in enumerate(n.replace('"', '""') for n in names))
            return cls(f"(SELECT {cells} FROM read_parquet(?))", path, path, None, sha256)
        with path.open("rb") as head:
            if claims.csv_encodings(head) == ("utf-16",):  # its bytes do not count its lines
                return None
        try:
            header = _read_csv(path, lambda rows: next(rows, None))
        except ClaimsFileError:
            return None
        if header is None or header[0] != 1 or claims.header_problem(header[1]) or returns != crlfs:
            return None  # (a lone CR ends a line for Python's csv)
        return cls(_READ_CSV, path, path, newlines + (last != b"\n"), sha256)

    def transcoded(self, error: duckdb.Error, scratch: Path) -> bool:
        """After DuckDB found the file not UTF-8: read a UTF-8 copy from now on, decoded as `_read_csv` would (GBK).
        In GB18030 as in UTF-8 no byte of a character is CR or LF: the lines counted in the file's bytes stay right."""
        if self.read != self.path or "unicode" not in str(error).lower():
            return False
        self.read = scratch / "utf8.csv"
        return _transcode(self.path, self.read)


def _import_usual(con: duckdb.DuckDBPyConnection, bulk: _Bulk, scratch: Path, replace: bool,
                  now: datetime | None) -> dict[str, Any] | bool:
    """The fast path: the file's rows go straight into `claims`, the usual ones only (`claims.usual_row_sql`, checked
    by DuckDB in bulk), and are kept when they were all of the file's rows, each on its own line, and no settlement
    mixes institutions, persons or visit types or was imported before (unless `replace`): the report. Else nothing
    is stored and the answer is whether every row was usual (then only a settlement's problem is to be named)."""
    for attempt in range(2):
        con.begin()
        try:
            imported = _insert_usual(con, bulk, replace, now)
        except duckdb.Error as exc:
            con.rollback()
            if attempt or not bulk.transcoded(exc, scratch):
                return False
            continue
        except BaseException:
            con.rollback()
            raise
        if isinstance(imported, dict):
            con.commit()
        else:
            con.rollback()
        return imported
    return False


def _insert_usual(con: duckdb.DuckDBPyConnection, bulk: _Bulk, replace: bool,
                  now: datetime | None) -> dict[str, Any] | bool:
    """`_import_usual` in its transaction: the report, or whether every row was usual (then nothing is to be kept)."""
    fetched = con.execute("SELECT coalesce(max(line_id), 0) FROM claims").fetchone()
    base = fetched[0] if fetched else 0
    inserted = con.execute(f"INSERT INTO claims SELECT {base} + row_number() OVER (), {_TYPED} FROM {bulk.source} "
                           f"WHERE ({claims.usual_row_sql(_CELLS)}) IS TRUE", [str(bulk.read)]).fetchall()[0][0]
    if bulk.lines is None:
        rows = con.execute(f"SELECT count(*) FROM {bulk.source}", [str(bulk.read)]).fetchall()[0][0]
    else:  # each line holds at most one row (no cell holds a line break): as many rows as lines are each a line
        rows = bulk.lines - 1
    if inserted != rows:
        return False
    settlements, mixed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE kinds > 1) FROM (SELECT count(DISTINCT (institution, person, "
        "visit_type)) AS kinds FROM claims WHERE line_id > ? GROUP BY settlement_id)", [base]).fetchall()[0]
    before = "SELECT settlement_id FROM claims WHERE line_id <= ? AND settlement_id IN " \
             "(SELECT settlement_id FROM claims WHERE line_id > ?)"
    replaced = con.execute(f"SELECT count(DISTINCT settlement_id) FROM ({before})", [base, base]).fetchall()[0][0]
    if mixed or (replaced and not replace):
        return True
    if replaced:
        con.execute(f"DELETE FROM claims WHERE line_id <= ? AND settlement_id IN ({before})", [base, base, base])
    return _record_import(con, bulk.path.name, bulk.sha256, rows, settlements, replaced, now)


def _file_facts(path: Path) -> tuple[str, tuple[int, int, int, bytes]] | None:
    """A file's sha256 and its line breaks: LF, CR and CRLF counts and its last byte; None if it cannot be read."""
    h = hashlib.sha256()
    newlines = returns = crlfs = 0
    last = b""
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
                newlines += chunk.count(b"\n")
                returns += chunk.count(b"\r")
                crlfs += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    return h.hexdigest(), (newlines, returns, crlfs, last)


def _transcode(path: Path, target: Path) -> bool:
    """Write a CSV file as UTF-8 in the first encoding `_read_csv` would read it in; False when none decodes it."""
    with path.open("rb") as source:
        for encoding in claims.csv_encodings(source):
            try:
                text = io.TextIOWrapper(source, encoding=encoding, newline="")
                try:
                    with target.open("w", encoding="utf-8", newline="") as out:
                        while chunk := text.read(1 << 22):
                            out.write(chunk)
                finally:
                    text.detach()
                return True
            except UnicodeDecodeError:
                source.seek(0)
    return False


def _store_dir(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return str(Path(row[0]).parent) if row and row[0] else None


def _stage(path: Path, staged: Path) -> int:
    """Check every row of the file and write the good ones (with their line) to `staged`; the number of rows."""
    if path.suffix.lower() == ".parquet":
        with closing(_parquet_rows(path)) as rows:
            return _write_staged(staged, rows, path.name)
    return _read_csv(path, lambda rows: _write_staged(staged, rows, path.name))


def _read_csv(path: Path, consume: Callable[[Iterator[tuple[int, list[str]]]], T]) -> T:
    """`consume` the rows of a CSV file in the first encoding it decodes in (UTF-8, BOM, GBK)."""
    try:
        source: IO[bytes] = path.open("rb")
    except OSError as exc:
        raise ClaimsFileError(f"{path.name}：无法读取文件（{exc.strerror or exc}）") from None
    with source:
        for encoding in claims.csv_encodings(source):
            try:
                with closing(claims.csv_rows(source, encoding, path.name)) as rows:
                    return consume(rows)
            except UnicodeDecodeError:
                source.seek(0)
    raise ClaimsFileError(f"{path.name}：无法识别文件编码（支持 UTF-8、带 BOM 的 UTF-8 与 GBK）")


def _write_staged(staged: Path, rows: Iterator[tuple[int, list[str]]], filename: str) -> int:
    header = next(rows, None)
    if header is None:
        raise ClaimsFileError(f"{filename}：文件为空，应有表头行：{'、'.join(HEADERS)}")
    problem = claims.header_problem(header[1])
    if problem:
        raise ClaimsFileError(f"{filename} 第 {header[0]} 行（表头）：{problem}")
    errors: list[RowError] = []
    count = 0
    with staged.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for line, cells in rows:
            count += 1
            values = claims.check_row(line, cells, errors)
            if values is not None and not errors:
                writer.writerow((line, *values))
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise ClaimsImportError(errors)
    return count


def _parquet_rows(path: Path) -> Generator[tuple[int, list[str]], None, None]:
    """A Parquet file's rows as text cells (row 1 is the header, so the first row is 2, as in a CSV)."""
    con = duckdb.connect()
    try:
        try:
            names = [d[0] for d in con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)]).description]
        except duckdb.Error as exc:
            raise ClaimsFileError(f"{path.name}：不是有效的 Parquet 文件（{str(exc).splitlines()[0]}）") from None
        yield 1, names
        selected = ", ".join(f'coalesce(CAST("{n}" AS VARCHAR), \'\')' for n in (n.replace('"', '""') for n in names))
        result = con.execute(f"SELECT {selected} FROM read_parquet(?)", [str(path)])
        line = itertools.count(2)
        while batch := result.fetchmany(_FETCH):
            for row in batch:
                yield next(line), list(row)
    finally:
        con.close()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# ---- knowledge base -----------------------------------------------------------------------------------------------


def import_kb(con: duckdb.DuckDBPyConnection, path: Path, now: datetime | None = None) -> int:
    """Replace the knowledge base with a CSV file's entries (all-or-nothing); how many entries."""
    entries = _read_csv(path, lambda rows: _kb_entries(rows, path.name))
    con.begin()
    try:
        con.execute("DELETE FROM kb")
        con.executemany(f"INSERT INTO kb ({', '.join(KB_COLUMNS)}) VALUES ({', '.join('?' * len(KB_COLUMNS))})",
                        [[v or None for v in entry] for entry in entries])
        con.execute("INSERT INTO kb_import VALUES (?, ?, ?)", [now or datetime.now(timezone.utc), path.name,
                                                              _sha256(path)])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return len(entries)


def _kb_entries(rows: Iterator[tuple[int, list[str]]], filename: str) -> list[tuple[str, ...]]:
    header = next(rows, None)
    if header is None:
        raise ClaimsFileError(f"{filename}：文件为空，应有表头行：{'、'.join(KB_HEADERS)}")
    problem = kb_header_problem(header[1])
    if problem:
        raise ClaimsFileError(f"{filename} 第 {header[0]} 行（表头）：{problem}")
    errors: list[RowError] = []
    entries: dict[str, tuple[str, ...]] = {}
    for line, cells in rows:
        entry = check_kb_row(line, cells, errors)
        if entry is not None and entry[0] in entries:
            errors.append(RowError(line, KB_HEADERS[0], entry[0], "项目编码重复"))
        elif entry is not None:
            entries[entry[0]] = entry
    if errors:
        raise ClaimsImportError(errors)
    return list(entries.values())


# ---- screening ----------------------------------------------------------------------------------------------------


def screen(con: duckdb.DuckDBPyConnection, rules: list[Rule]) -> dict[str, Any]:
    """Run the rules on the store: the result file's `hits` and `institutions`, and the run's `input_digest` (the
    imported files' and the knowledge base's digests) and `result_digest`."""
    hits: list[dict[str, Any]] = []
    for rule in rules:
        rows = con.execute(f"SELECT * FROM ({rule.sql}) ORDER BY ALL", rule.params or None).fetchall()
        hits.extend(hit_record(rule.id, row) for row in rows)
    institutions = [code for (code,) in con.execute("SELECT DISTINCT institution FROM claims").fetchall()]
    ranked = rank_institutions(hits, {r.id: r.result for r in rules}, institutions)
    result = {"hits": hits, "institutions": ranked}
    imports = con.execute("SELECT sha256 FROM claims_import ORDER BY imported_at").fetchall()
    kb = con.execute("SELECT * FROM kb ORDER BY item_code").fetchall()
    source = {"imports": [s for (s,) in imports], "kb": [[str(v) if v is not None else None for v in e] for e in kb]}
    return {**result, "input_digest": digest(source), "result_digest": digest(result)}
