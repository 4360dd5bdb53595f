"""Request-scoped dependencies: a database session and the authenticated caller."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bureau import enrollment, staff
from bureau.models import DeviceKey, StaffAccount
from sync.request_auth import HEADER_KEY, RequestAuthError, verify_request


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Opened and closed on the event loop (closing only hands the connection back to the pool): a closing
    session must never wait for a worker thread while worker threads wait for its connection."""
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def refuse(status: int, reason: str, message: str, **extra: Any) -> HTTPException:
    """The one error shape of the API: `{"detail": {"reason": <code>, "message": <中文>, …}}`."""
    return HTTPException(status_code=status, detail={"reason": reason, "message": message, **extra})


def _authenticate(session: Session, headers: dict[str, str], method: str, path_qs: str, body: bytes) -> DeviceKey:
    """The enrolled, active key that signed this request, seen once: its nonce is stored and a second use refused.

    Every statement here commits on its own (autocommit): the nonce's insert, one write per signed request, holds
    SQLite's write lock only while it runs, never across Python code up to a commit (a commit round trip less on
    PostgreSQL). The connection goes back before this returns: many tablets wait here at the same time, and none
    may hold a pooled connection while it waits (a full pool would stall everyone)."""
    now = time.time()
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        key_id = headers.get(HEADER_KEY.lower(), "")
        device_key = session.get(DeviceKey, key_id) if key_id else None
        if device_key is None:
            raise refuse(401, "unknown_device", "设备未注册")
        session.expunge(device_key)
        if device_key.status != "active":
            raise refuse(403, "device_revoked", f"设备已被吊销：{device_key.revoked_reason or '未说明原因'}")
        try:
            public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(device_key.public_key))
            signed = verify_request(public_key, headers, method, path_qs, body, now=now)
        except RequestAuthError as exc:
            raise refuse(401, exc.reason, exc.message) from None
        if not enrollment.remember_nonce(session, key_id, signed.nonce, signed.signed_at, now):
            # 429, not 401: a tablet retries a 429 signed anew, and one behind a link that duplicated its request
            # must (the bureau may have served the copy first); 401 would stop its sync, 409 set its record aside
            raise refuse(429, "replayed_request", "该请求已被局端收到过（重放），已拒绝；请重新签名后再发送")
        return device_key
    finally:
        session.rollback()  # nothing to undo: ends the session's use of the connection, its isolation level reset


async def current_device(request: Request, session: SessionDep) -> DeviceKey:
    """The enrolled, active device key that signed this request (and has not sent it before)."""
    path_qs = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    # never block the event loop on the pool
    return await run_in_threadpool(_authenticate, session, dict(request.headers), request.method, path_qs, body)


DeviceDep = Annotated[DeviceKey, Depends(current_device)]


def current_staff(request: Request, session: SessionDep) -> StaffAccount:
    """The signed-in staff member behind `Authorization: Bearer <token>`."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise refuse(401, "not_signed_in", "请先登录")
    try:
        return staff.account_for_token(session, header.removeprefix("Bearer ").strip(), datetime.now(timezone.utc))
    except staff.StaffError as exc:
        raise refuse(401, exc.reason, exc.message) from None


StaffDep = Annotated[StaffAccount, Depends(current_staff)]


def require_role(*roles: str):
    """A dependency admitting only staff with one of these roles (管理员 is not a superuser: roles are explicit)."""

    def check(account: StaffDep) -> StaffAccount:
        if account.role not in roles:
            allowed = "、".join(staff.ROLES[r] for r in roles)
            raise refuse(403, "wrong_role", f"无权限：此操作仅限{allowed}")
        return account

    return Depends(check)
