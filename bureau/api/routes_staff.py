"""Staff sign-in and the supervisor's enrollment tokens."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bureau import enrollment, staff
from bureau.api.deps import SessionDep, StaffDep, refuse, require_role
from bureau.models import StaffAccount

router = APIRouter(prefix="/v1", tags=["staff"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResponse(BaseModel):
    token: str
    username: str
    name: str
    role: str
    role_label: str


@router.post("/staff/login", response_model=LoginResponse)
def login(body: LoginRequest, session: SessionDep) -> LoginResponse:
    try:
        token = staff.login(session, body.username, body.password, datetime.now(timezone.utc))
    except staff.StaffError as exc:
        raise refuse(429 if exc.reason == "locked" else 401, exc.reason, exc.message) from None
    account = session.get(StaffAccount, body.username)
    assert account is not None  # staff.login has just issued a token for this very account
    return LoginResponse(token=token, username=account.username, name=account.name, role=account.role,
                         role_label=staff.ROLES[account.role])


@router.post("/staff/logout")
def logout(request: Request, account: StaffDep, session: SessionDep) -> dict:
    staff.logout(session, request.headers["Authorization"].removeprefix("Bearer ").strip())
    return {"signed_out": account.username}


class TokenRequest(BaseModel):
    inspector_code: str = Field(min_length=1, max_length=32)


@router.post("/enroll-tokens")
def issue_enroll_token(body: TokenRequest, session: SessionDep,
                       account: Annotated[StaffAccount, require_role("supervisor", "admin")]) -> dict:
    """A one-time token for an inspector's tablet (the screen shows it as a QR code)."""
    try:
        token = enrollment.issue_token(session, body.inspector_code, datetime.now(timezone.utc))
    except enrollment.EnrollmentError as exc:
        raise refuse(400, exc.reason, exc.message) from None
    session.commit()
    return {"inspector_code": body.inspector_code, "token": token, "expires_in_hours": 72}
