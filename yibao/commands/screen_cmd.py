"""`yibao claims import …` and `yibao screen …` — 智能监控: import settlement line items and the knowledge base into the
claims store (DuckDB, `<data>/claims.duckdb`), and screen them with the rules (bureau/screening/rules.toml)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TypeVar

import typer

from bureau.settings import resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json

if TYPE_CHECKING:
    from bureau.screening.claims import RowError

claims_app = typer.Typer(no_args_is_help=True)
screen_app = typer.Typer(no_args_is_help=True)
kb_app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")
screen_app.add_typer(kb_app, name="kb", help="知识库（两库）：导入。")

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db（筛查运行记录存于此）")
DataOption = typer.Option(None, "--data", help="数据目录（结算明细库为其中的 claims.duckdb）")


@claims_app.callback()
def _claims() -> None:
    """结算明细."""


@kb_app.callback()
def _kb() -> None:
    """知识库."""


def _report_rows(file: Path, errors: list[RowError]) -> NoReturn:
    """Every row error on stderr, the list as JSON on stdout, and exit 1."""
    for error in errors:
        typer.echo(f"{file.name} 第 {error.line} 行" + (f"，列「{error.column}」" if error.column else "")
                   + f"：{error.message}" + (f"（值：{error.value}）" if error.value else ""), err=True)
    print_json({"imported": False, "file": file.name, "errors": [error.as_dict() for error in errors]})
    fail(f"{file.name}：共 {len(errors)} 处错误，未导入任何数据")


def _import_file(file: Path, db: str | None, data: str | None, load: Callable[[Any], T]) -> T:
    """`load(connection)` on the claims store, which is closed afterwards; a missing file, a store that cannot be
    opened, a file that cannot be read or rows with errors end the command with what is wrong."""
    from bureau.screening.claims import ClaimsFileError, ClaimsImportError
    from bureau.screening.store import StoreError, open_store

    if not file.is_file():
        fail(f"{file}：文件不存在", EXIT_USAGE)
    try:
        con = open_store(resolve_settings(db, data).data_dir)
    except StoreError as exc:
        fail(str(exc))
    try:
        return load(con)
    except ClaimsFileError as exc:
        fail(str(exc))
    except ClaimsImportError as exc:
        _report_rows(file, exc.errors)
    finally:
        con.close()


@claims_app.command("import")
def import_claims_command(
    file: Path = typer.Argument(..., help="结算明细：CSV（UTF-8 / 带 BOM / GBK）或 Parquet"),
    db: str = DbOption,
    data: str = DataOption,
    replace: bool = typer.Option(False, "--replace", help="替换已导入过的结算ID的全部明细"),
) -> None:
    """Import settlement line items, all-or-nothing (the bureau database is not touched; --db is accepted alike)."""
    from bureau.screening.store import import_claims

    report = _import_file(file, db, data, lambda con: import_claims(con, file, replace=replace))
    print_json({"imported": True, **report})
    typer.echo(f"已导入结算明细 {report['rows']} 行、结算 {report['settlements']} 笔（替换 {report['replaced']} 笔）",
               err=True)


@kb_app.command("import")
def import_kb_command(
    file: Path = typer.Argument(..., help="知识库 CSV：项目编码, 项目名称, 限定性别, 限定最大年龄, 每日最大数量, "
                                          "单次最大用药天数, 互斥项目编码, 依据"),
    db: str = DbOption,
    data: str = DataOption,
) -> None:
    """Replace the knowledge base with a CSV file's entries, all-or-nothing."""
    from bureau.screening.store import import_kb

    entries = _import_file(file, db, data, lambda con: import_kb(con, file))
    print_json({"imported": True, "file": file.name, "entries": entries})
    typer.echo(f"已导入知识库 {entries} 条", err=True)


@screen_app.command("run")
def run_command(
    out: Path = typer.Option(..., "--out", help="结果 JSON 文件"),
    rules: str = typer.Option(None, "--rules", help="只运行这些规则，逗号分隔（如 R-GENDER,R-CHILD），默认全部"),
    db: str = DbOption,
    data: str = DataOption,
) -> None:
    """Screen the stored claims; write the hits and each institution's risk, and keep the run in the bureau database."""
    from sqlmodel import Session

    from bureau.screening.rules import RuleFileError, load_rules, select_rules
    from bureau.screening.runs import record_run
    from bureau.screening.store import StoreError, open_store, screen
    from bureau.service import BureauStartError, open_bureau

    try:
        chosen = select_rules(load_rules(), rules)
    except RuleFileError as exc:
        fail(str(exc), EXIT_USAGE)
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    try:
        con = open_store(settings.data_dir)
    except StoreError as exc:
        fail(str(exc))
    try:
        outcome = screen(con, chosen)
    finally:
        con.close()
    result = {"hits": outcome["hits"], "institutions": outcome["institutions"]}
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    with Session(bureau.engine) as session:
        run = record_run(session, chosen, outcome, datetime.now(timezone.utc))
        session.commit()
        run_id = run.id
    flagged = sum(1 for i in outcome["institutions"] if i["hits"])
    print_json({"run": run_id, "out": str(out), "hits": len(outcome["hits"]), "institutions_with_hits": flagged,
                "input_digest": outcome["input_digest"], "result_digest": outcome["result_digest"]})
    typer.echo(f"筛查完成：规则 {len(chosen)} 条，疑点 {len(outcome['hits'])} 条，涉及机构 {flagged} 家", err=True)


@screen_app.command("confirmations")
def confirmations_command(db: str = DbOption, data: str = DataOption) -> None:
    """Per rule: the hits carried to site in issued assignments, checked, confirmed, excluded, the amount confirmed
    and the confirmation rate (JSON)."""
    from sqlmodel import Session

    from bureau.screening.confirmations import confirmations
    from bureau.service import BureauStartError, open_bureau

    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        print_json(confirmations(session))
    bureau.engine.dispose()
