"""智能监控 screening (issue #16): claims import all-or-nothing with line and column errors (CSV in UTF-8, BOM, GBK;
Parquet), the knowledge base as data, every rule finding exactly the planted violations and nothing in clean data,
the risk ranking, and each run kept in the bureau database."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, create_engine, select

from bureau.models import ScreeningHit, ScreeningRun
from bureau.screening.claims import HEADERS, ClaimsFileError, ClaimsImportError
from bureau.screening.risk import digest, rank_institutions
from bureau.screening.rules import DEFAULT_KB, load_rules, select_rules
from bureau.screening.store import import_claims, import_kb, open_store, screen
from tests.claims_gen import Expected, generate
from tests.support import run_cli

PERSONS, INSTITUTIONS = 120, 8


@pytest.fixture(scope="module")
def claims_text() -> tuple[str, list[Expected]]:
    out = io.StringIO()
    _, expected = generate(out, PERSONS, INSTITUTIONS)
    return out.getvalue(), expected


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _found(hits: list[dict]) -> set[tuple]:
    return {(h["rule"], h["settlement_id"], h["institution"], h["person"], h.get("date") or h["month"],
             None if h["rule"] == "R-COST" else h["amount_yuan"]) for h in hits}


def _planted(expected: list[Expected]) -> set[tuple]:
    return {(e.rule, e.settlement_id, e.institution, e.person, e.when, e.amount_yuan) for e in expected}


def _stored_rows(data: Path) -> int:
    con = open_store(data)
    try:
        row = con.execute("SELECT count(*) FROM claims").fetchone()
        return row[0] if row else -1
    finally:
        con.close()


def test_every_rule_finds_exactly_the_planted_violations(tmp_path, claims_text):
    text, expected = claims_text
    con = open_store(tmp_path / "data")
    import_claims(con, _write(tmp_path / "claims.csv", text))
    outcome = screen(con, load_rules())
    assert {e.rule for e in expected} == {r.id for r in load_rules()}  # every rule has a planted violation
    assert _found(outcome["hits"]) == _planted(expected)
    assert len(outcome["hits"]) == len(expected)


def test_clean_claims_give_no_hit(tmp_path):
    out = io.StringIO()
    generate(out, PERSONS, INSTITUTIONS, planted=False)
    con = open_store(tmp_path / "data")
    import_claims(con, _write(tmp_path / "clean.csv", out.getvalue()))
    outcome = screen(con, load_rules())
    assert outcome["hits"] == []
    assert {i["risk_score"] for i in outcome["institutions"]} == {0.0}


def test_a_rule_subset_and_an_unknown_rule(tmp_path, claims_text):
    text, expected = claims_text
    con = open_store(tmp_path / "data")
    import_claims(con, _write(tmp_path / "claims.csv", text))
    chosen = select_rules(load_rules(), "R-READMIT,R-GENDER")
    assert _found(screen(con, chosen)["hits"]) == {p for p in _planted(expected) if p[0] in ("R-READMIT", "R-GENDER")}
    with pytest.raises(Exception, match="R-NOPE"):
        select_rules(load_rules(), "R-GENDER,R-NOPE")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_bom_and_gbk_files_import_alike(tmp_path, claims_text, encoding):
    text, expected = claims_text
    con = open_store(tmp_path / "data")
    report = import_claims(con, _write(tmp_path / "claims.csv", text, encoding))
    assert report["rows"] == text.count("\n") - 1
    names = {n for (n,) in con.execute("SELECT DISTINCT item_name FROM claims WHERE item_code = 'KB-NURSE-1'").fetchall()}
    assert names == {"Ⅰ级护理"}
    assert _found(screen(con, load_rules())["hits"]) == _planted(expected)


def test_parquet_imports_like_csv(tmp_path, claims_text):
    text, expected = claims_text
    source = _write(tmp_path / "claims.csv", text)
    parquet = tmp_path / "claims.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_csv('{source}', all_varchar = true)) TO '{parquet}' (FORMAT parquet)")
    store = open_store(tmp_path / "data")
    assert import_claims(store, parquet)["rows"] == text.count("\n") - 1
    assert _found(screen(store, load_rules())["hits"]) == _planted(expected)


def _one_line(**changes: str) -> str:
    row = dict(zip(HEADERS, ["X1", "H35010000001", "P1", "男", "1980-01-01", "门诊", "", "", "2025-03-01", "J06.9",
                             "XM-BLOOD", "血常规", "1", "15.00", "15.00", "10.50", ""]))
    row.update(changes)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    writer.writerow(row.values())
    writer.writerow(["X2", *list(row.values())[1:]])
    return out.getvalue()



CANDIDATES = [["X1", " X1", ""], ["H35010000001", "h35010000001", ""], ["P1", "P 1"], ["男", "女", "M", ""],
              ["1980-01-01", "2026-01-01", "1980-02-30", ""], ["门诊", "住院", "购药", "急诊"],
              ["", "2025-02-25", "2025-03-05"], ["", "2025-03-02", "2025-02-20"], ["2025-03-01", "2025-3-1", ""],
              ["J06.9", "", "j06"], ["XM-BLOOD", ""], ["血常规", " ", " 血常规 "], ["1", "0", "0.0000", "-1", "1.5"],
              ["15.00", "0.0325", "1.23456"], ["15.00", "15.001", "0"], ["10.50", "15.00", "15.01", ""],
              ["", "7", "7.5"]]


@settings(max_examples=400, deadline=None)
@given(st.tuples(*[st.sampled_from(c) for c in CANDIDATES]))
def test_the_usual_row_shortcut_agrees_with_the_checks_cell_by_cell(cells):
    from bureau.screening.claims import _checked_row, check_row

    fast_errors: list = []
    slow_errors: list = []
    assert check_row(2, list(cells), fast_errors) == _checked_row(2, list(cells), slow_errors)
    assert fast_errors == slow_errors


# where DuckDB's RE2 and Python's re (or csv readers) differ: the bulk check refuses these names, the row checks decide
ENGINE_DIFFERENCES = ["血常规\u3000", "\u3000血常规", "血\n常规", 'Ⅰ级"护理"', "\u200b血常规"]
BULK_CANDIDATES = [*CANDIDATES[:4], [*CANDIDATES[4], "0000-01-01"], *CANDIDATES[5:11],
                   [*CANDIDATES[11], *ENGINE_DIFFERENCES], *CANDIDATES[12:]]


@settings(max_examples=400, deadline=None)
@given(st.tuples(*[st.sampled_from(c) for c in BULK_CANDIDATES]))
def test_the_bulk_check_in_duckdb_passes_exactly_the_rows_the_checks_pass_unchanged(cells):
    from bureau.screening.claims import check_row, usual_row_sql

    names = [f"c{i}" for i in range(len(HEADERS))]
    columns = ", ".join(f"nullif(?, '') AS {name}" for name in names)  # a blank cell reads as NULL
    with duckdb.connect() as con:
        fetched = con.execute(f"SELECT ({usual_row_sql(names)}) IS TRUE FROM (SELECT {columns})", list(cells)).fetchone()
    errors: list = []
    unchanged = check_row(2, list(cells), errors) == tuple(cells) and not errors
    assert fetched is not None
    if cells[11] in ENGINE_DIFFERENCES:
        assert not fetched[0]
    else:
        assert fetched[0] == unchanged


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_the_bulk_import_stores_what_the_row_by_row_import_stores(tmp_path, claims_text, monkeypatch, encoding):
    from bureau.screening import store

    source = _write(tmp_path / "claims.csv", claims_text[0], encoding)
    bulk = open_store(tmp_path / "bulk")
    bulk_report = import_claims(bulk, source)
    monkeypatch.setattr(store._Bulk, "of", classmethod(lambda cls, path: None))  # only the checks of each row
    by_row = open_store(tmp_path / "by-row")
    assert import_claims(by_row, source) == bulk_report
    stored = "SELECT * EXCLUDE (line_id) FROM claims ORDER BY ALL"
    assert bulk.execute(stored).fetchall() == by_row.execute(stored).fetchall()
    assert bulk.execute("SELECT count(DISTINCT line_id) FROM claims").fetchone() == (bulk_report["rows"],)


@pytest.mark.parametrize(("joined", "lines"), [
    ("\r\n".join, (4, 2)),  # each row on its line: DuckDB's row numbers are the lines
    (lambda rows: "\n".join([rows[0], "", *rows[1:]]), (5, 3)),  # a blank line
    (lambda rows: "\n".join([rows[0], rows[1], rows[2].replace("血常规", '"血\n常规"'), rows[3]]), (5, 2)),  # 2 lines
])
def test_errors_name_the_files_lines_when_rows_and_lines_differ(tmp_path, joined, lines):
    rows = _one_line().splitlines() + [_one_line(参保人ID="P2").splitlines()[1]]
    with pytest.raises(ClaimsImportError) as caught:
        import_claims(open_store(tmp_path / "data"), _write(tmp_path / "mixed.csv", joined(rows) + "\n"))
    line, first = lines
    assert [(e.line, e.value) for e in caught.value.errors] == [(line, "X1")]
    assert f"与第 {first} 行不同" in caught.value.errors[0].message


@pytest.mark.parametrize(("changes", "column", "expected"), [
    ({"费用日期": "2025/03/01"}, "费用日期", "YYYY-MM-DD"),
    ({"费用日期": "2025-02-30"}, "费用日期", "YYYY-MM-DD"),
    ({"金额": "15.001"}, "金额", "金额"),
    ({"医保支付金额": "abc"}, "医保支付金额", "金额"),
    ({"性别": "M"}, "性别", "男 或 女"),
    ({"就诊类型": "急诊"}, "就诊类型", "门诊、住院 或 购药"),
    ({"入院日期": "2025-03-01"}, "入院日期", "应为空"),
    ({"就诊类型": "住院"}, "入院日期", "不能为空"),
    ({"机构编码": "X123"}, "机构编码", "H 或 P"),
    ({"用药天数": "7天"}, "用药天数", "整数"),
])
def test_a_bad_cell_names_its_line_and_column_and_nothing_is_stored(tmp_path, changes, column, expected):
    data = tmp_path / "data"
    con = open_store(data)
    with pytest.raises(ClaimsImportError) as caught:
        import_claims(con, _write(tmp_path / "bad.csv", _one_line(**changes)))
    con.close()
    errors = caught.value.errors
    assert [e.line for e in errors if e.column == column] == [2, 3]
    assert expected in next(e.message for e in errors if e.column == column)
    assert _stored_rows(data) == 0


def test_a_bad_header_is_refused(tmp_path):
    text = _one_line().replace("医保支付金额", "统筹支付", 1)
    with pytest.raises(ClaimsFileError, match=r"第 1 行（表头）.*缺少列：医保支付金额.*多出列：统筹支付"):
        import_claims(open_store(tmp_path / "data"), _write(tmp_path / "bad.csv", text))


def test_a_settlement_billed_to_two_persons_is_refused(tmp_path):
    text = _one_line() + _one_line(参保人ID="P2").splitlines()[1] + "\n"
    with pytest.raises(ClaimsImportError) as caught:
        import_claims(open_store(tmp_path / "data"), _write(tmp_path / "mixed.csv", text))
    assert [(e.line, e.column, e.value) for e in caught.value.errors] == [(4, "结算ID", "X1")]
    assert "与第 2 行不同" in caught.value.errors[0].message


def test_a_settlement_is_replaced_only_when_asked(tmp_path):
    data = tmp_path / "data"
    con = open_store(data)
    first = _write(tmp_path / "first.csv", _one_line())
    import_claims(con, first)
    again = _write(tmp_path / "again.csv", _one_line(金额="20.00", 单价="20.00"))
    with pytest.raises(ClaimsImportError) as caught:
        import_claims(con, again)
    assert [(e.line, e.column, e.value) for e in caught.value.errors] == [(2, "结算ID", "X1"), (3, "结算ID", "X2")]
    assert "--replace" in caught.value.errors[0].message
    assert con.execute("SELECT sum(amount) FROM claims").fetchone() == (Decimal("30.00"),)
    report = import_claims(con, again, replace=True)
    assert (report["rows"], report["replaced"]) == (2, 2)
    assert con.execute("SELECT count(*), sum(amount) FROM claims").fetchone() == (2, Decimal("40.00"))


def test_the_knowledge_base_is_data(tmp_path, claims_text):
    text, expected = claims_text
    con = open_store(tmp_path / "data")
    import_claims(con, _write(tmp_path / "claims.csv", text))
    kb = DEFAULT_KB.read_text(encoding="utf-8").splitlines()
    without_tct = "\n".join(line for line in kb if not line.startswith("KB-TCT,")) + "\n"
    assert import_kb(con, _write(tmp_path / "kb.csv", without_tct, "gbk")) == len(kb) - 2
    gender = {h["settlement_id"] for h in screen(con, select_rules(load_rules(), "R-GENDER"))["hits"]}
    assert gender == {"PG2"}
    bad = without_tct + "KB-X,某项目,未知,,,,,某文件\nKB-Y,某项目,,十四,,,,\n"
    with pytest.raises(ClaimsImportError) as caught:
        import_kb(con, _write(tmp_path / "bad-kb.csv", bad))
    lines = len(kb) - 1
    assert [(e.line, e.column) for e in caught.value.errors] == [(lines + 1, "限定性别"), (lines + 2, "限定最大年龄"),
                                                                 (lines + 2, "依据")]
    assert con.execute("SELECT count(*) FROM kb").fetchone() == (len(kb) - 2,)  # the bad file changed nothing


def test_institutions_with_hits_rank_above_every_institution_without():
    hits = [{"rule": "R-DAYS", "institution": "H2", "amount_yuan": "0.01"},
            {"rule": "R-GENDER", "institution": "H1", "amount_yuan": "9000.00"},
            {"rule": "R-GENDER", "institution": "H1", "amount_yuan": "1000.00"}]
    ranked = rank_institutions(hits, {"R-DAYS": "可疑", "R-GENDER": "明确违规"}, ["H0", "H1", "H2", "H3"])
    assert [(r["code"], r["hits"], r["amount_yuan"]) for r in ranked] == [
        ("H1", 2, "10000.00"), ("H2", 1, "0.01"), ("H0", 0, "0.00"), ("H3", 0, "0.00")]
    assert ranked[0]["risk_score"] == 100.0
    assert ranked[1]["risk_score"] > 0 == ranked[2]["risk_score"]



@given(st.lists(st.tuples(st.sampled_from(["H1", "H2", "H3", "H4"]), st.sampled_from(["R-DAYS", "R-GENDER"]),
                          st.decimals(min_value=0, max_value=10**7, places=2)), max_size=30))
def test_any_institution_with_hits_ranks_above_every_institution_without(drawn):
    hits = [{"rule": rule, "institution": code, "amount_yuan": str(amount)} for code, rule, amount in drawn]
    ranked = rank_institutions(hits, {"R-DAYS": "可疑", "R-GENDER": "明确违规"}, ["H1", "H2", "H3", "H4", "H5"])
    flags = [r["hits"] > 0 for r in ranked]
    assert flags == sorted(flags, reverse=True)
    assert all((r["risk_score"] > 0) == (r["hits"] > 0) and 0 <= r["risk_score"] <= 100 for r in ranked)
    assert sum(r["hits"] for r in ranked) == len(hits)


def test_the_command_line_imports_screens_and_keeps_the_run(tmp_path, bureau_db_url, claims_text):
    text, expected = claims_text
    where = ("--db", bureau_db_url, "--data", str(tmp_path / "data"))
    imported = run_cli("claims", "import", str(_write(tmp_path / "claims.csv", text)), *where)
    assert json.loads(imported.stdout)["imported"] is True
    refused = run_cli("claims", "import", str(tmp_path / "claims.csv"), *where, check=False)
    assert refused.returncode == 1
    assert "claims.csv 第 2 行，列「结算ID」：该结算ID已导入过" in refused.stderr
    out = tmp_path / "result.json"
    summary = json.loads(run_cli("screen", "run", "--out", str(out), *where).stdout)
    result = json.loads(out.read_text(encoding="utf-8"))
    assert _found(result["hits"]) == _planted(expected)
    scores = [i["risk_score"] for i in result["institutions"]]
    assert scores == sorted(scores, reverse=True)
    assert min(i["risk_score"] for i in result["institutions"] if i["hits"]) > 0
    assert {i["risk_score"] for i in result["institutions"] if not i["hits"]} == {0.0}
    assert summary["result_digest"] == digest(result)
    engine = create_engine(bureau_db_url)
    with Session(engine) as session:
        run = session.exec(select(ScreeningRun)).one()
        stored = session.exec(select(ScreeningHit).order_by(col(ScreeningHit.seq))).all()
    engine.dispose()
    assert run.id == summary["run"] and run.result_digest == digest(result) and run.hits == len(expected)
    assert [(h.hit_id, h.rule, h.settlement_id, h.institution_code, h.person, h.day or h.month, h.amount_yuan)
            for h in stored] == [(f"{run.id}-{n}", h["rule"], h["settlement_id"], h["institution"], h["person"],
                                  h.get("date") or h.get("month"), h["amount_yuan"])
                                 for n, h in enumerate(result["hits"], start=1)]
    assert [r["id"] for r in run.rules] == [r.id for r in load_rules()] and run.risk == result["institutions"]
    unknown = run_cli("screen", "run", "--rules", "R-NOPE", "--out", str(out), *where, check=False)
    assert unknown.returncode == 2 and "R-NOPE" in unknown.stderr


def test_a_store_held_by_another_process_is_named(tmp_path):
    data = tmp_path / "data"
    held = open_store(data)  # this process holds the DuckDB file
    try:
        result = run_cli("claims", "import", str(_write(tmp_path / "c.csv", _one_line())), "--data", str(data),
                         check=False)
    finally:
        held.close()
    assert result.returncode == 1
    assert "claims.duckdb：无法打开结算明细库" in result.stderr and "Traceback" not in result.stderr
    assert _stored_rows(data) == 0
