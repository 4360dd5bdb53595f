"""Bureau tables. Plain rows only: the rules that act on them live in pure modules (draw, scoring, penalties)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---- 名录库 (registries) ------------------------------------------------------------------------------------


class Institution(SQLModel, table=True):
    """检查对象名录库: a designated medical institution or retail pharmacy."""

    code: str = Field(primary_key=True, max_length=12)  # 定点医药机构编码, ^[HP]\d{11}$
    name: str
    kind: str = Field(index=True)  # hospital | primary | private | pharmacy
    region: str = Field(index=True, max_length=6)  # GB/T 2260 区划代码
    credit_code: str = Field(max_length=18)  # 统一社会信用代码
    address: str = ""
    risk_score: Optional[int] = None  # 风险分 0–100
    last_inspected: Optional[date] = None
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class Inspector(SQLModel, table=True):
    """执法检查人员名录库."""

    code: str = Field(primary_key=True)  # 人员编号
    name: str
    badge_no: str  # 执法证号
    region: str = Field(max_length=6)
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class Conflict(SQLModel, table=True):
    """A registered conflict of interest: the inspector is recused from the institution (行政处罚法 Art. 43)."""

    __table_args__ = (UniqueConstraint("inspector_code", "institution_code"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    inspector_code: str = Field(index=True)
    institution_code: str = Field(index=True)
    reason: str = ""
    active: bool = True  # a pair dropped from the re-imported list is deactivated, never deleted


class RegistryImport(SQLModel, table=True):
    """One successful import of a registry file (failed imports write nothing)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # institutions | inspectors | conflicts
    source_name: str
    source_sha256: str
    rows: int
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    imported_at: datetime = Field(default_factory=utcnow)


class RegistryChange(SQLModel, table=True):
    """History: every row an import created, changed, deactivated or reactivated, with its values before and after."""

    id: Optional[int] = Field(default=None, primary_key=True)
    import_id: int = Field(index=True)
    kind: str
    code: str = Field(index=True)  # 机构编码, 人员编号, or "人员编号/机构编码" for a conflict
    change: str  # created | updated | deactivated | reactivated
    before: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))


class RectificationOrder(SQLModel, table=True):
    """整改通知: while open (closed_at is empty) the institution is a 回头看 follow-up in the next draw."""

    id: Optional[int] = Field(default=None, primary_key=True)
    institution_code: str = Field(index=True)
    ordered_at: date
    due_date: Optional[date] = None
    closed_at: Optional[datetime] = None
    note: str = ""


class DrawCommitment(SQLModel, table=True):
    """The published commitment to a plan and a registry snapshot, made before the public random values exist."""

    plan_id: str = Field(primary_key=True)
    plan_hash: str
    registry_hash: str
    commitment_hash: str
    plan: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # as committed, without public_random
    committed_at: datetime = Field(default_factory=utcnow)


class DrawRecord(SQLModel, table=True):
    """A draw that issued assignments; its transcript is what 一公开 publishes."""

    plan_id: str = Field(primary_key=True)
    transcript_hash: str
    selected: int
    transcript: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    drawn_at: datetime = Field(default_factory=utcnow)


# ---- Assignments --------------------------------------------------------------------------------------------


class Assignment(SQLModel, table=True):
    """One inspection of one institution by one team, as issued to the devices.

    `seq` grows on every change so devices can pull "everything since my cursor".
    """

    id: str = Field(primary_key=True)
    plan_id: str = Field(index=True)
    institution_code: str = Field(index=True)
    team: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str = "random"  # random | followup | manual
    status: str = "已下达"
    issued_at: datetime = Field(default_factory=utcnow)
    due_date: Optional[date] = None
    revoked: bool = False
    seq: int = Field(default=0, index=True)
    signature: str = ""  # bureau Ed25519 signature over the canonical assignment (base64)


class AssignmentMember(SQLModel, table=True):
    """Team membership, so a device's pull is a plain indexed query."""

    assignment_id: str = Field(primary_key=True)
    inspector_code: str = Field(primary_key=True, index=True)


# ---- Received inspections (plain JSON until sealed sync lands) ------------------------------------------------


class Submission(SQLModel, table=True):
    id: str = Field(primary_key=True)  # the inspection's record id
    assignment_id: str = Field(index=True)
    inspector_code: str
    content_hash: str
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class Counter(SQLModel, table=True):
    """Named monotonic counters (e.g. the assignment change sequence)."""

    name: str = Field(primary_key=True)
    value: int = 0


# ---- Devices --------------------------------------------------------------------------------------------------


class EnrollToken(SQLModel, table=True):
    """A one-time enrollment token. Only its hash is stored; it is spent by the first key that uses it."""

    token_hash: str = Field(primary_key=True)
    inspector_code: str = Field(index=True)
    expires_at: datetime
    used_by_key_id: Optional[str] = None


class DeviceKey(SQLModel, table=True):
    """One inspector's signing identity on one tablet (two inspectors sharing a tablet have two)."""

    key_id: str = Field(primary_key=True)
    device_id: str = Field(index=True)
    inspector_code: str = Field(index=True)
    public_key: str  # raw Ed25519 public key, base64
    status: str = "active"  # active | revoked
    enrolled_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None
    revoked_reason: str = ""


# ---- Bureau staff --------------------------------------------------------------------------------------------


class StaffAccount(SQLModel, table=True):
    username: str = Field(primary_key=True)
    name: str
    role: str  # supervisor | reviewer | admin
    password_hash: str
    inspector_code: Optional[str] = None  # set when the person also inspects (a reviewer cannot decide their own)
    active: bool = True
    failed_logins: int = 0
    locked_until: Optional[datetime] = None


class StaffSession(SQLModel, table=True):
    token_hash: str = Field(primary_key=True)
    username: str = Field(index=True)
    expires_at: datetime
