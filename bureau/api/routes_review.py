"""Review and decisions (审核人员; 科室负责人 may read): the queue, a case with everything it holds, the review
actions, the decision and its 决定书 PDF. The rules live in `bureau.review` and `bureau.decisions`.

Every action is one audit event; a reviewer who was on the inspection team cannot act on the case (回避).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO, Iterator
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bureau import case_file, case_settings, decision_pdf, decisions, proceedings, review
from bureau.api.deps import SessionDep, refuse, require_role
from bureau.blobs import read_blob, served_as
from bureau.models import Decision, ReviewCase, StaffAccount, StoredBlob
from bureau.procedure_pdf import render_procedure_pdf
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
    items = review.queue(session, review.QueueFilter(kind, region, status, critical, low, high, mismatch),
                         review.local_date(_now()))
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
             circumstance: list[str] = Query(default=[]), factor: list[str] = Query(default=[]),
             conduct_from: date | None = None, conduct_to: date | None = None,
             limitation_extended: bool = False, major_loss: bool = False) -> dict[str, Any]:
    """What the regulation prescribes for the findings under these case facts (the decision screen's basis);
    `circumstance`: the 行政处罚法 Art. 33 facts found true (checklists.penalty.CIRCUMSTANCES); `factor`: the
    裁量情节 cited (the fine's band); the conduct's period and whether Art. 36's longer 时效 applies; `major_loss`:
    造成医疗保障基金重大损失或者其他严重不良社会影响 (条例 Art. 43)."""
    try:
        return decisions.proposal_for(session, record_id, decisions.Flags(
            refused_to_correct, serious_consequences, tuple(intent), tuple(circumstance), tuple(factor),
            conduct_from, conduct_to, limitation_extended, major_loss))
    except review.ReviewError as exc:
        raise _refused(exc) from None


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=2000)


class PersonPoint(BaseModel):
    staff_code: str = Field(max_length=32)
    behaviour_id: str = Field(max_length=64)
    suspension_months: int | None = Field(default=None, ge=1, le=120)  # the 暂停's term, should these points reach it


class ChoiceBody(BaseModel):
    """The reviewer's choice within the proposal."""

    refused_to_correct: bool = False
    serious_consequences: bool = False
    intent_items: list[str] = Field(default_factory=list, max_length=200)
    circumstances: list[str] = Field(default_factory=list, max_length=10,
                                     description="行政处罚法 Art. 33 facts found true (checklists.penalty.CIRCUMSTANCES)")
    factors: list[str] = Field(default_factory=list, max_length=30, description="裁量情节 ids (checklists/discretion)")
    conduct_from: date | None = None
    conduct_to: date | None = Field(default=None, description="the conduct's end (时效 runs from it)")
    limitation_extended: bool = Field(default=False, description="涉及生命健康安全、金融安全且有危害后果: 5-year 时效")
    major_loss: bool = Field(default=False, description="造成医疗保障基金重大损失或者其他严重不良社会影响 (条例 Art. 43)")
    waive_penalty: bool = Field(default=False, description="不予行政处罚 taken (where no_penalty is \"may\" or the "
                                                           "时效 has run)")
    optional_measures: list[str] = Field(default_factory=list, max_length=10)
    fine_yuan: str | None = Field(default=None, max_length=24, description="decimal string, e.g. \"12000.00\"")
    fine_reason: str = Field(default="", max_length=2000)
    suspension_months: int | None = None
    rectification_due: date | None = None
    person_points: list[PersonPoint] = Field(default_factory=list, max_length=200)
    reason: str = Field(default="", max_length=2000)


class NotifyBody(BaseModel):
    """The day the 告知书 was served (the deadlines count from it), or an explicit 陈述申辩 deadline."""

    deadline: date | None = None
    served_on: date | None = None


class StepBody(BaseModel):
    """The inputs of a penalty-procedure step (`bureau.procedure`); each step reads the ones it needs."""

    reason: str = Field(default="", max_length=2000)
    opinion: str = Field(default="", max_length=5000)
    passed: bool = False
    participants: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=30)
    days: int | None = Field(default=None, ge=1, le=3650)
    discussed: bool = False
    served_on: date | None = None
    requested_on: date | None = None
    notified_on: date | None = None
    held_on: date | None = None
    held_at: str = Field(default="", max_length=20)  # HH:MM, checked by `procedure.hearing_hour`
    place: str = Field(default="", max_length=200)
    officer: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=20000)
    attendees: str = Field(default="", max_length=2000)
    party_signed: bool = False
    waived: bool = False
    method: str = Field(default="", max_length=20)
    receiver: str = Field(default="", max_length=100)
    kind: str = Field(default="", max_length=10)
    amount_yuan: str = Field(default="", max_length=24)
    paid_on: date | None = None
    reference: str = Field(default="", max_length=200)
    court: str = Field(default="", max_length=200)
    facts: str = Field(default="", max_length=5000)  # 拒不配合调查的事实 (暂停结算)
    approver: str = Field(default="", max_length=50)  # the 主要负责人 who approved it
    approved_on: date | None = None


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
                  lambda: review.notify(session, record_id, account, body.deadline, _now(), body.served_on))


@router.post("/records/{record_id}/procedure/{step}")
def procedure_step(body: StepBody, request: Request, session: SessionDep, account: Reader,
                   record_id: str = RECORD_ID, step: str = Path(pattern=r"^[a-z_]{1,32}$")) -> dict[str, Any]:
    """A step of the penalty procedure (`bureau.procedure.STEPS`): 立案 (asked by a reviewer, approved by another
    person), 法制审核, 集体讨论, 延长, 重新告知, 听证, 协议处理告知, 送达, 缴款, 强制执行, 结案, 归档. 负责人
    (supervisors) approve 立案 and extensions and record 集体讨论; the rest is the reviewers'."""
    return _acted(session, request, record_id, account,
                  lambda: proceedings.run_step(session, record_id, step, account, body.model_dump(), _now()))


@router.get("/records/{record_id}/procedure/{document}.pdf")
def procedure_document(session: SessionDep, account: Reader, record_id: str = RECORD_ID,
                       document: str = Path(pattern=r"^(notice|hearing-notice|hearing-record|interim-suspension|interim-suspension-lifted)$"),
                       count: int | None = Query(None, ge=1, le=999)) -> Response:
    """行政处罚事先告知书 (notice), 听证通知书 (hearing-notice), 听证笔录 (hearing-record) of the current notice, or of
    the notice numbered `count` (an earlier one, replaced by a 重新告知); 暂停医疗保障基金结算通知书
    (interim-suspension) of the last suspension, or of the one numbered `count`, and its 解除 notice
    (interim-suspension-lifted) once lifted."""
    try:
        data = proceedings.document_data(session, record_id, document, count)
    except review.ReviewError as exc:
        raise _refused(exc) from None
    return _download(render_procedure_pdf(data), "application/pdf", proceedings.file_name(data))


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


def _case_data(session: Session, record_id: str) -> dict[str, Any]:
    try:
        return decisions.decision_for_pdf(session, record_id)
    except review.ReviewError as exc:
        raise _refused(exc) from None


def _case_document(data: dict[str, Any], key: str) -> decision_pdf.CaseDocument:
    found = next((d for d in decision_pdf.case_documents(data) if d.key == key), None)
    if found is None:
        raise refuse(404, "no_document", f"本案没有文书 {key}")
    return found


def _download(content: bytes, media_type: str, name: str) -> Response:
    return Response(content=content, media_type=media_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/records/{record_id}/decision.pdf")
def decision_document(session: SessionDep, account: Reader, record_id: str = RECORD_ID) -> Response:
    """The principal document: the 决定书, or the 协议处理通知书 of an agreement-only case."""
    data = _case_data(session, record_id)
    return _download(decision_pdf.render_decision_pdf(data), "application/pdf", decision_pdf.decision_pdf_name(data))


@router.get("/records/{record_id}/documents")
def case_documents(session: SessionDep, account: Reader, record_id: str = RECORD_ID) -> dict[str, Any]:
    """Every document the decision issues (决定书, 协议处理通知书, 移送书), and the case settings still unset."""
    data = _case_data(session, record_id)
    return {"documents": [{"key": d.key, "title": d.title, "number": d.number, "file_name": d.file_name}
                          for d in decision_pdf.case_documents(data)],
            "unset_settings": case_settings.printed(data["settings"])[1]}


DOCUMENT_KEY = Path(pattern=r"^(decision|agreement|referral-[1-9][0-9]?)$")


@router.get("/records/{record_id}/documents/{key}.pdf")
def case_document(session: SessionDep, account: Reader, record_id: str = RECORD_ID,
                  key: str = DOCUMENT_KEY) -> Response:
    data = _case_data(session, record_id)
    document = _case_document(data, key)
    return _download(decision_pdf.render_case_document(data, key), "application/pdf", document.file_name)


class ServiceBody(BaseModel):
    """How a document was (or is to be) served; what is left out is written on the paper by hand."""

    method: str = Field(default="", max_length=20)
    place: str = Field(default="", max_length=200)
    served_on: date | None = None
    recipient: str = Field(default="", max_length=100)
    servers: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=4)
    note: str = Field(default="", max_length=500)


@router.post("/records/{record_id}/documents/{key}/service-receipt.pdf")
def service_receipt(body: ServiceBody, session: SessionDep, account: Reviewer, record_id: str = RECORD_ID,
                    key: str = DOCUMENT_KEY) -> Response:
    """The 送达回证 of one document of the case."""
    if body.method and body.method not in decision_pdf.service_methods():
        raise refuse(422, "bad_method", f"method：送达方式“{body.method}”不正确（应为 "
                                        f"{'、'.join(decision_pdf.service_methods())} 之一）")
    data = _case_data(session, record_id)
    document = _case_document(data, key)
    receipt = decision_pdf.service_receipt_of(data, document, body.model_dump(mode="json"))
    return _download(decision_pdf.render_service_receipt(receipt), "application/pdf",
                     f"送达回证-{document.number or document.key}.pdf")


@router.get("/records/{record_id}/case-file.zip")
def case_file_zip(request: Request, session: SessionDep, account: Reviewer, record_id: str = RECORD_ID) -> Response:
    """The 案卷: every document, the signed record versions, receipts, evidence and audit log, with a signed
    manifest (`yibao case verify` checks it offline)."""
    state = request.app.state
    out = FilePath(state.settings.data_dir) / f".case-file-{uuid.uuid4().hex}.zip"  # written there, never in memory
    try:
        case_file.export_case(session, state.settings, record_id, state.log, state.signing_key, _now(), out)
        handle = open(out, "rb")
    except review.ReviewError as exc:
        raise _refused(exc) from None
    finally:
        out.unlink(missing_ok=True)  # the open handle keeps the content until sent: nothing stays behind, whatever happens
    return StreamingResponse(_blocks(handle), media_type="application/zip", headers={
        "Content-Length": str(os.fstat(handle.fileno()).st_size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(case_file.file_name(record_id))}"})


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while block := handle.read(1 << 20):
            yield block


@router.post("/records/{record_id}/withdraw")
def withdraw(body: ReasonBody, request: Request, session: SessionDep, account: Reviewer,
             record_id: str = RECORD_ID) -> dict[str, Any]:
    """The decision withdrawn on 复议: the ledgers reverse its entries."""
    return _acted(session, request, record_id, account,
                  lambda: decisions.withdraw(session, record_id, account, body.reason, _now()))
