"""Signed device requests: every call a device makes is signed with its inspector's Ed25519 key.

The signature covers method, path with query, time, a nonce and the body's SHA-256, so a request cannot be
altered or moved to another endpoint. Tablets keep poor time offline, hence a generous clock window. Within it the
bureau keeps every (key, nonce) it accepted and refuses the same pair again (a replay); so every send, a retry
included, is signed anew with a fresh nonce.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DOMAIN = b"yibao-request-v1\n"
CLOCK_WINDOW_SECONDS = 900
HEADER_KEY = "X-Yibao-Key"
HEADER_TIME = "X-Yibao-Time"
HEADER_NONCE = "X-Yibao-Nonce"
HEADER_SIGNATURE = "X-Yibao-Signature"
_NONCE = re.compile(r"[0-9a-f]{16,64}")  # sign_request makes 24 hex digits; too short a nonce could collide


class RequestAuthError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class VerifiedRequest(NamedTuple):
    """What the bureau keeps of a verified request to refuse its replay."""

    signed_at: int  # seconds since the epoch, as signed
    nonce: str


def _payload(method: str, path_qs: str, ts: str, nonce: str, body: bytes) -> bytes:
    return DOMAIN + "\n".join([method.upper(), path_qs, ts, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign_request(key: Ed25519PrivateKey, key_id: str, method: str, path_qs: str, body: bytes,
                 now: float | None = None) -> dict[str, str]:
    """The signed headers of one send, with a nonce of its own: a retry is signed anew, never sent twice."""
    ts = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(12)
    signature = key.sign(_payload(method, path_qs, ts, nonce, body))
    return {HEADER_KEY: key_id, HEADER_TIME: ts, HEADER_NONCE: nonce,
            HEADER_SIGNATURE: base64.b64encode(signature).decode()}


def verify_request(public_key: Ed25519PublicKey, headers: dict[str, str], method: str, path_qs: str, body: bytes,
                   now: float | None = None) -> VerifiedRequest:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        ts = lowered[HEADER_TIME.lower()]
        nonce = lowered[HEADER_NONCE.lower()]
        signature = base64.b64decode(lowered[HEADER_SIGNATURE.lower()], validate=True)
        skew = abs(int(ts) - (now if now is not None else time.time()))
    except (KeyError, ValueError):
        raise RequestAuthError("bad_auth_headers", "请求签名头缺失或格式错误") from None
    if not _NONCE.fullmatch(nonce):
        raise RequestAuthError("bad_auth_headers", "请求签名头缺失或格式错误")
    if skew > CLOCK_WINDOW_SECONDS:
        raise RequestAuthError("clock_skew", "设备时间与服务器相差过大，请校准平板时间后重试")
    try:
        public_key.verify(signature, _payload(method, path_qs, ts, nonce, body))
    except InvalidSignature:
        raise RequestAuthError("bad_signature", "请求签名无效") from None
    return VerifiedRequest(int(ts), nonce)
