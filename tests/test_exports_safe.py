"""Exports safe to open in Excel (issue 13, finding 5): text from a registry file that Excel would run as a formula
(`=HYPERLINK(…)`, `+…`, `-…`, `@…`, a leading tab or carriage return) comes out of the staff's XLSX export and the
一公开 CSV as text, while numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from bureau import disclosure, registry
from checklists.spreadsheet import inert_cell
from staff_app.xlsx_export import tables_xlsx

LINK = '=HYPERLINK("http://x")'
FORMULAS = [LINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_is_made_inert(text):
    assert inert_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["福州市鼓楼区东街口大药房", "-12.50", "+3", "-7", "12.00", "", "a=b", "A-1"])
def test_other_text_is_left_alone(text):
    assert inert_cell(text) == text


def _registry_names() -> list[str]:
    """Institution names as a registry import reads them: the formulas pass validation (a name is free text)."""
    lines = ["机构编码,机构名称,机构类别,区划代码,统一社会信用代码"] + [
        f'P3501020000{n},"{name.replace(chr(34), chr(34) * 2)}",pharmacy,350102,{code}'
        for n, (name, code) in enumerate(zip(FORMULAS[:4], ("91350100M000100Y43", "12100000400000624D",
                                                            "91350100M000100Y43", "12100000400000624D")), 1)]
    table = registry.read_table("\n".join(lines).encode(), "机构.csv", "institutions")
    return [cells["机构名称"] for _line, cells in table.rows]


def test_a_registry_name_comes_out_of_the_xlsx_export_as_text():
    names = _registry_names()
    assert names == FORMULAS[:4]
    rows = [[f"P3501020000{n}", name, "1234.50", "-12.50", 3] for n, name in enumerate(names, 1)]
    book = load_workbook(io.BytesIO(tables_xlsx([{"title": "=检查台账", "columns": ["机构编码", "机构名称",
                                                                                "罚款（元）", "退回（元）", "次数"],
                                                  "rows": rows}])))
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "'=检查台账" and sheet["A1"].data_type == "s"
    for number, name in enumerate(names, 3):
        cell = sheet.cell(number, 2)
        assert cell.data_type == "s" and cell.value == "'" + name, (cell.value, cell.data_type)
        assert [sheet.cell(number, c).data_type for c in (3, 4, 5)] == ["n", "n", "n"]  # numbers stay numbers
        assert sheet.cell(number, 4).value == -12.5
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_a_registry_name_comes_out_of_the_disclosure_csv_neutralised():
    outcomes = [disclosure.outcome(
        {"record_id": f"r{n}", "log_index": n, "decided_on": "2026-11-23", "inspected_on": "2026-11-20"},
        {"outcome": "handled", "version": 1, "record_hash": "ab" * 32, "institution_code": f"P3501020000{n}",
         "decision_no": "-1+1", "doc_kind": "行政处理", "measures": ["@责令改正"], "recover_yuan": "101.00",
         "fine_yuan": "150.00", "suspension_months": None, "terminate_agreement": False},
        {"findings": []}, {"name": name, "kind": "pharmacy", "region": "350102"}, [])
        for n, name in enumerate(FORMULAS, 1)]
    table = disclosure.table_csv(outcomes, disclosure.OUTCOME_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(table.decode("utf-8-sig"), newline="")))
    assert [row["机构名称"] for row in rows] == ["'" + name for name in FORMULAS]
    assert {row["决定书文号"] for row in rows} == {"'-1+1"} and {row["处理措施"] for row in rows} == {"'@责令改正"}
    assert {row["罚款（元）"] for row in rows} == {"150.00"}
    for row in rows:
        assert not any(value.startswith(tuple("=+-@\t\r")) for value in row.values()), row
