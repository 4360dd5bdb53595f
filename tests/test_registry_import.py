"""名录库 import: file formats, validation with line and column, all-or-nothing, upsert with history, the snapshot.

Tests taking `bureau_engine` run on SQLite and, when the server answers, on PostgreSQL.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import Session, func, select

from bureau import registry
from bureau.draw_records import load_snapshot
from bureau.models import (
    Conflict,
    Inspector,
    Institution,
    RectificationOrder,
    RegistryChange,
    RegistryImport,
)
from bureau.registry import (
    RegistryFileError,
    RegistryImportError,
    check_file,
    credit_code_check_char,
    credit_code_problem,
    import_registry,
    normalize_kind,
    read_table,
    validate_table,
)
from tests.support import repo_root, run_cli

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
DEMO = repo_root() / "bureau" / "demo"
HEADER = "机构编码,机构名称,机构类别,区划代码,统一社会信用代码,风险分,上次检查日期"
GOOD_ROWS = [
    "H35010200001,福州市鼓楼区第一人民医院,二级及以上医院,350102,91350100M000100Y43,80,2024-05-20",
    "P35010200001,福州市鼓楼区东街口大药房,pharmacy,350102,91110000100006485K,,",
    "H35010300001,福州台江康华中医诊所,社会办医疗机构,350103,9144030071526726XG,35,2023年6月1日",
]


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def import_text(session: Session, kind: str, lines: list[str], name: str = "名录.csv") -> dict:
    report = import_registry(session, kind, csv_bytes(lines), name, NOW)
    session.commit()
    return report


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# ---- identifiers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000100006485K", "12100000400000624D",
                                  "9144030071526726XG"])
def test_reference_credit_codes_are_valid(code):
    assert credit_code_problem(code) is None
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(("code", "message"), [
    ("91350100M000100Y4", "18 位"),
    ("91350100M000100Y44", "校验位错误：第 18 位应为 3"),
    ("91350100I000100Y43", "非法字符 I"),
    ("91350100m000100Y43", "非法字符 m"),
    ("91350100中000100Y43", "非法字符 中"),
    ("91350100Ｍ000100Y43", "非法字符 Ｍ"),  # full-width: not ASCII, read through the byte table all the same
    ("91350100\xff000100Y43", "非法字符 \xff"),
])
def test_bad_credit_codes_say_why(code, message):
    assert message in credit_code_problem(code)


@pytest.mark.parametrize("first17", ["91350100M000100Y", "91350100I000100Y4", "91350100Ｍ000100Y4"])
def test_a_check_character_needs_17_code_characters(first17):
    with pytest.raises(ValueError):
        credit_code_check_char(first17)


@pytest.mark.parametrize(("text", "kind"), [
    ("hospital", "hospital"), ("二级及以上医院", "hospital"), ("基层医疗机构", "primary"), (" Pharmacy ", "pharmacy"),
    ("社会办医疗机构", "private"), ("社会办医疗机构/诊所", "private"), ("定点零售药店", "pharmacy"), ("药店", None),
])
def test_kinds_are_accepted_as_ids_or_chinese_names(text, kind):
    assert normalize_kind(text) == kind


# ---- reading files ---------------------------------------------------------------------------------------------


def records_of(data: bytes, filename: str) -> list[dict]:
    records, errors = validate_table("institutions", read_table(data, filename, "institutions"))
    assert errors == []
    return records


def test_utf8_bom_gbk_and_utf16_tab_files_read_the_same():
    lines = [HEADER, *GOOD_ROWS]
    expected = records_of(csv_bytes(lines), "a.csv")
    assert [r["kind"] for r in expected] == ["hospital", "pharmacy", "private"]
    assert expected[0]["risk_score"] == 80 and expected[1]["risk_score"] is None
    assert expected[2]["last_inspected"] == date(2023, 6, 1)
    assert records_of(b"\xef\xbb\xbf" + csv_bytes(lines), "a.csv") == expected
    assert records_of(csv_bytes(lines, "gbk"), "a.csv") == expected
    tabbed = "\n".join(line.replace(",", "\t") for line in lines).encode("utf-16")
    assert records_of(tabbed, "a.txt") == expected


def test_xlsx_with_a_title_row_numeric_cells_and_decorated_headers():
    book = Workbook()
    sheet = book.active
    sheet.append(["福州市定点医药机构名录（2026 年 11 月）"])
    sheet.append(["* 机构编码", "机构名称", "机构类别", "区划代码", "统一社会信用代码", "风险分（0-100）", "上次检查日期"])
    sheet.append(["H35010200001", "福州市鼓楼区第一人民医院", "二级及以上医院", 350102, "91350100M000100Y43", 80.0,
                  datetime(2024, 5, 20)])
    sheet.append([None] * 7)
    sheet.append(["P35010200001", "福州市鼓楼区东街口大药房", "定点零售药店", 350102, "91110000100006485K", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    table = read_table(buffer.getvalue(), "名录.xlsx", "institutions")
    assert table.header_line == 2 and [line for line, _ in table.rows] == [3, 5]
    records = records_of(buffer.getvalue(), "名录.xlsx")
    assert records[0]["region"] == "350102" and records[0]["risk_score"] == 80
    assert records[0]["last_inspected"] == date(2024, 5, 20)


def test_unreadable_files_are_one_clear_error():
    with pytest.raises(RegistryFileError, match="不是有效的 XLSX"):
        read_table(b"not a zip", "x.xlsx", "institutions")
    with pytest.raises(RegistryFileError, match=".xls"):
        read_table(b"", "x.xls", "institutions")
    with pytest.raises(RegistryFileError, match="找不到表头行"):
        read_table(csv_bytes(["编号,名称", "1,2"]), "x.csv", "institutions")
    with pytest.raises(RegistryFileError, match="无法识别文件编码"):
        read_table("机构编码\n".encode() + b"abc\xff\xff", "x.csv", "institutions")


# ---- validation ------------------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_line_and_column_and_nothing_is_imported(bureau_engine):
    lines = [
        HEADER,
        GOOD_ROWS[0],
        "H3501020001,格式不对医院,hospital,350102,91110000100006485K,,",            # 3: code has 10 digits
        "P35010200002,其实是卫生院,基层医疗机构,350102,12100000400000624D,,",      # 4: P for a clinic
        "H35010200003,未知类别诊所,诊所,350102,9144030071526726XG,,",              # 5: unknown kind
        "H35010200004,校验位错误医院,hospital,3501,91350100M000100Y44,101,2024-13-01",  # 6: region, credit, risk, date
        "H35010200001,重复编码医院,hospital,350102,91350100M000100Y43,,",          # 7: duplicate code and credit code
        "H35010200005,,primary,350102,,,",                                         # 8: name and credit code missing
        "H３５０１０２００００６,全角数字医院,hospital,３５０１０２,91350100M000100Y43,,",  # 9: full-width digits
    ]
    with Session(bureau_engine) as session:
        with pytest.raises(RegistryImportError) as caught:
            import_registry(session, "institutions", csv_bytes(lines), "名录.csv", NOW)
        session.rollback()
        found = {(e.line, e.column) for e in caught.value.errors}
        assert found == {
            (3, "机构编码"), (4, "机构编码"), (5, "机构类别"), (6, "区划代码"), (6, "统一社会信用代码"), (6, "风险分"),
            (6, "上次检查日期"), (7, "机构编码"), (7, "统一社会信用代码"), (8, "机构名称"), (8, "统一社会信用代码"),
            (9, "机构编码"), (9, "区划代码"), (9, "统一社会信用代码"),
        }
        by_place = {(e.line, e.column): e for e in caught.value.errors}
        assert by_place[(7, "机构编码")].message == "机构编码重复（与第 2 行相同）"
        assert by_place[(4, "机构编码")].value == "P35010200002"
        assert "应以 H 开头" in by_place[(4, "机构编码")].message
        assert "校验位错误" in by_place[(6, "统一社会信用代码")].message
        assert count(session, Institution) == 0 and count(session, RegistryImport) == 0
        assert check_file(session, "institutions", csv_bytes(lines), "名录.csv") == [
            e.as_dict() for e in caught.value.errors]


def test_missing_columns_are_reported_on_the_header_line():
    table = read_table(csv_bytes(["title,,", "机构编码,机构名称,机构类别", "H35010200001,某医院,hospital"]), "x.csv",
                       "institutions")
    _, errors = validate_table("institutions", table)
    assert {(e.line, e.column) for e in errors} == {(2, "区划代码"), (2, "统一社会信用代码")}
    _, errors = validate_table("institutions", read_table(csv_bytes([HEADER]), "x.csv", "institutions"))
    assert "没有数据行" in errors[0].message


# ---- import, re-import, history --------------------------------------------------------------------------------


def test_demo_registries_import_cleanly(bureau_engine):
    with Session(bureau_engine) as session:
        for kind, rows in (("institutions", 40), ("inspectors", 12), ("conflicts", 4)):
            report = import_registry(session, kind, (DEMO / f"{kind}.csv").read_bytes(), f"{kind}.csv", NOW)
            assert report["rows"] == report["created"] == rows
        session.commit()
        institutions = session.exec(select(Institution)).all()
        kinds = sorted(i.kind for i in institutions)
        assert {k: kinds.count(k) for k in set(kinds)} == {"hospital": 8, "primary": 12, "private": 8, "pharmacy": 12}
        assert all(credit_code_problem(i.credit_code) is None for i in institutions)
        assert all(i.code.startswith("P") == (i.kind == "pharmacy") for i in institutions)
        assert {i.region for i in institutions} == {"350102", "350103", "350104", "350105", "350111"}


# One record a batch: the lookups, the writes and the pages of the deactivation then span many batches.
BATCH_SIZES = pytest.mark.parametrize("batch", [registry.IMPORT_BATCH, 1], ids=["batch", "row-by-row"])


@BATCH_SIZES
def test_reimport_upserts_by_code_deactivates_the_missing_and_keeps_history(bureau_engine, monkeypatch, batch):
    monkeypatch.setattr(registry, "IMPORT_BATCH", batch)
    with Session(bureau_engine) as session:
        import_text(session, "institutions", [HEADER, *GOOD_ROWS])
        renamed = GOOD_ROWS[0].replace("第一人民医院", "第一医院").replace(",2024-05-20", ",")
        report = import_text(session, "institutions", [HEADER, renamed, GOOD_ROWS[1]])
        assert (report["updated"], report["unchanged"], report["deactivated"]) == (1, 1, 1)
        hospital = session.get(Institution, "H35010200001")
        assert hospital.name == "福州市鼓楼区第一医院" and hospital.active
        assert hospital.last_inspected == date(2024, 5, 20)  # a blank cell keeps the bureau's own record
        dropped = session.get(Institution, "H35010300001")
        assert dropped is not None and dropped.active is False

        report = import_text(session, "institutions", [HEADER, renamed, GOOD_ROWS[1], GOOD_ROWS[2]])
        assert report["reactivated"] == 1 and session.get(Institution, "H35010300001").active
        history = session.exec(select(RegistryChange).where(RegistryChange.code == "H35010200001")
                               .order_by(RegistryChange.id)).all()
        assert [h.change for h in history] == ["created", "updated"]
        assert history[1].before["name"] == "福州市鼓楼区第一人民医院" and history[1].after["name"] == "福州市鼓楼区第一医院"
        changes = [h.change for h in session.exec(select(RegistryChange).where(RegistryChange.code == "H35010300001")
                                                  .order_by(RegistryChange.id))]
        assert changes == ["created", "deactivated", "reactivated"]
        assert count(session, RegistryImport) == 3


def test_an_import_refreshes_the_rows_the_session_holds(bureau_engine):
    with Session(bureau_engine) as session:
        import_text(session, "institutions", [HEADER, *GOOD_ROWS])
        hospital = session.get(Institution, "H35010200001")
        assert hospital.name == "福州市鼓楼区第一人民医院"
        renamed = GOOD_ROWS[0].replace("第一人民医院", "第一医院")
        import_registry(session, "institutions", csv_bytes([HEADER, renamed, GOOD_ROWS[1]]), "名录.csv", NOW)
        assert hospital.name == "福州市鼓楼区第一医院"
        assert session.get(Institution, "H35010300001").active is False


LATE_ERROR = "H35010200009,迟到的错误,hospital,350102,,,"  # no 统一社会信用代码


def test_an_error_after_batches_were_written_stores_nothing(bureau_engine, monkeypatch):
    monkeypatch.setattr(registry, "IMPORT_BATCH", 1)
    with Session(bureau_engine) as session:
        import_text(session, "institutions", [HEADER, GOOD_ROWS[0]])
        renamed = GOOD_ROWS[0].replace("第一人民医院", "第一医院")
        with pytest.raises(RegistryImportError) as caught:
            import_registry(session, "institutions", csv_bytes([HEADER, renamed, *GOOD_ROWS[1:], LATE_ERROR]),
                            "名录.csv", NOW)
        assert [(e.line, e.column) for e in caught.value.errors] == [(5, "统一社会信用代码")]
        assert session.get(Institution, "H35010200001").name == "福州市鼓楼区第一人民医院"
        assert (count(session, Institution), count(session, RegistryChange), count(session, RegistryImport)) == (1, 1, 1)

        people = ["人员编号,姓名,执法证号,区划代码", *(f"I{n:04d},检查员{n},证{n},350102" for n in range(15))]
        monkeypatch.setattr(registry, "MAX_ROWS", 13)  # line 14 is past the limit, a dozen rows after the header
        with pytest.raises(RegistryFileError, match="第 14 行"):
            import_registry(session, "inspectors", csv_bytes(people), "人员.csv", NOW)
        assert (count(session, Inspector), count(session, RegistryChange), count(session, RegistryImport)) == (0, 1, 1)


class ReadSpy(io.BytesIO):
    """A file that remembers how far it has been read each time the importer writes a batch."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_at_writes: list[int] = []


def test_an_import_writes_while_it_reads_a_batch_at_a_time(bureau_engine, monkeypatch):
    """Memory does not follow the file: each batch is written before the next is read, and only a batch is held."""
    monkeypatch.setattr(registry, "IMPORT_BATCH", 100)
    lines = ["人员编号,姓名,执法证号,区划代码", *(f"I{n:05d},检查员{n},闽榕医保执 {n:05d},350102" for n in range(2000))]
    file = ReadSpy(csv_bytes(lines))
    batch_sizes = []
    write = registry._Writer.write

    def spying(self, records):
        file.read_at_writes.append(file.tell())
        batch_sizes.append(len(records))
        write(self, records)

    monkeypatch.setattr(registry._Writer, "write", spying)
    with Session(bureau_engine) as session:
        report = registry.import_registry(session, "inspectors", file, "人员.csv", NOW)
        session.commit()
        assert report["created"] == count(session, Inspector) == 2000
    assert batch_sizes == [100] * 20
    size = len(file.getvalue())
    assert file.read_at_writes[0] < size / 4 and file.read_at_writes == sorted(file.read_at_writes)
    assert not file.closed  # the caller's file is the caller's to close


def test_an_xlsx_file_imports_from_an_open_file(bureau_engine, tmp_path):
    book = Workbook()
    for row in [HEADER.split(","), *(line.split(",") for line in GOOD_ROWS)]:
        book.active.append(row)
    book.save(tmp_path / "名录.xlsx")
    with Session(bureau_engine) as session, (tmp_path / "名录.xlsx").open("rb") as file:
        report = import_registry(session, "institutions", file, "名录.xlsx", NOW)
        session.commit()
        assert report["created"] == count(session, Institution) == 3
        assert session.get(Institution, "H35010300001").last_inspected == date(2023, 6, 1)


@BATCH_SIZES
def test_conflicts_must_name_known_people_and_institutions(bureau_engine, monkeypatch, batch):
    monkeypatch.setattr(registry, "IMPORT_BATCH", batch)
    with Session(bureau_engine) as session:
        import_text(session, "institutions", [HEADER, *GOOD_ROWS])
        import_text(session, "inspectors", ["人员编号,姓名,执法证号,区划代码", "I0001,林建华,闽榕医保执 0001,350102",
                                            "I0002,陈晓燕,闽榕医保执 0002,350102"])
        bad = ["人员编号,机构编码,原因", "I0001,H35010200001,配偶在该院任职", "I0009,H35010200001,未登记人员",
               "I0002,H35019999999,未登记机构", "I0001,H35010200001,重复登记"]
        with pytest.raises(RegistryImportError) as caught:
            import_registry(session, "conflicts", csv_bytes(bad), "冲突.csv", NOW)
        session.rollback()
        assert {(e.line, e.column) for e in caught.value.errors} == {(3, "人员编号"), (4, "机构编码"), (5, "机构编码")}
        assert count(session, Conflict) == 0

        import_text(session, "conflicts", bad[:2] + ["I0002,P35010200001,近亲属为股东"])
        report = import_text(session, "conflicts", bad[:2])
        assert report["deactivated"] == 1
        pair = session.exec(select(Conflict).where(Conflict.inspector_code == "I0002")).one()
        assert pair.active is False


def test_duplicate_inspector_codes_and_badges_are_errors():
    lines = ["人员编号,姓名,执法证号,区划代码", "I0001,林建华,闽榕医保执 0001,350102", "I0001,陈晓燕,闽榕医保执 0001,35010",
             "I 03,王志强,,350102"]
    _, errors = validate_table("inspectors", read_table(csv_bytes(lines), "p.csv", "inspectors"))
    assert {(e.line, e.column) for e in errors} == {(3, "人员编号"), (3, "执法证号"), (3, "区划代码"), (4, "人员编号"),
                                                    (4, "执法证号")}


def test_snapshot_has_active_rows_in_code_order_and_open_followups(bureau_engine):
    with Session(bureau_engine) as session:
        import_text(session, "institutions", [HEADER, *reversed(GOOD_ROWS)])
        import_text(session, "inspectors", ["人员编号,姓名,执法证号,区划代码", "I0002,陈晓燕,闽榕医保执 0002,350102",
                                            "I0001,林建华,闽榕医保执 0001,350103", "I0003,王志强,闽榕医保执 0003,350102"])
        import_text(session, "conflicts", ["人员编号,机构编码,原因", "I0002,P35010200001,近亲属为股东",
                                           "I0001,H35010300001,曾在该机构任职"])
        import_text(session, "inspectors", ["人员编号,姓名,执法证号,区划代码", "I0002,陈晓燕,闽榕医保执 0002,350102",
                                            "I0003,王志强,闽榕医保执 0003,350102"])  # I0001 leaves
        session.add(RectificationOrder(institution_code="P35010200001", ordered_at=date(2026, 3, 1)))
        session.add(RectificationOrder(institution_code="H35010200001", ordered_at=date(2025, 3, 1),
                                       closed_at=datetime(2025, 9, 1, tzinfo=timezone.utc)))
        session.commit()
        snapshot = load_snapshot(session)
    assert snapshot == {
        "institutions": [["H35010200001", "hospital", "350102", 80], ["H35010300001", "private", "350103", 35],
                         ["P35010200001", "pharmacy", "350102", None]],
        "inspectors": [["I0002", "350102"], ["I0003", "350102"]],
        "conflicts": [["I0002", "P35010200001", "近亲属为股东"]],
        "followups": ["P35010200001"],
    }


# ---- command line ----------------------------------------------------------------------------------------------


def test_cli_import_lists_every_error_and_exits_1(tmp_path: Path):
    data = ["--data", str(tmp_path / "bureau"), "--db", f"sqlite:///{tmp_path / 'bureau.db'}"]
    bad = tmp_path / "机构.csv"
    bad.write_bytes(csv_bytes([HEADER, GOOD_ROWS[0], GOOD_ROWS[1].replace("485K", "485X")], "gbk"))
    result = run_cli("registry", "import", "institutions", str(bad), *data, check=False)
    assert result.returncode == 1
    assert "机构.csv 第 3 行，列「统一社会信用代码」：校验位错误" in result.stderr
    assert "未导入任何数据" in result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] is False
    assert report["errors"][0] == {"line": 3, "column": "统一社会信用代码", "value": "91110000100006485X",
                                   "message": "校验位错误：第 18 位应为 K（GB 32100-2015）"}

    good = run_cli("registry", "import", "institutions", str(DEMO / "institutions.csv"), *data)
    assert json.loads(good.stdout)["created"] == 40
    assert run_cli("registry", "import", "clinics", str(bad), *data, check=False).returncode == 2
    assert run_cli("registry", "import", "inspectors", str(tmp_path / "无此文件.csv"), *data, check=False).returncode == 2
