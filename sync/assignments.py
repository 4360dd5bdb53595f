"""The bureau's signature on an assignment, shared by the bureau (signs) and the tablet (refuses unsigned or altered)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_bytes

DOMAIN = b"yibao-assignment-v1\n"
SIGNED_FIELDS = ("id", "plan_id", "institution_code", "team", "reason", "issued_at", "due_date", "revoked")


def _signing_bytes(assignment: dict[str, Any]) -> bytes:
    return DOMAIN + canonical_bytes({k: assignment.get(k) for k in SIGNED_FIELDS})


def sign_assignment(assignment: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(_signing_bytes(assignment))).decode()


def assignment_signature_valid(assignment: dict[str, Any], bureau_public: Ed25519PublicKey) -> bool:
    try:
        bureau_public.verify(base64.b64decode(assignment.get("signature") or "", validate=True), _signing_bytes(assignment))
    except (InvalidSignature, ValueError):
        return False
    return True
