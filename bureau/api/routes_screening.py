"""The supervisor's (科室负责人) 智能监控 API: upload settlement line items (结算明细) into the claims store, run the
screening rules, read the latest run's ranked institutions and one institution's hits, export a run to Excel.

The claims store is a DuckDB file that one process holds at a time: each operation opens and closes it in a worker
thread, never on the event loop. A store held by another process (a `yibao claims import`, another node) answers 409;
so does a second operation in this process while one runs."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bureau.api.deps import SessionDep, refuse, require_role
from bureau.assignments import utc_iso
from bureau.models import ScreeningRun, StaffAccount
from bureau.screening.claims import ClaimsFileError, ClaimsImportError
from bureau.screening.export import run_xlsx
from bureau.screening.risk import top_by_amount
from bureau.screening.rules import RuleFileError, load_rules, select_rules
from bureau.screening.runs import hits_page, institution_names, latest_run, record_run, run_hits
from bureau.screening.store import StoreError, import_claims, open_store, screen

router = APIRouter(prefix="/v1/screening", tags=["screening"])
Supervisor = Annotated[StaffAccount, require_role("supervisor", "admin")]
RUN_ID = Path(pattern=r"^[0-9a-f]{32}$")
INSTITUTION = Path(pattern=r"^[HP][0-9]{11}$")
CLAIMS_SUFFIXES = (".csv", ".parquet")
TOP_BY_AMOUNT = 20  # the chart's bars
_WRITE = 1024 * 1024  # bytes of the upload gathered before a worker thread writes them
_store_in_use = threading.Lock()
T = TypeVar("T")
BUSY = "结算明细库正被另一项导入或筛查使用，请稍后再试"


@contextmanager
def _claims_store(data_dir: FilePath) -> Iterator[Any]:
    """The claims store, open for one operation (in a worker thread); 409 while another one holds it."""
    if not _store_in_use.acquire(blocking=False):
        raise refuse(409, "claims_store_busy", BUSY)
    try:
        try:
            con = open_store(data_dir)
        except StoreError:
            raise refuse(409, "claims_store_busy", f"{BUSY}（另一进程正在使用）") from None
        try:
            yield con
        finally:
            con.close()
    finally:
        _store_in_use.release()


def _on_store(request: Request, work: Callable[[Any], T]) -> T:
    with _claims_store(request.app.state.settings.data_dir) as con:
        return work(con)


def _upload_name(filename: str) -> str:
    """The uploaded file's own name (what the errors name), without any folder."""
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    if not name.lower().endswith(CLAIMS_SUFFIXES) or name.startswith("."):
        raise refuse(422, "unsupported_file", f"{filename}：结算明细应为 CSV（.csv）或 Parquet（.parquet）文件")
    return name


async def _receive(request: Request, target: FilePath) -> None:
    """The request body streamed to `target`, a megabyte at a time (`guards.LimitBody` cuts it off at the route's
    limit)."""
    out = await run_in_threadpool(target.open, "wb")
    try:
        gathered = bytearray()
        async for chunk in request.stream():
            gathered += chunk
            if len(gathered) >= _WRITE:
                await run_in_threadpool(out.write, bytes(gathered))
                gathered.clear()
        await run_in_threadpool(out.write, bytes(gathered))
    finally:
        await run_in_threadpool(out.close)


def _import(request: Request, path: FilePath, replace: bool) -> dict[str, Any]:
    try:
        return _on_store(request, lambda con: import_claims(con, path, replace=replace))
    except ClaimsFileError as exc:
        raise refuse(422, "unreadable_file", str(exc)) from None
    except ClaimsImportError as exc:
        raise refuse(422, "invalid_rows", f"{path.name}：{exc}", errors=[e.as_dict() for e in exc.errors]) from None


@router.post("/claims")
async def upload_claims(request: Request, account: Supervisor, filename: str = Query(min_length=1, max_length=200),
                        replace: bool = False) -> dict[str, Any]:
    """Upload a claims file (the request body is the file: CSV in UTF-8, BOM or GBK, or Parquet) and import it
    all-or-nothing; rows with errors answer 422 with every error row (up to 1000), nothing stored."""
    name = _upload_name(filename)
    data_dir: FilePath = request.app.state.settings.data_dir
    await run_in_threadpool(data_dir.mkdir, parents=True, exist_ok=True)
    scratch = FilePath(await run_in_threadpool(tempfile.mkdtemp, prefix=".claims-upload-", dir=data_dir))
    try:
        await _receive(request, scratch / name)
        report = await run_in_threadpool(_import, request, scratch / name, replace)
    finally:
        await run_in_threadpool(shutil.rmtree, scratch, True)
    return {"imported": True, **report}


class RunBody(BaseModel):
    rules: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(default=None, max_length=100)


@router.post("/runs")
def run_screening(body: RunBody, request: Request, session: SessionDep, account: Supervisor) -> dict[str, Any]:
    """Screen the stored claims with every rule (or those named) and keep the run and its hits."""
    try:
        chosen = select_rules(load_rules(), ",".join(body.rules) if body.rules else None)
    except RuleFileError as exc:
        raise refuse(422, "unknown_rule", str(exc)) from None
    outcome = _on_store(request, lambda con: screen(con, chosen))
    run = record_run(session, chosen, outcome, datetime.now(timezone.utc))
    session.commit()
    return {**_summary(run), "institutions_with_hits": sum(1 for i in outcome["institutions"] if i["hits"])}


def _summary(run: ScreeningRun) -> dict[str, Any]:
    return {"id": run.id, "ran_at": utc_iso(run.ran_at), "rules": run.rules, "hits": run.hits,
            "institutions": len(run.risk), "input_digest": run.input_digest, "result_digest": run.result_digest}


def _named(entries: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**entry, "name": names.get(entry["code"])} for entry in entries]


@router.get("/latest")
def latest(session: SessionDep, account: Supervisor, offset: int = Query(0, ge=0),
           limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """The latest run: its institutions ranked by risk (`limit` from `offset`, with their names in the registry), and
    the TOP_BY_AMOUNT institutions whose hits involve the most money. `run` is null before any run."""
    run = latest_run(session)
    if run is None:
        return {"run": None, "total": 0, "offset": offset, "institutions": [], "top_by_amount": []}
    page = [{**entry, "rank": rank} for rank, entry in enumerate(run.risk[offset:offset + limit], offset + 1)]
    top = top_by_amount(run.risk, TOP_BY_AMOUNT)
    names = institution_names(session, {e["code"] for e in page + top})
    return {"run": _summary(run), "total": len(run.risk), "offset": offset, "institutions": _named(page, names),
            "top_by_amount": _named(top, names)}


def _run(session: Session, run_id: str) -> ScreeningRun:
    run = session.get(ScreeningRun, run_id)
    if run is None:
        raise refuse(404, "no_such_run", f"没有编号为 {run_id} 的筛查运行")
    return run


@router.get("/runs/{run_id}/institutions/{code}/hits")
def institution_hits(session: SessionDep, account: Supervisor, run_id: str = RUN_ID, code: str = INSTITUTION,
                     offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """One institution's hits in a run (`limit` from `offset`, in the result file's order), with its rank and risk."""
    run = _run(session, run_id)
    rank, entry = next(((n, e) for n, e in enumerate(run.risk, 1) if e["code"] == code), (0, None))
    if entry is None:
        raise refuse(404, "not_in_run", f"机构 {code} 不在该次筛查的结算明细中")
    total, hits = hits_page(session, run_id, code, offset, limit)
    rule_names = {r.id: r.name for r in load_rules()}
    institution = {**_named([entry], institution_names(session, [code]))[0], "rank": rank}
    return {"run": _summary(run), "institution": institution, "total": total, "offset": offset,
        "hits": [{"seq": h.seq, "rule": h.rule, "rule_name": rule_names.get(h.rule, h.rule),
                  "settlement_id": h.settlement_id, "person": h.person, "day": h.day, "month": h.month,
                  "amount_yuan": h.amount_yuan, "evidence": h.evidence} for h in hits]}


@router.get("/runs/{run_id}/export.xlsx")
def export_run(session: SessionDep, account: Supervisor, run_id: str = RUN_ID) -> Response:
    """A run as an Excel workbook: the ranked institutions, then every hit."""
    run = _run(session, run_id)
    workbook = run_xlsx({"id": run.id, "ran_at": utc_iso(run.ran_at), "risk": run.risk},
                        institution_names(session), {r.id: r.name for r in load_rules()},
                        (h.model_dump() for h in run_hits(session, run_id)))
    name = f"智能监控筛查-{run.ran_at:%Y%m%d-%H%M}.xlsx"
    return Response(workbook, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

