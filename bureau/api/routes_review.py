"""Review and decisions (审核人员; 科室负责人 may read): the queue, a case with everything it holds, the review
actions, the decision and its 决定书 PDF. The rules live in `bureau.review` and `bureau.decisions`.

Every action is one audit event; a reviewer who was on the inspection team cannot act on the case (回避).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bureau import decisions, review
from bureau.api.deps import SessionDep, refuse, require_role
from bureau.blobs import read_blob, served_as
from bureau.decision_pdf import decision_pdf_name, render_decision_pdf
from bureau.models import Decision, ReviewCase, StaffAccount, StoredBlob
from sync.envelope import verify_receipt
from sync.errors import EnvelopeError

router = APIRouter(prefix="/v1/review", tags=["review"])
Reviewer = Annotated[StaffAccount, require_role("reviewer")]
Reader = Annotated[StaffAccount, require_role("reviewer", "supervisor")]
RECORD_ID = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SHA256 = Path(pattern=r"^[0-9a-f]{64}$")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _refused(exc: review.ReviewError):
    extra = {"problems": exc.problems} if isinstance(exc, decisions.DecisionError) else {}
    return refuse(exc.status, exc.reason, exc.message, **extra)


def _commit(session: Session) -> None:
    """Two reviewers acting on one case at once: the audit log's (record, seq) key lets only the first through."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise refuse(409, "concurrent_change", "本案刚被他人更新，请刷新后重试") from None


def _detail(session: Session, request: Request, record_id: str, viewer: StaffAccount,
            version: int | None = None) -> dict[str, Any]:
    detail = review.case_detail(session, record_id, version, viewer, _now())
    log = request.app.state.log
    receipt = log.receipt(session, record_id, detail["record_hash"], detail["log_index"])
    try:
        verify_receipt(receipt, detail["record_hash"], request.app.state.signing_key.public_key(), record_id=record_id)
        receipt_ok = True
    except EnvelopeError:
        receipt_ok = False
    decision = session.get(Decision, record_id)
    return {**detail, "receipt": receipt, "receipt_verified": receipt_ok,
            "decision": decisions.decision_json(decision) if decision else None}


@router.get("/queue")
def queue(session: SessionDep, account: Reader, kind: str | None = None,
          region: str | None = Query(None, pattern=r"^\d{1,6}$"), status: str | None = None,
          critical: bool | None = None, mismatch: bool | None = None, min_score: str | None = None,
          max_score: str | None = None) -> dict[str, Any]:
    """Received inspections with their review status, newest first."""
    if status is not None and status not in review.STATUSES:
        raise refuse(422, "bad_status", f"未知的状态：{status}（应为 {'、'.join(review.STATUSES)}）")
    try:
        low = Decimal(min_score) if min_score else None
        high = Decimal(max_score) if max_score else None
    except InvalidOperation:
        raise refuse(422, "bad_score", "得分应为数字") from None
    items = review.queue(session, review.QueueFilter(kind, region, status, critical, low, high, mismatch))
    return {"items": items, "statuses": list(review.STATUSES)}


@router.get("/records/{record_id}")
def record(request: Request, session: SessionDep, account: Reader, record_id: str = RECORD_ID,
           version: int | None = Query(None, ge=1)) -> dict[str, Any]:
    """Everything about one case: the record as signed (answers, findings, photos, signatures or the refusal),
    the signature and receipt verification, the score check, the versions, the audit log, the decision."""
    try:
        return _detail(session, request, record_id, account, version)
    except review.ReviewError as exc:
        raise _refused(exc) from None


@router.get("/blobs/{sha256}")
def blob(request: Request, session: SessionDep, account: Reader, sha256: str = SHA256) -> Response:
    """A photo of a received record (content-addressed; the reviewer zooms into it), served as what its bytes are
    and never sniffed by the browser into anything else (a page, a script)."""
    if session.get(StoredBlob, sha256) is None:
        raise refuse(404, "unknown_blob", "局端没有该附件（可能尚未上传完成）")
    data = read_blob(request.app.state.settings, sha256)
    media_type, disposition = served_as(sha256, data)
    return Response(content=data, media_type=media_type, headers={
        "Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": disposition})


@router.get("/records/{record_id}/proposal")
def proposal(session: SessionDep, account: Reader, record_id: str = RECORD_ID, refused_to_correct: bool = False,
             serious_consequences: bool = False, intent: list[str] = Query(default=[]),
             circumstance: list[str] = Query(default=[])) -> dict[str, Any]:
    """What the regulation prescribes for the findings under these case facts (the decision screen's basis);
    `circumstance`: the 行政处罚法 Art. 33 facts found true (checklists.penalty.CIRCUMSTANCES)."""
    try:
        return decisions.proposal_for(session, record_id, decisions.Flags(
            refused_to_correct, serious_consequences, tuple(intent), tuple(circumstance)))
    except review.ReviewError as exc:
        raise _refused(exc) from None


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=2000)


class PersonPoint(BaseModel):
    staff_code: str = Field(max_length=32)
    behaviour_id: str = Field(max_length=64)


class ChoiceBody(BaseModel):
    """The reviewer's choice within the proposal."""

    refused_to_correct: bool = False
    serious_consequences: bool = False
    intent_items: list[str] = Field(default_factory=list, max_length=200)
    circumstances: list[str] = Field(default_factory=list, max_length=10,
                                     description="行政处罚法 Art. 33 facts found true (checklists.penalty.CIRCUMSTANCES)")
    waive_penalty: bool = Field(default=False, description="可以不予行政处罚 taken (only where no_penalty is \"may\")")
    optional_measures: list[str] = Field(default_factory=list, max_length=10)
    fine_yuan: str | None = Field(default=None, max_length=24, description="decimal string, e.g. \"12000.00\"")
    fine_reason: str = Field(default="", max_length=2000)
    suspension_months: int | None = None
    rectification_due: date | None = None
    person_points: list[PersonPoint] = Field(default_factory=list, max_length=200)
    reason: str = Field(default="", max_length=2000)


class NotifyBody(BaseModel):
    deadline: date


class StatementBody(BaseModel):
    text: str = Field(default="", max_length=20000)
    waived: bool = False
    attachment_name: str = Field(default="", max_length=200)
    attachment_b64: str | None = Field(default=None, max_length=28 * 1024 * 1024)


def _acted(session: Session, request: Request, record_id: str, account: StaffAccount, work) -> dict[str, Any]:
    try:
        work()
    except review.ReviewError as exc:
        session.rollback()
        raise _refused(exc) from None
    _commit(session)
    return _detail(session, request, record_id, account)


@router.post("/records/{record_id}/start")
def start(request: Request, session: SessionDep, account: Reviewer, record_id: str = RECORD_ID) -> dict[str, Any]:
    return _acted(session, request, record_id, account, lambda: review.start(session, record_id, account, _now()))


@router.post("/records/{record_id}/return")
def return_for_correction(body: ReasonBody, request: Request, session: SessionDep, account: Reviewer,
                          record_id: str = RECORD_ID) -> dict[str, Any]:
    """退回补正: the tablets of the team receive the request; the corrected version comes back as 已接收."""
    return _acted(session, request, record_id, account,
                  lambda: review.return_for_correction(session, record_id, account, body.reason, _now()))


@router.post("/records/{record_id}/close")
def close(body: ReasonBody, request: Request, session: SessionDep, account: Reviewer,
          record_id: str = RECORD_ID) -> dict[str, Any]:
    """审核结案 of an inspection without findings."""
    return _acted(session, request, record_id, account,
                  lambda: decisions.close_without_violation(session, record_id, account, body.reason, _now()))


@router.post("/records/{record_id}/proposal")
def propose(body: ChoiceBody, request: Request, session: SessionDep, account: Reviewer,
            record_id: str = RECORD_ID) -> dict[str, Any]:
    """拟处理 (or a revised proposal before the decision): the fine within the range, with the reason."""
    choice = body.model_dump()
    choice["person_points"] = [p.model_dump() for p in body.person_points]
    return _acted(session, request, record_id, account,
                  lambda: decisions.save_proposal(session, record_id, account, choice, _now()))


@router.post("/records/{record_id}/reopen")
def reopen(body: ReasonBody, request: Request, session: SessionDep, account: Reviewer,
           record_id: str = RECORD_ID) -> dict[str, Any]:
    return _acted(session, request, record_id, account,
                  lambda: review.act(session, record_id, "reopen", account, _now(), reason=body.reason))


@router.post("/records/{record_id}/notify")
def notify(body: NotifyBody, request: Request, session: SessionDep, account: Reviewer,
           record_id: str = RECORD_ID) -> dict[str, Any]:
    """告知拟处理意见: the institution may state its case (陈述申辩) until the deadline."""
    return _acted(session, request, record_id, account,
                  lambda: review.notify(session, record_id, account, body.deadline, _now()))


@router.post("/records/{record_id}/statement")
def statement(body: StatementBody, request: Request, session: SessionDep, account: Reviewer,
              record_id: str = RECORD_ID) -> dict[str, Any]:
    """The institution's statement as received (with its written copy, base64), or its waiver."""
    try:
        attachment = base64.b64decode(body.attachment_b64, validate=True) if body.attachment_b64 else None
    except (binascii.Error, ValueError):
        raise refuse(422, "bad_attachment", "附件编码不正确（应为 base64）") from None
    data_dir = request.app.state.settings.data_dir
    return _acted(session, request, record_id, account, lambda: review.record_statement(
        session, data_dir, record_id, account, _now(), text=body.text, waived=body.waived, attachment=attachment,
        attachment_name=body.attachment_name))


@router.get("/records/{record_id}/statement/attachment")
def statement_attachment(request: Request, session: SessionDep, account: Reader,
                         record_id: str = RECORD_ID) -> Response:
    case = session.get(ReviewCase, record_id)
    if case is None or not case.attachment_sha256:
        raise refuse(404, "no_attachment", "本案没有陈述申辩附件")
    data = review.statement_path(request.app.state.settings.data_dir, case.attachment_sha256).read_bytes()
    media = mimetypes.guess_type(case.attachment_name)[0] or "application/octet-stream"
    return Response(content=data, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(case.attachment_name)}"})


@router.post("/records/{record_id}/decide")
def decide(request: Request, session: SessionDep, account: Reviewer, record_id: str = RECORD_ID) -> dict[str, Any]:
    """作出决定 after the hearing: numbered, it feeds the ledgers; 责令改正 opens a 回头看 follow-up."""
    return _acted(session, request, record_id, account,
                  lambda: decisions.issue(session, record_id, account, _now()))


@router.get("/records/{record_id}/decision.pdf")
def decision_pdf(session: SessionDep, account: Reader, record_id: str = RECORD_ID) -> Response:
    try:
        data = decisions.decision_for_pdf(session, record_id)
    except review.ReviewError as exc:
        raise _refused(exc) from None
    name = decision_pdf_name(data["decision"])
    return Response(content=render_decision_pdf(data), media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.post("/records/{record_id}/withdraw")
def withdraw(body: ReasonBody, request: Request, session: SessionDep, account: Reviewer,
             record_id: str = RECORD_ID) -> dict[str, Any]:
    """The decision withdrawn on 复议: the ledgers reverse its entries."""
    return _acted(session, request, record_id, account,
                  lambda: decisions.withdraw(session, record_id, account, body.reason, _now()))
