"""`yibao draw …` — the 双随机 draw: commit to a plan, run it from public random values, verify a transcript."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from bureau.settings import resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

app = typer.Typer(no_args_is_help=True)

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db")
DataOption = typer.Option(None, "--data", help="数据目录")


@contextmanager
def _cycles_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a draw command builds and drops a registry's worth of small lists
    (the snapshot read and drawn, a transcript parsed): they hold no cycles and reference counting frees them, but
    the collector's passes over them would cost a third of the command. As a decorator: for the whole command,
    so that no pass meets them before they are freed."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_json(path: Path, what: str) -> Any:
    from checklists._json import json_syntax_problem

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        fail(f"{path}：无法读取{what}（{exc.strerror or exc}）", EXIT_USAGE)
    except UnicodeDecodeError:
        fail(f"{path}：{what}不是 UTF-8 编码")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path} 第 {exc.lineno} 行第 {exc.colno} 列：不是有效的 JSON（{json_syntax_problem(exc)}）")


def _fail_plan(path: Path, errors: list[dict[str, str]]) -> None:
    for error in errors:
        typer.echo(f"{path}：{error['field']}: {error['message']}", err=True)
    fail(f"{path}：抽查计划有 {len(errors)} 处错误")


def _fail_database(exc: SQLAlchemyError) -> NoReturn:
    fail(f"下达任务失败，未写入任何任务：{str(getattr(exc, 'orig', exc) or exc).splitlines()[0]}")


def _open(db: str | None, data: str | None):
    from bureau.service import BureauStartError, open_bureau

    settings = resolve_settings(db, data)
    try:
        return settings, open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))


@app.command("commit")
@_cycles_paused()
def commit(plan_file: Path = typer.Argument(..., help="抽查计划 JSON"), db: str = DbOption, data: str = DataOption) -> None:
    """Record and print the commitment to a plan and the registry snapshot (before the public random values exist)."""
    from sqlmodel import Session

    from bureau.draw import DrawError, PlanError, validate_plan
    from bureau.draw_records import commit_plan

    plan = _read_json(plan_file, "抽查计划")
    errors = validate_plan(plan, require_public_random=False)
    if errors:
        _fail_plan(plan_file, errors)
    _, bureau = _open(db, data)
    with Session(bureau.engine) as session:
        try:
            commitment = commit_plan(session, plan, datetime.now(timezone.utc))
        except (PlanError, DrawError) as exc:
            fail(f"{plan_file}：{exc}")
        session.commit()
    print_json(commitment)
    typer.echo(f"已承诺计划 {commitment['plan_id']}：请在公开随机数产生之前公布 commitment_hash {commitment['commitment_hash']}",
               err=True)
    if plan.get("public_random"):
        typer.echo("注意：计划文件中已有 public_random。承诺只有在公开随机数产生之前公布才能证明抽取无法被操纵；"
                   "承诺不包含这些随机数，抽取时以 draw run 的计划为准。", err=True)


@app.command("run")
@_cycles_paused()
def run(
    plan_file: Path = typer.Argument(..., help="含 public_random 的抽查计划 JSON"),
    out: Path = typer.Option(..., "--out", help="抽取记录（transcript）输出文件"),
    dry_run: bool = typer.Option(False, "--dry-run", help="仅预览，不下达任务"),
    db: str = DbOption,
    data: str = DataOption,
) -> None:
    """Run the draw and write its transcript; issue the signed assignments (已下达) unless --dry-run."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from bureau.draw import DrawError, PlanError, validate_plan
    from bureau.draw_records import perform_draw
    from bureau.service import BureauStartError, open_signing_key

    plan = _read_json(plan_file, "抽查计划")
    errors = validate_plan(plan)
    if errors:
        _fail_plan(plan_file, errors)
    settings, bureau = _open(db, data)
    signing_key = None
    if not dry_run:
        try:
            signing_key = open_signing_key(settings)
        except BureauStartError as exc:
            fail(str(exc))
    with Session(bureau.engine) as session:
        try:
            drawn = perform_draw(session, plan, datetime.now(timezone.utc), signing_key)
        except (PlanError, DrawError) as exc:
            fail(f"{plan_file}：{exc}")
        except SQLAlchemyError as exc:
            _fail_database(exc)
        partial = out.with_name(out.name + ".partial")
        try:
            partial.write_bytes(drawn.data + b"\n")  # canonical JSON, as hashed (`drawn_at` apart)
        except OSError as exc:
            fail(f"{out}：无法写入抽取记录，未下达任何任务（{exc.strerror or exc}）")
        try:
            session.commit()
        except SQLAlchemyError as exc:
            partial.unlink(missing_ok=True)
            _fail_database(exc)
        os.replace(partial, out)
    transcript = drawn.transcript
    for warning in transcript["warnings"]:
        typer.echo(f"警告：{warning}", err=True)
    print_json({
        "plan_id": plan["plan_id"],
        "dry_run": dry_run,
        "committed": transcript["committed"],
        "selected": len(transcript["selected"]),
        "followups": sum(1 for item in transcript["selected"] if item["reason"] == "followup"),
        "assignments_issued": 0 if dry_run else len(transcript["selected"]),
        "transcript": str(out),
        "transcript_hash": drawn.transcript_hash,
        **({"screening_run": transcript["screening"]["run_id"]} if "screening" in transcript else {}),
    })
    typer.echo(("预览（未下达任何任务）" if dry_run else "已下达检查任务") + f"：抽中 {len(transcript['selected'])} 家，记录见 {out}",
               err=True)


def _screening_differences(recorded: dict[str, Any], db: str | None, data: str | None) -> list[str]:
    from sqlmodel import Session

    from bureau.draw_records import screening_differences

    _, bureau = _open(db, data)
    with Session(bureau.engine) as session:
        return screening_differences(session, recorded)


@app.command("verify")
@_cycles_paused()
def verify(transcript_file: Path = typer.Argument(..., help="抽取记录 JSON"),
           db: str = typer.Option(None, "--db", help="局端数据库：按筛查风险分加权的抽取另核对所用筛查运行"),
           data: str = DataOption) -> None:
    """Re-run a transcript from its own contents; exit 0 only if it reproduces exactly. A draw weighted by a
    screening run is also checked against that run as the bureau database holds it, when a database is named
    (--db, --data or their environment variables): the public, holding only the transcript, re-runs it alone."""
    from bureau.draw import transcript_hash, uses_screening, verify_transcript

    transcript = _read_json(transcript_file, "抽取记录")
    differences = verify_transcript(transcript)
    screened = not differences and uses_screening(transcript["plan"])
    named = any((db, data, os.environ.get("YIBAO_DATABASE_URL"), os.environ.get("YIBAO_DATA")))
    if screened and named:
        differences = _screening_differences(transcript["screening"], db, data)
    if differences:
        for difference in differences:
            typer.echo(f"不一致：{difference}", err=True)
        print_json({"valid": False, "differences": differences})
        fail(f"{transcript_file}：抽取记录无法复现（{len(differences)} 处不一致）")
    print_json({
        "valid": True,
        "plan_id": transcript["plan_id"],
        "committed": transcript["committed"],
        "selected": len(transcript["selected"]),
        "transcript_hash": transcript_hash(transcript),
        **({"screening_run": transcript["screening"]["run_id"], "screening_checked": named} if screened else {}),
    })
    typer.echo(f"验证通过：抽取记录可完整复现（计划 {transcript['plan_id']}，抽中 {len(transcript['selected'])} 家）", err=True)
    if screened and not named:
        typer.echo(f"注意：未指定局端数据库（--db/--data），未核对筛查运行 {transcript['screening']['run_id']} 的库存记录；"
                   "风险分以抽取记录中承诺的筛查结果为准", err=True)
    for warning in transcript["warnings"]:
        typer.echo(f"警告：{warning}", err=True)
