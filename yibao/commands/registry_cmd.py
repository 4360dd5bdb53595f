"""`yibao registry …` — import the 名录库 registries (all-or-nothing); coverage of the 3-year goal."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import typer

from bureau.settings import resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json

app = typer.Typer(no_args_is_help=True)

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db")
DataOption = typer.Option(None, "--data", help="数据目录")


@app.callback()
def _group() -> None:
    """名录库."""


@app.command("import")
def import_command(
    kind: str = typer.Argument(..., help="institutions | inspectors | conflicts"),
    file: Path = typer.Argument(..., help="CSV（UTF-8 / GBK）或 XLSX 文件"),
    db: str = DbOption,
    data: str = DataOption,
) -> None:
    """Import institutions, inspectors or conflicts (CSV or XLSX), all-or-nothing."""
    from sqlmodel import Session

    from bureau.registry import KIND_LABELS, REGISTRY_KINDS, RegistryFileError, RegistryImportError, import_registry
    from bureau.service import BureauStartError, open_bureau

    if kind not in REGISTRY_KINDS:
        fail(f"未知的名录类型：{kind!r}（应为 institutions、inspectors 或 conflicts）", EXIT_USAGE)
    try:
        source = file.open("rb")  # read as the import goes: a large file is never all in memory
    except OSError as exc:
        fail(f"{file}：无法读取文件（{exc.strerror or exc}）", EXIT_USAGE)
    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    with source, Session(bureau.engine) as session:
        try:
            report = import_registry(session, kind, source, file.name, datetime.now(timezone.utc))
        except RegistryFileError as exc:
            fail(str(exc))
        except RegistryImportError as exc:
            for error in exc.errors:
                typer.echo(f"{file.name} 第 {error.line} 行，列「{error.column}」：{error.message}"
                           + (f"（值：{error.value}）" if error.value else ""), err=True)
            print_json({"imported": False, "kind": kind, "file": file.name,
                        "errors": [error.as_dict() for error in exc.errors]})
            fail(f"{file.name}：共 {len(exc.errors)} 处错误，未导入任何数据")
        session.commit()
    print_json({"imported": True, **report})
    typer.echo(f"已导入{KIND_LABELS[kind]} {report['rows']} 条：新增 {report['created']}，更新 {report['updated']}，"
               f"重新启用 {report['reactivated']}，停用 {report['deactivated']}，未变 {report['unchanged']}", err=True)


@app.command("coverage")
def coverage_command(
    as_of: str = typer.Option(None, "--as-of", help="统计日期 YYYY-MM-DD，默认今天"),
    db: str = DbOption,
    data: str = DataOption,
) -> None:
    """Progress toward every institution inspected within 3 years, and the overdue list (JSON)."""
    from sqlmodel import Session

    from bureau.coverage import coverage_report
    from bureau.registry import inspection_status
    from bureau.service import BureauStartError, open_bureau

    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        fail(f"--as-of 应为日期 YYYY-MM-DD，而不是 {as_of!r}", EXIT_USAGE)
    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        report = coverage_report(inspection_status(session), day)
    print_json(report)
    typer.echo(f"三年全覆盖进度：{report['covered']}/{report['total']}（{report['progress_percent']}%），"
               f"超期未检 {report['overdue']} 家", err=True)
