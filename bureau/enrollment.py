"""Enrollment tokens and device keys: queries and rules, no HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from bureau.models import DeviceKey, EnrollToken, Inspector
from sync.keys import key_id as key_id_of

TOKEN_LIFETIME = timedelta(hours=72)


class EnrollmentError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_token(session: Session, inspector_code: str, now: datetime) -> str:
    inspector = session.get(Inspector, inspector_code)
    if inspector is None or not inspector.active:
        raise EnrollmentError("unknown_inspector", f"执法检查人员名录库中没有在册人员 {inspector_code}")
    token = secrets.token_urlsafe(18)
    session.add(EnrollToken(token_hash=_hash(token), inspector_code=inspector_code, expires_at=now + TOKEN_LIFETIME))
    return token


def enroll(session: Session, token: str, device_id: str, public_key_b64: str, now: datetime) -> DeviceKey:
    """Spend a token for one key. A retry with the same key after a lost response gets the same enrollment."""
    try:
        public_raw = base64.b64decode(public_key_b64, validate=True)
    except ValueError:
        raise EnrollmentError("bad_public_key", "公钥格式错误（应为 base64）") from None
    if len(public_raw) != 32:
        raise EnrollmentError("bad_public_key", "公钥长度错误（应为 32 字节 Ed25519 公钥）")
    row = session.exec(select(EnrollToken).where(EnrollToken.token_hash == _hash(token)).with_for_update()).first()
    if row is None:
        raise EnrollmentError("unknown_token", "注册码无效")
    new_key_id = key_id_of(Ed25519PublicKey.from_public_bytes(public_raw))
    if row.used_by_key_id is not None:
        existing = session.get(DeviceKey, row.used_by_key_id)
        if row.used_by_key_id == new_key_id and existing is not None and existing.device_id == device_id:
            return existing
        raise EnrollmentError("token_spent", "注册码已被使用")
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires_at < now:
        raise EnrollmentError("token_expired", "注册码已过期，请向科室负责人重新申请")
    if session.get(DeviceKey, new_key_id) is not None:  # one key, one inspector: a key is never enrolled twice
        raise EnrollmentError("key_already_enrolled", "该设备密钥已注册过，请在设备上重新生成密钥后注册")
    device_key = DeviceKey(key_id=new_key_id, device_id=device_id, inspector_code=row.inspector_code,
                           public_key=public_key_b64, enrolled_at=now)
    row.used_by_key_id = new_key_id
    session.add(row)
    session.add(device_key)
    return device_key


def revoke(session: Session, key_id: str, reason: str, now: datetime) -> DeviceKey:
    key = session.get(DeviceKey, key_id)
    if key is None:
        raise EnrollmentError("unknown_key", f"没有设备密钥 {key_id}")
    key.status, key.revoked_at, key.revoked_reason = "revoked", now, reason
    session.add(key)
    return key
