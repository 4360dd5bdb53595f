"""The bureau's signature on an assignment, shared by the bureau (signs) and the tablet (refuses unsigned or altered).

Since v2 an assignment names its team's members as the bureau's registry (执法检查人员名录库) has them — code, name,
执法证号 — and the signature covers them: the tablet takes the inspectors' names from there, never from typing. An
assignment without `members` was issued before (v1) and is verified as it was signed then, so what a tablet stored
earlier still verifies and loads.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_bytes

DOMAIN = b"yibao-assignment-v1\n"
DOMAIN_WITH_MEMBERS = b"yibao-assignment-v2\n"
SIGNED_FIELDS = ("id", "plan_id", "institution_code", "team", "reason", "issued_at", "due_date", "revoked")
MEMBER_FIELDS = ("inspector_code", "name", "badge_no")


def signed_fields(assignment: dict[str, Any]) -> tuple[str, ...]:
    """The fields the signature covers: `SIGNED_FIELDS`, and `members` when the assignment names them (v2)."""
    return (*SIGNED_FIELDS, "members") if "members" in assignment else SIGNED_FIELDS


def _signing_bytes(assignment: dict[str, Any]) -> bytes:
    domain = DOMAIN_WITH_MEMBERS if "members" in assignment else DOMAIN
    return domain + canonical_bytes({k: assignment.get(k) for k in signed_fields(assignment)})


def sign_assignment(assignment: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(_signing_bytes(assignment))).decode()


def assignment_signature_valid(assignment: dict[str, Any], bureau_public: Ed25519PublicKey) -> bool:
    try:
        bureau_public.verify(base64.b64decode(assignment.get("signature") or "", validate=True), _signing_bytes(assignment))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def members_problem(assignment: dict[str, Any]) -> str | None:
    """Why a signed assignment's `members` cannot be used (None: they can, or it has none): one entry per team
    member, in the team's order, each with its code, name and 执法证号 as text."""
    members = assignment.get("members")
    if members is None:
        return None
    team = assignment.get("team") or []
    if not isinstance(members, list) or len(members) != len(team):
        return f"检查任务 {assignment.get('id')} 的 members 应为与 team 等长的列表"
    for index, (member, code) in enumerate(zip(members, team)):
        if not isinstance(member, dict) or set(member) != set(MEMBER_FIELDS) \
                or not all(isinstance(member[k], str) and member[k].strip() for k in MEMBER_FIELDS):
            return f"检查任务 {assignment.get('id')} 的 members[{index}] 应含非空的 {'、'.join(MEMBER_FIELDS)}"
        if member["inspector_code"] != code:
            return f"检查任务 {assignment.get('id')} 的 members[{index}] 应为检查组成员 {code}"
    return None
