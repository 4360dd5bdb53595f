"""The claims store: a DuckDB file under the bureau's data directory holding the line items (`claims`), the knowledge
base (`kb`) and the import history; the rules run on it. The only module that imports duckdb.

An import streams its file: each row is checked (`claims.check_row`) and written to a staging CSV beside the store,
which DuckDB then loads in one transaction, so nothing is stored unless every row is right and no 结算ID was imported
before (or `replace` says to replace those settlements)."""

from __future__ import annotations

import csv
import hashlib
import itertools
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
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
CREATE SEQUENCE IF NOT EXISTS claim_line START 1;
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
        staged = Path(scratch) / "staged.csv"
        rows = _stage(path, staged)
        con.begin()
        try:
            columns = ", ".join(f"'{name}': '{kind}'" for name, kind in _TYPES.items())
            con.execute(f"CREATE OR REPLACE TEMP TABLE staging AS SELECT * FROM read_csv(?, header = false, "
                        f"columns = {{{columns}}}, quote = '\"', escape = '\"')", [str(staged)])
            mixed = con.execute(_MIXED_SETTLEMENTS, [MAX_ERRORS]).fetchall()
            if mixed:
                raise ClaimsImportError([RowError(line, HEADERS[0], settlement, f"同一结算ID的机构编码、参保人ID与就诊类型应一致"
                                                  f"（与第 {first} 行不同）") for settlement, line, first in mixed])
            stored = con.execute("SELECT s.settlement_id, min(s.line) FROM staging s "
                                 "WHERE s.settlement_id IN (SELECT settlement_id FROM claims) "
                                 "GROUP BY s.settlement_id ORDER BY 2 LIMIT ?", [MAX_ERRORS]).fetchall()
            if stored and not replace:
                raise ClaimsImportError([RowError(line, HEADERS[0], settlement, "该结算ID已导入过；要替换其明细请加 --replace")
                                         for settlement, line in stored])
            replaced = con.execute("SELECT count(DISTINCT settlement_id) FROM claims "
                                   "WHERE settlement_id IN (SELECT settlement_id FROM staging)").fetchone()
            con.execute("DELETE FROM claims WHERE settlement_id IN (SELECT settlement_id FROM staging)")
            names = ", ".join(claims.COLUMNS)
            con.execute(f"INSERT INTO claims SELECT nextval('claim_line'), {names} FROM staging ORDER BY line")
            settlements = con.execute("SELECT count(DISTINCT settlement_id) FROM staging").fetchone()
            report = {"file": path.name, "sha256": _sha256(path), "rows": rows,
                      "settlements": settlements[0] if settlements else 0, "replaced": replaced[0] if replaced else 0}
            con.execute("INSERT INTO claims_import VALUES (?, ?, ?, ?, ?, ?)",
                        [now or datetime.now(timezone.utc), *report.values()])
            con.execute("DROP TABLE staging")
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return report


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
