"""Request-scoped dependencies: a database session and the authenticated caller."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from bureau import staff
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


def _device_key(session: Session, key_id: str) -> DeviceKey | None:
    """Look the key up and give the connection back at once: many tablets wait here at the same time, and none
    may hold a pooled connection while it waits (a full pool would stall everyone)."""
    device_key = session.get(DeviceKey, key_id) if key_id else None
    if device_key is not None:
        session.expunge(device_key)
    session.rollback()
    return device_key


async def current_device(request: Request, session: SessionDep) -> DeviceKey:
    """The enrolled, active device key that signed this request."""
    key_id = request.headers.get(HEADER_KEY, "")
    device_key = await run_in_threadpool(_device_key, session, key_id)  # never block the event loop on the pool
    if device_key is None:
        raise refuse(401, "unknown_device", "设备未注册")
    if device_key.status != "active":
        raise refuse(403, "device_revoked", f"设备已被吊销：{device_key.revoked_reason or '未说明原因'}")
    path_qs = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    try:
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(device_key.public_key))
        verify_request(public_key, dict(request.headers), request.method, path_qs, body)
    except RequestAuthError as exc:
        raise refuse(401, exc.reason, exc.message) from None
    return device_key


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
