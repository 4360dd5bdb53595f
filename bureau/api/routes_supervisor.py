"""The supervisor's (科室负责人) API: registries, the 双随机 draw, coverage. Every route checks the role."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select

from bureau import assignments, registry
from bureau.api.deps import SessionDep, refuse, require_role
from bureau.coverage import coverage_report
from bureau.draw import DrawError, PlanError, validate_plan
from bureau.draw_records import commit_plan, perform_draw
from bureau.models import DrawCommitment, DrawRecord, StaffAccount
from bureau.screening.confirmations import confirmations

router = APIRouter(prefix="/v1", tags=["supervisor"])
Supervisor = Annotated[StaffAccount, require_role("supervisor", "admin")]
SupervisorOrReviewer = Annotated[StaffAccount, require_role("supervisor", "reviewer")]
MAX_REGISTRY_BYTES = 50 * 1024 * 1024


def _kind(kind: str) -> str:
    if kind not in registry.REGISTRY_KINDS:
        raise refuse(404, "unknown_registry", f"未知名录：{kind}（应为 {'、'.join(registry.REGISTRY_KINDS)}）")
    return kind


@router.post("/registry/{kind}")
async def import_registry_file(kind: str, request: Request, session: SessionDep, account: Supervisor,
                               filename: str = Query(min_length=1, max_length=200),
                               dry_run: bool = False) -> dict[str, Any]:
    """Upload a registry file (the request body is the file: CSV or XLSX). All-or-nothing; with
    `dry_run` only the error rows are returned. A file with errors answers 422 with every error row."""
    _kind(kind)
    data = await request.body()
    if len(data) > MAX_REGISTRY_BYTES:
        raise refuse(413, "too_large", "文件过大（上限 50 MB）")
    if dry_run:
        errors = registry.check_file(session, kind, data, filename)
        return {"kind": kind, "file": filename, "errors": errors, "ok": not errors}
    try:
        summary = registry.import_registry(session, kind, data, filename, datetime.now(timezone.utc))
    except registry.RegistryFileError as exc:
        raise refuse(422, "unreadable_file", str(exc)) from None
    except registry.RegistryImportError as exc:
        session.rollback()
        raise refuse(422, "invalid_rows", str(exc), errors=[e.as_dict() for e in exc.errors]) from None
    session.commit()
    return summary


def _plan_or_422(plan: dict[str, Any], require_public_random: bool) -> None:
    errors = validate_plan(plan, require_public_random=require_public_random)
    if errors:
        raise refuse(422, "invalid_plan", f"抽查计划有 {len(errors)} 处错误", errors=errors)


@router.post("/draws/commit")
def commit(plan: dict[str, Any], session: SessionDep, account: Supervisor) -> dict[str, Any]:
    """Commit to a plan and the current registry, before the public random values exist."""
    _plan_or_422(plan, require_public_random=False)
    try:
        commitment = commit_plan(session, plan, datetime.now(timezone.utc))
    except (PlanError, DrawError) as exc:
        raise refuse(409, "commit_refused", str(exc)) from None
    session.commit()
    return commitment


@router.post("/draws/run")
def run(plan: dict[str, Any], request: Request, session: SessionDep, account: Supervisor,
        dry_run: bool = True) -> dict[str, Any]:
    """Preview (default) or run the draw; running issues the signed assignments (已下达)."""
    _plan_or_422(plan, require_public_random=True)
    key = None if dry_run else request.app.state.signing_key
    try:
        drawn = perform_draw(session, plan, datetime.now(timezone.utc), key)
    except (PlanError, DrawError) as exc:
        session.rollback()
        raise refuse(409, "draw_refused", str(exc)) from None
    if not dry_run:
        session.commit()
    return {"dry_run": dry_run, "transcript_hash": drawn.transcript_hash, "transcript": drawn.transcript}


@router.get("/draws")
def draws(session: SessionDep, account: Supervisor) -> dict[str, Any]:
    commitments = session.exec(select(DrawCommitment).order_by(col(DrawCommitment.committed_at).desc())).all()
    drawn = {d.plan_id: d for d in session.exec(select(DrawRecord)).all()}
    return {"draws": [
        {"plan_id": c.plan_id, "commitment_hash": c.commitment_hash, "committed_at": c.committed_at.isoformat(),
         "drawn": c.plan_id in drawn, "selected": drawn[c.plan_id].selected if c.plan_id in drawn else None,
         "transcript_hash": drawn[c.plan_id].transcript_hash if c.plan_id in drawn else None}
        for c in commitments
    ]}


@router.get("/draws/{plan_id}/transcript")
def transcript(plan_id: str, session: SessionDep, account: Supervisor) -> dict[str, Any]:
    record = session.get(DrawRecord, plan_id)
    if record is None:
        raise refuse(404, "not_drawn", f"计划 {plan_id} 尚未抽取")
    return record.transcript


@router.get("/draws/assignments")
def plan_assignments(session: SessionDep, account: Supervisor,
                     plan_id: str = Query(min_length=1, max_length=100)) -> dict[str, Any]:
    """The assignments a drawn plan issued, with their status and the records received for each (the plan is a
    query parameter: a plan id may hold any character, a "/" too)."""
    if session.get(DrawRecord, plan_id) is None:
        raise refuse(404, "not_drawn", f"计划 {plan_id} 尚未抽取")
    return {"plan_id": plan_id, "assignments": assignments.plan_assignments(session, plan_id)}


@router.get("/coverage")
def coverage(session: SessionDep, account: Supervisor, as_of: date | None = None) -> dict[str, Any]:
    """Progress toward every institution inspected within 3 years, by kind and region, with the overdue list."""
    rows = registry.inspection_status(session)
    report = coverage_report(rows, as_of or date.today())
    by_region: dict[str, dict[str, int]] = {}
    overdue = {o["code"] for o in report["overdue_institutions"]}
    for row in rows:
        stats = by_region.setdefault(row["region"], {"region": row["region"], "total": 0, "covered": 0})
        stats["total"] += 1
        stats["covered"] += row["code"] not in overdue
    return {**report, "by_region": sorted(by_region.values(), key=lambda r: r["region"])}


class RevokeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/assignments/{assignment_id}/revoke")
def revoke(body: RevokeBody, request: Request, session: SessionDep, account: Supervisor,
           assignment_id: str = Path(pattern=r"^[A-Za-z0-9-]{1,64}$")) -> dict[str, Any]:
    """撤回 an issued assignment: the team's tablets drop it on their next pull; records for it are refused."""
    try:
        revoked = assignments.revoke_assignment(session, request.app.state.signing_key, assignment_id, body.reason,
                                                account.username, datetime.now(timezone.utc))
    except assignments.AssignmentError as exc:
        session.rollback()
        raise refuse(exc.status, exc.reason, exc.message) from None
    session.commit()
    return {**assignments.signed_content(revoked), "status": revoked.status, "seq": revoked.seq,
            "revoked_by": revoked.revoked_by, "revoked_reason": revoked.revoked_reason}


@router.get("/screening/confirmations")
def screening_confirmations(session: SessionDep, account: SupervisorOrReviewer) -> dict[str, Any]:
    """Per screening rule: the hits carried to site, checked, confirmed (属实) and excluded (排除), the amount
    confirmed and the confirmation rate."""
    return confirmations(session)
