"""Any table the staff screens show, as an Excel workbook (openpyxl): one sheet per table, its title above the
header row. Money columns (headed "…（元）") become exact decimal numbers with two places, so they sum in Excel;
codes (机构编码, 区划代码, 人员代码) stay text, so no leading zero is lost. Text that Excel would read as a formula
(a registry name `=HYPERLINK(…)`) is made inert (`checklists.spreadsheet.inert_cell`): shown, never run."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any, Iterable, Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from checklists.money import money_problem
from checklists.spreadsheet import inert_cell

MONEY_HEADER = "（元）"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, taken: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _BAD_SHEET_CHARS.sub("", title)[:28] or "表"
    name, number = base, 2
    while name in taken:
        name, number = f"{base[:26]}-{number}", number + 1
    taken.add(name)
    return name


def cell_value(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column.endswith(MONEY_HEADER) and isinstance(value, str) and money_problem(value.lstrip("-")) is None:
        return Decimal(value)
    return inert_cell(value) if isinstance(value, str) else value


def tables_xlsx(tables: Iterable[Mapping[str, Any]]) -> bytes:
    """`tables`: ``{"title", "columns", "rows"}`` each (the dashboard's and the ledger screens' shape)."""
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(sheet_title(table["title"], taken))
        columns = list(table["columns"])
        sheet.append([inert_cell(table["title"])])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([inert_cell(c) for c in columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DCE6F1")
            cell.alignment = Alignment(horizontal="center")
        for row in table["rows"]:
            sheet.append([cell_value(c, v) for c, v in zip(columns, row)])
        for number, column in enumerate(columns, 1):
            letter = get_column_letter(number)
            if column.endswith(MONEY_HEADER):
                for (cell,) in sheet.iter_rows(min_row=3, min_col=number, max_col=number):
                    cell.number_format = "#,##0.00"
            widest = max([len(str(column))] + [len(str(r[number - 1])) for r in table["rows"] if len(r) >= number])
            sheet.column_dimensions[letter].width = min(60, max(10, widest * 2 + 2))
        sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
