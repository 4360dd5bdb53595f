"""Request-scoped dependencies: a database session and the authenticated caller."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from bureau.models import DeviceKey
from sync.request_auth import HEADER_KEY, RequestAuthError, verify_request


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def refuse(status: int, reason: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"reason": reason, "message": message})


async def current_device(request: Request, session: SessionDep) -> DeviceKey:
    """The enrolled, active device key that signed this request."""
    key_id = request.headers.get(HEADER_KEY, "")
    device_key = session.get(DeviceKey, key_id) if key_id else None
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
