"""Bureau tables. Plain rows only: the rules that act on them live in pure modules (draw, scoring, penalties)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
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
    # the team as the registry named it when issued: [{inspector_code, name, badge_no}], signed; [] before v2
    members: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str = "random"  # random | followup | manual
    status: str = "已下达"
    issued_at: datetime = Field(default_factory=utcnow)
    due_date: Optional[date] = None
    revoked: bool = False
    revoked_at: Optional[datetime] = None
    revoked_by: str = ""
    revoked_reason: str = ""
    seq: int = Field(default=0, index=True)
    signature: str = ""  # bureau Ed25519 signature over the canonical assignment (base64)
    screening_run_id: Optional[str] = None  # the screening run whose hits it carries as 疑点 (the latest at issue)


class AssignmentMember(SQLModel, table=True):
    """Team membership, so a device's pull is a plain indexed query."""

    assignment_id: str = Field(primary_key=True)
    inspector_code: str = Field(primary_key=True, index=True)


class Counter(SQLModel, table=True):
    """Named monotonic counters (e.g. the assignment change sequence)."""

    name: str = Field(primary_key=True)
    value: int = 0


class BureauSetting(SQLModel, table=True):
    """The bureau's own settings, one row each, which every node reads alike (e.g. `agency_name`, the issuing
    agency printed on the 决定书 and the 一公开 page)."""

    key: str = Field(primary_key=True)
    value: str


class ScreeningRun(SQLModel, table=True):
    """One 智能监控 screening run (`yibao screen run`): its rules and their versions, digests of what it read and of
    what it found, and each institution's risk, so a later draw can weight institutions by it."""

    id: str = Field(primary_key=True)  # uuid4 hex
    ran_at: datetime = Field(index=True)
    rules: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [{"id", "version", "result"}]
    input_digest: str  # SHA-256 of the imported claims files' digests and the knowledge base
    result_digest: str  # SHA-256 of the result file's hits and institutions
    hits: int
    risk: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [{"code", "risk_score", "hits", "amount_yuan"}]


class ScreeningHit(SQLModel, table=True):
    """One hit of a screening run, as the result file has it: what an assignment carries to the tablet as a 疑点 and
    what the inspector's verdict (属实/排除) is counted against. `hit_id` is "<run id>-<seq>", unique and stable."""

    hit_id: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    seq: int
    rule: str = Field(index=True)
    settlement_id: Optional[str] = None  # null for a person-month rule
    institution_code: str = Field(index=True)
    person: str  # 参保人ID
    day: Optional[str] = None  # YYYY-MM-DD for a line or settlement rule
    month: Optional[str] = None  # YYYY-MM for a person-month rule
    amount_yuan: str
    evidence: str


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


# ---- Sealed sync: received records and blobs, the transparency log (bureau/ingest.py, bureau/transparency.py) ---


class ReceivedRecord(SQLModel, table=True):
    """An accepted inspection record, exactly as signed (a correction is a new version, never an edit)."""

    record_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    record_hash: str
    previous_hash: Optional[str] = None
    device_id: str = Field(index=True)
    assignment_id: str = Field(index=True)
    institution_code: str = Field(index=True)
    template_pin: str  # "template id@hash" the answers were given against
    signers: list[str] = Field(sa_column=Column(JSON, nullable=False))  # inspector codes
    signatures: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sealed_bytes: int  # size of the envelope as received
    score_claimed: Optional[str] = None  # what the tablet showed (decimal string)
    score_computed: Optional[str] = None  # recomputed here from the raw answers with the pinned template
    critical: bool = False
    score_mismatch: bool = False
    log_index: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    received_at: datetime = Field(default_factory=utcnow)


class RecordBlob(SQLModel, table=True):
    """A record's blob manifest: which blobs the record names (and so which uploads the bureau expects)."""

    record_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    sha256: str = Field(primary_key=True, index=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    media_type: str


class StoredBlob(SQLModel, table=True):
    """A blob held under `<data>/blobs/`, content-addressed: one file per hash however many records name it."""

    sha256: str = Field(primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    media_type: str
    stored_at: datetime = Field(default_factory=utcnow)


class BlobUpload(SQLModel, table=True):
    """A resumable upload in progress: the sealed header and how many chunks are durably received."""

    sha256: str = Field(primary_key=True)
    device_id: str = Field(primary_key=True)
    header: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_chunks: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class Rejection(SQLModel, table=True):
    """A refused record or blob, with its reason code (the device shows the reason to the inspector)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    device_id: str = Field(index=True)
    subject: str  # record id or blob hash
    reason: str
    message: str
    received_at: datetime = Field(default_factory=utcnow)


class LogLeaf(SQLModel, table=True):
    """The merkle log, one row per accepted record version (RFC 6962 leaf hash over record id and hash)."""

    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record_id: str
    version: int
    leaf_hash: str  # hex
    appended_at: datetime = Field(default_factory=utcnow)


class SignedTreeHead(SQLModel, table=True):
    """Every tree head the bureau signed (one per size), so a receipt can be given again unchanged."""

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: str  # hex
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))  # ms since the epoch
    signature: str  # base64 Ed25519


class CorrectionRequest(SQLModel, table=True):
    """A reviewer's request that the inspectors send a corrected version; devices pull these by `seq`."""

    id: str = Field(primary_key=True)
    record_id: str = Field(index=True)
    version: int  # the version to be corrected
    assignment_id: str = Field(index=True)
    reason: str
    status: str = "open"  # open | answered
    requested_at: datetime = Field(default_factory=utcnow)
    seq: int = Field(default=0, index=True)


# ---- Review, decisions, ledgers (bureau/review.py, bureau/decisions.py; the ledgers are derived from decisions) --


class ReviewCase(SQLModel, table=True):
    """Where the review of one inspection record stands, over all its versions (a corrected version moves the case
    to it). Changed only together with a `ReviewEvent` that says who, when and why."""

    record_id: str = Field(primary_key=True)
    version: int  # the version under review
    institution_code: str = Field(index=True)
    status: str = Field(index=True)  # bureau.review.STATUSES
    findings: int = 0  # failed items of the version under review
    inspected_on: Optional[date] = None  # the day the record was locked on site
    events: int = 0  # audit events so far: the next event's seq
    last_event_hash: str = ""
    statement_deadline: Optional[date] = None  # 陈述申辩 期限
    statement_text: str = ""
    statement_waived: bool = False
    statement_received_at: Optional[datetime] = None
    attachment_sha256: Optional[str] = None  # the institution's written statement, under <data>/statements/
    attachment_name: str = ""
    filed_on: Optional[date] = Field(default=None, index=True)  # 立案 approved: the 90-day clock (行政处罚法 Art. 60)
    procedure: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # bureau.procedure
    updated_at: datetime = Field(default_factory=utcnow)


class CasePayment(SQLModel, table=True):
    """A payment under an issued decision, per payee: 退回 to the fund's account, 罚款 and 加处罚款 to the treasury
    (bureau.procedure.dues). Recorded together with its audit event."""

    id: Optional[int] = Field(default=None, primary_key=True)
    record_id: str = Field(index=True)
    kind: str  # 退回 | 罚款 | 加处罚款
    payee: str
    amount_yuan: str
    paid_on: date
    reference: str = ""  # the bank's or treasury's voucher number
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class ReviewEvent(SQLModel, table=True):
    """The append-only audit log of a case: every transition and every change of a proposal. Each event's hash
    covers the previous one's (`bureau.review.event_hash`), so an edited or deleted event shows."""

    __table_args__ = (UniqueConstraint("record_id", "seq"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    record_id: str = Field(index=True)
    seq: int
    version: int
    action: str
    from_status: Optional[str] = None
    to_status: str
    actor: str  # staff username, or "system" for the bureau itself (ingest, 一公开)
    actor_role: str
    at: datetime
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str
    event_hash: str


class Decision(SQLModel, table=True):
    """The handling of one record: a draft (拟处理) until issued; issued decisions feed the ledgers, and a decision
    withdrawn on 复议 reverses what it fed. `outcome` no_violation: closed without findings, no 决定书."""

    record_id: str = Field(primary_key=True)
    version: int
    record_hash: str
    institution_code: str = Field(index=True)
    outcome: str = "handled"  # handled | no_violation
    status: str = Field(default="draft", index=True)  # draft | issued | withdrawn
    doc_kind: str = ""  # 行政处理 | 协议处理
    case_flags: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    proposal: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    measures: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recover_yuan: str = "0.00"
    fine_yuan: Optional[str] = None
    fine_reason: str = ""
    suspension_months: Optional[int] = None
    terminate_agreement: bool = False
    rectification_due: Optional[date] = None
    rectification_order_id: Optional[int] = None
    institution_points: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    person_points: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    drafted_by: str = ""
    drafted_at: datetime = Field(default_factory=utcnow)
    decision_no: Optional[str] = Field(default=None, unique=True)
    decided_by: Optional[str] = None
    decided_at: Optional[datetime] = Field(default=None, index=True)
    withdrawn_by: Optional[str] = None
    withdrawn_at: Optional[datetime] = None
    withdrawn_reason: str = ""


class Disclosure(SQLModel, table=True):
    """One 一公开 export: the period, the log's tree head it was made against, and a hash of what it published.
    Later exports prove their log extends every earlier published tree head."""

    id: Optional[int] = Field(default=None, primary_key=True)
    period: str = Field(index=True)
    published_at: datetime = Field(default_factory=utcnow)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_root: str
    content_sha256: str
    draws: int = 0
    outcomes: int = 0


# ---- Signed device requests (bureau/enrollment.py, bureau/api/deps.py) ----------------------------------------


class RequestNonce(SQLModel, table=True):
    """A signed device request's nonce, kept while its time is inside the clock window: the same key and nonce a
    second time is a replay. Rows older than the window are pruned (`bureau.enrollment.remember_nonce`)."""

    key_id: str = Field(primary_key=True)
    nonce: str = Field(primary_key=True)
    signed_at: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))  # the request's signed time (s)
