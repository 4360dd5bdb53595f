"""What a tablet calls: enroll, pull its assignments, push finished inspections."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlmodel import select

from bureau import enrollment
from bureau.api.deps import DeviceDep, SessionDep, refuse
from bureau.assignments import assignments_for
from bureau.models import Assignment, AssignmentMember, Submission
from sync.canonical import content_hash

router = APIRouter(prefix="/v1", tags=["device"])


class EnrollRequest(BaseModel):
    token: str = Field(min_length=8, max_length=200)
    device_id: str = Field(min_length=8, max_length=64)
    public_key: str = Field(description="Ed25519 public key, raw 32 bytes, base64")


class EnrollResponse(BaseModel):
    key_id: str
    inspector_code: str
    bureau_signing_key: str = Field(description="bureau Ed25519 public key, raw, base64 — the device pins it")


def bureau_public_key_b64(request: Request) -> str:
    raw = request.app.state.signing_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@router.post("/devices/enroll", response_model=EnrollResponse)
def enroll(body: EnrollRequest, request: Request, session: SessionDep) -> EnrollResponse:
    try:
        key = enrollment.enroll(session, body.token, body.device_id, body.public_key, datetime.now(timezone.utc))
    except enrollment.EnrollmentError as exc:
        raise refuse(403 if exc.reason == "token_spent" else 400, exc.reason, exc.message) from None
    session.commit()
    return EnrollResponse(key_id=key.key_id, inspector_code=key.inspector_code,
                          bureau_signing_key=bureau_public_key_b64(request))


@router.get("/assignments")
def pull_assignments(device: DeviceDep, session: SessionDep, since: int = 0) -> dict[str, Any]:
    """The caller's team assignments changed after `since` (a cursor the device keeps)."""
    items = assignments_for(session, device.inspector_code, since)
    cursor = max([since, *(a["seq"] for a in items)])
    return {"inspector_code": device.inspector_code, "cursor": cursor, "assignments": items}


class SubmissionRequest(BaseModel):
    id: str = Field(min_length=8, max_length=64)
    assignment_id: str
    record: dict[str, Any]


@router.post("/submissions")
def submit(body: SubmissionRequest, device: DeviceDep, session: SessionDep) -> dict[str, Any]:
    """Plain-JSON submission of a finished inspection (the walking skeleton's transport)."""
    member = session.exec(
        select(AssignmentMember).where(AssignmentMember.assignment_id == body.assignment_id,
                                       AssignmentMember.inspector_code == device.inspector_code)
    ).first()
    assignment = session.get(Assignment, body.assignment_id)
    if member is None or assignment is None or assignment.revoked:
        raise refuse(403, "not_your_assignment", "该检查任务不属于本设备的检查人员")
    digest = content_hash(body.record)
    existing = session.get(Submission, body.id)
    if existing is not None:
        if existing.content_hash != digest:
            raise refuse(409, "conflicting_content", "同一记录编号已收到不同内容")
        return {"id": existing.id, "content_hash": digest, "duplicate": True}
    session.add(Submission(id=body.id, assignment_id=body.assignment_id, inspector_code=device.inspector_code,
                           content_hash=digest, payload=body.record))
    assignment.status = "已提交"
    session.add(assignment)
    session.commit()
    return {"id": body.id, "content_hash": digest, "duplicate": False}
