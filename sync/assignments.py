"""The bureau's signature on an assignment, shared by the bureau (signs) and the tablet (refuses unsigned or altered).

Since v2 an assignment names its team's members as the bureau's registry (执法检查人员名录库) has them — code, name,
执法证号 — and the signature covers them: the tablet takes the inspectors' names from there, never from typing. An
assignment without `members` was issued before (v1) and is verified as it was signed then, so what a tablet stored
earlier still verifies and loads.

Since v3 an assignment may carry its institution's 疑点 (`suspicions`: the hits of the bureau's screening run, for the
inspectors to verify against the medical records on site), and the signature covers them under its own domain; an
assignment without `suspicions` is signed and verified exactly as v1/v2.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_bytes

DOMAIN = b"yibao-assignment-v1\n"
DOMAIN_WITH_MEMBERS = b"yibao-assignment-v2\n"
DOMAIN_WITH_SUSPICIONS = b"yibao-assignment-v3\n"
SIGNED_FIELDS = ("id", "plan_id", "institution_code", "team", "reason", "issued_at", "due_date", "revoked")
MEMBER_FIELDS = ("inspector_code", "name", "badge_no")
MAX_SUSPICIONS = 500  # the highest amounts of an institution's hits; the rest stay in the bureau's screening run
SUSPICION_FIELDS = ("hit_id", "rule", "rule_name", "result", "settlement_id", "person", "amount_yuan", "evidence",
                    "basis")  # and exactly one of "date" (YYYY-MM-DD) or "month" (YYYY-MM), or neither
SUSPICION_RESULTS = ("可疑", "明确违规")
_MONEY = re.compile(r"[0-9]{1,18}\.[0-9]{2}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def signed_fields(assignment: dict[str, Any]) -> tuple[str, ...]:
    """The fields the signature covers: `SIGNED_FIELDS`, `members` when the assignment names them (v2) and
    `suspicions` when it carries them (v3)."""
    optional = tuple(k for k in ("members", "suspicions") if k in assignment)
    return (*SIGNED_FIELDS, *optional)


def _signing_bytes(assignment: dict[str, Any]) -> bytes:
    domain = DOMAIN_WITH_SUSPICIONS if "suspicions" in assignment \
        else DOMAIN_WITH_MEMBERS if "members" in assignment else DOMAIN
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


def _suspicion_problem(suspicion: Any) -> str | None:
    """What is wrong with one 疑点 (its field and what was expected), or None."""
    if not isinstance(suspicion, dict):
        return "应为对象"
    allowed = set(SUSPICION_FIELDS) | {"date", "month"}
    unknown = sorted(set(suspicion) - allowed)
    if unknown:
        return f"不应有字段 {'、'.join(unknown)}"
    missing = [k for k in SUSPICION_FIELDS if k not in suspicion]
    if missing:
        return f"缺少字段 {'、'.join(missing)}"
    for key in ("hit_id", "rule", "rule_name", "person", "evidence", "basis"):
        if not isinstance(suspicion[key], str) or not suspicion[key].strip():
            return f"的 {key} 应为非空文字"
    if suspicion["result"] not in SUSPICION_RESULTS:
        return f"的 result 应为 {' 或 '.join(SUSPICION_RESULTS)}"
    if suspicion["settlement_id"] is not None and not (isinstance(suspicion["settlement_id"], str)
                                                       and suspicion["settlement_id"].strip()):
        return "的 settlement_id 应为结算ID文字或 null"
    if not isinstance(suspicion["amount_yuan"], str) or not _MONEY.fullmatch(suspicion["amount_yuan"]):
        return "的 amount_yuan 应为两位小数的金额文字（如 1200.50）"
    if "date" in suspicion and "month" in suspicion:
        return "不应同时有 date 与 month"
    for key, pattern, shape in (("date", _DATE, "YYYY-MM-DD"), ("month", _MONTH, "YYYY-MM")):
        if key in suspicion and not (isinstance(suspicion[key], str) and pattern.fullmatch(suspicion[key])):
            return f"的 {key} 应为 {shape}"
    return None


def suspicions_problem(assignment: dict[str, Any]) -> str | None:
    """Why a signed assignment's `suspicions` cannot be used (None: they can, or it has none): a list of at most
    `MAX_SUSPICIONS` 疑点, each with the fields of `SUSPICION_FIELDS` and its date or month, hit ids unique."""
    suspicions = assignment.get("suspicions")
    if suspicions is None:
        return None
    where = f"检查任务 {assignment.get('id')} 的 suspicions"
    if not isinstance(suspicions, list) or len(suspicions) > MAX_SUSPICIONS:
        return f"{where} 应为至多 {MAX_SUSPICIONS} 项的列表"
    seen: set[str] = set()
    for index, suspicion in enumerate(suspicions):
        problem = _suspicion_problem(suspicion)
        if problem is not None:
            return f"{where}[{index}] {problem}"
        if suspicion["hit_id"] in seen:
            return f"{where}[{index}] 的 hit_id {suspicion['hit_id']} 重复"
        seen.add(suspicion["hit_id"])
    return None
