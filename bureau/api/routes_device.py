"""What a tablet calls: enroll and pull its assignments (records and blobs travel through `routes_sync`)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bureau import enrollment
from bureau.api.deps import DeviceDep, SessionDep, refuse
from bureau.assignments import assignments_for
from sync.keys import public_key_to_b64

router = APIRouter(prefix="/v1", tags=["device"])


class EnrollRequest(BaseModel):
    token: str = Field(min_length=8, max_length=200)
    device_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")
    public_key: str = Field(description="Ed25519 public key, raw 32 bytes, base64")


class EnrollResponse(BaseModel):
    key_id: str
    inspector_code: str
    bureau_signing_key: str = Field(description="bureau Ed25519 public key, raw, base64 — the device pins it")
    bureau_sealing_key: str = Field(description="bureau ML-KEM-768 + X25519 public key, raw, base64 — the device "
                                                "pins it and seals every record and blob to it")


def bureau_public_key_b64(request: Request) -> str:
    raw = request.app.state.signing_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                                  serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@router.post("/devices/enroll", response_model=EnrollResponse)
def enroll(body: EnrollRequest, request: Request, session: SessionDep) -> EnrollResponse:
    try:
        key = enrollment.enroll(session, body.token, body.device_id, body.public_key, datetime.now(timezone.utc))
    except enrollment.EnrollmentError as exc:
        status = {"token_spent": 403, "key_already_enrolled": 409}.get(exc.reason, 400)
        raise refuse(status, exc.reason, exc.message) from None
    session.commit()
    return EnrollResponse(key_id=key.key_id, inspector_code=key.inspector_code,
                          bureau_signing_key=bureau_public_key_b64(request),
                          bureau_sealing_key=public_key_to_b64(request.app.state.keys.sealing.public_key()))


@router.get("/assignments")
def pull_assignments(device: DeviceDep, session: SessionDep,
                     since: int = Query(0, ge=0, le=2**31 - 1)) -> dict[str, Any]:
    """The caller's team assignments changed after `since` (a cursor the device keeps)."""
    items = assignments_for(session, device.inspector_code, since)
    session.rollback()  # the connection goes back before the answer is serialised (see routes_sync._in_worker)
    cursor = max([since, *(a["seq"] for a in items)])
    return {"inspector_code": device.inspector_code, "cursor": cursor, "assignments": items}
