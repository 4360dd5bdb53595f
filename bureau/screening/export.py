"""A screening run as an Excel workbook: the ranked institutions, then every hit. Text is made inert
(`checklists.spreadsheet.inert_cell`): a registry name or an evidence text starting with "=" is shown, never run.
Money is an exact decimal with two places, so it sums in Excel; codes stay text."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from checklists.spreadsheet import inert_cell

INSTITUTION_COLUMNS = ("排名", "机构编码", "机构名称", "风险分", "疑点数", "涉及金额（元）")
HIT_COLUMNS = ("序号", "规则", "规则名称", "结算ID", "机构编码", "机构名称", "参保人ID", "日期或月份", "金额（元）", "疑点说明")
EXCEL_ROWS = 1_048_576  # a worksheet's rows; a run with more hits goes on in another sheet


def _cell(sheet: Any, value: Any, money: bool = False, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        value = Decimal(value) if money else inert_cell(value)
    cell = WriteOnlyCell(sheet, value="" if value is None else value)
    if money:
        cell.number_format = "#,##0.00"
    if bold:
        cell.font = Font(bold=True)
    return cell


def _sheet(book: Workbook, title: str, heading: str, columns: tuple[str, ...], widths: tuple[int, ...]) -> Any:
    """A write-only sheet with its title row and header row."""
    sheet = book.create_sheet(title)
    for letter, width in zip("ABCDEFGHIJ", widths):
        sheet.column_dimensions[letter].width = width
    sheet.append([_cell(sheet, heading, bold=True)])
    sheet.append([_cell(sheet, c, bold=True) for c in columns])
    return sheet


def run_xlsx(run: Mapping[str, Any], names: Mapping[str, str], rule_names: Mapping[str, str],
             hits: Iterable[Mapping[str, Any]]) -> bytes:
    """`run`: `{"id", "ran_at", "risk"}` (risk as `rank_institutions` gives it); `names`: institution code → name
    from the registry; `hits`: the run's hits in order, as `ScreeningHit` rows have them."""
    book = Workbook(write_only=True)
    heading = f"智能监控筛查结果 · 运行 {run['id']} · {run['ran_at']}"
    sheet = _sheet(book, "机构风险排名", heading, INSTITUTION_COLUMNS, (8, 16, 40, 10, 10, 16))
    for rank, entry in enumerate(run["risk"], 1):
        sheet.append([rank, _cell(sheet, entry["code"]), _cell(sheet, names.get(entry["code"], "")),
                      entry["risk_score"], entry["hits"], _cell(sheet, entry["amount_yuan"], money=True)])
    widths = (8, 14, 24, 22, 16, 40, 20, 12, 14, 60)
    sheet, rows, number = _sheet(book, "疑点明细", heading, HIT_COLUMNS, widths), 2, 1
    for hit in hits:
        if rows == EXCEL_ROWS:
            number += 1
            sheet, rows = _sheet(book, f"疑点明细-{number}", heading, HIT_COLUMNS, widths), 2
        sheet.append([hit["seq"], _cell(sheet, hit["rule"]), _cell(sheet, rule_names.get(hit["rule"], "")),
                      _cell(sheet, hit["settlement_id"]), _cell(sheet, hit["institution_code"]),
                      _cell(sheet, names.get(hit["institution_code"], "")), _cell(sheet, hit["person"]),
                      _cell(sheet, hit["day"] or hit["month"]), _cell(sheet, hit["amount_yuan"], money=True),
                      _cell(sheet, hit["evidence"])])
        rows += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
