"""Enrollment tokens, device keys and the nonces of their signed requests: queries and rules, no HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, update

from bureau.models import DeviceKey, EnrollToken, Inspector, RequestNonce
from sync.keys import key_id as key_id_of
from sync.request_auth import CLOCK_WINDOW_SECONDS

TOKEN_LIFETIME = timedelta(hours=72)
NONCE_KEPT_SECONDS = 2 * CLOCK_WINDOW_SECONDS  # a server clock set back a little cannot revive a pruned nonce


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
    """Spend a token for one key. A retry with the same key after a lost response gets the same enrollment.

    The token is spent by one conditional UPDATE, and whether it changed the row decides: of any number of parallel
    requests exactly one wins, on SQLite as on PostgreSQL. The key is registered in the same transaction: a key that
    cannot be registered rolls the spending back, and the token stays good for another key."""
    try:
        public_raw = base64.b64decode(public_key_b64, validate=True)
    except ValueError:
        raise EnrollmentError("bad_public_key", "公钥格式错误（应为 base64）") from None
    if len(public_raw) != 32:
        raise EnrollmentError("bad_public_key", "公钥长度错误（应为 32 字节 Ed25519 公钥）")
    token_hash, new_key_id = _hash(token), key_id_of(Ed25519PublicKey.from_public_bytes(public_raw))
    spent = session.exec(update(EnrollToken)
                         .where(col(EnrollToken.token_hash) == token_hash, col(EnrollToken.used_by_key_id).is_(None),
                                col(EnrollToken.expires_at) > now)
                         .values(used_by_key_id=new_key_id)
                         .returning(col(EnrollToken.inspector_code))).first()
    if spent is None:
        return _already_enrolled(session, token_hash, new_key_id, device_id)
    device_key = DeviceKey(key_id=new_key_id, device_id=device_id, inspector_code=spent.inspector_code,
                           public_key=public_key_b64, enrolled_at=now)
    session.add(device_key)
    try:
        session.flush()
    except IntegrityError:  # one key, one inspector: a key is never enrolled twice
        session.rollback()
        raise EnrollmentError("key_already_enrolled", "该设备密钥已注册过，请在设备上重新生成密钥后注册") from None
    return device_key


def _already_enrolled(session: Session, token_hash: str, key_id: str, device_id: str) -> DeviceKey:
    """The enrollment a token not spent just now already made for this very key and device, else why it is refused."""
    row = session.get(EnrollToken, token_hash)
    if row is None:
        raise EnrollmentError("unknown_token", "注册码无效")
    if row.used_by_key_id is None:
        raise EnrollmentError("token_expired", "注册码已过期，请向科室负责人重新申请")
    existing = session.get(DeviceKey, row.used_by_key_id)
    if row.used_by_key_id == key_id and existing is not None and existing.device_id == device_id:
        return existing
    raise EnrollmentError("token_spent", "注册码已被使用")


def remember_nonce(session: Session, key_id: str, nonce: str, signed_at: int, now: float) -> bool:
    """Record a verified request's nonce; False when the key has used it before (a replay). The insert itself
    decides, so of parallel copies of one request exactly one passes; each statement stands alone (the caller
    commits, or runs it in autocommit). Nonces out of the clock window can no longer pass the time check; about one
    insert in sixteen (by the nonce's first digit) prunes them."""
    if nonce.startswith("0"):
        session.exec(delete(RequestNonce).where(col(RequestNonce.signed_at) < int(now) - NONCE_KEPT_SECONDS))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = session.connection().execute(  # Core, not the ORM's bulk insert: one of every signed request's statements
        insert(RequestNonce).values(key_id=key_id, nonce=nonce, signed_at=signed_at)
        .on_conflict_do_nothing().returning(col(RequestNonce.nonce)))
    return added.first() is not None


def revoke(session: Session, key_id: str, reason: str, now: datetime) -> DeviceKey:
    key = session.get(DeviceKey, key_id)
    if key is None:
        raise EnrollmentError("unknown_key", f"没有设备密钥 {key_id}")
    key.status, key.revoked_at, key.revoked_reason = "revoked", now, reason
    session.add(key)
    return key
