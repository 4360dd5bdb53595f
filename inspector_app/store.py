"""The tablet's own database: SQLite under the device home, WAL with synchronous=FULL so that every answer the
inspector saw saved survives a crash or a dead battery. Rules live in `onsite` and the view-models.

What the inspection holds that could identify people or describe violations (notes, amounts, check-in, photo
metadata, staff codes, signature strokes, a refusal) is kept in ``sealed`` columns: AES-GCM under the device data key,
each bound to its row (`inspector_app.vault` slots). Results (pass/fail/na) and photo hashes stay plain so that
progress can be shown and evidence files found without decrypting anything. ``secure_delete`` overwrites freed pages,
so a value replaced by its ciphertext (a signing key once its PIN is set) does not linger in the file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import JSON, Column, ColumnDefault, LargeBinary, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, create_engine, select


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DeviceModel(SQLModel, registry=registry()):
    """Base of the device tables: their own metadata, so a process that also opens the bureau never mixes schemas."""


class Identity(DeviceModel, table=True):
    """An inspector's enrolled signing identity on this tablet."""

    key_id: str = Field(primary_key=True)
    inspector_code: str = Field(index=True)
    device_id: str
    server_url: str
    private_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # b"" once PIN-wrapped (KeyringEntry)
    bureau_signing_key: str  # pinned at enrollment, base64 raw Ed25519
    assignment_cursor: int = 0
    enrolled_at: datetime = Field(default_factory=utcnow)


class DeviceAssignment(DeviceModel, table=True):
    id: str = Field(primary_key=True)
    inspector_code: str = Field(index=True)
    institution_code: str
    institution_name: str
    institution_kind: str
    institution_address: str = ""
    team: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str
    status: str
    revoked: bool = False
    seq: int
    signed: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # exactly as received, for re-verification
    # an assignment carrying 疑点 (`suspicions`, which name insured people) pulled with a data key at hand: the signed
    # assignment as received, sealed; `signed` then holds it without `suspicions`
    sealed: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class KeyringEntry(DeviceModel, table=True):
    """An inspector's PIN-wrapped data key and signing key (`vault.InspectorKeyEntry.to_dict()`), and the count of
    wrong PINs that the lockout is based on."""

    inspector_code: str = Field(primary_key=True)
    entry: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    failed_attempts: int = 0
    locked_until: Optional[datetime] = None
    updated_at: datetime = Field(default_factory=utcnow)


class Inspection(DeviceModel, table=True):
    """One version of an inspection record. A correction is a new row with the same ``record_id``, the next
    ``version``, the hash of the version it corrects and why."""

    id: str = Field(primary_key=True)
    assignment_id: str = Field(index=True)
    inspector_code: str
    template_id: str
    template_hash: str
    status: str = "draft"  # draft | finished | sent
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None
    record_id: Optional[str] = None  # None: the row's own id (first versions)
    version: int = 1
    previous_hash: Optional[str] = None
    correction_reason: str = ""
    key_signers: str = ""  # the inspectors whose own keys signed the locked version, comma-separated


class Answer(DeviceModel, table=True):
    inspection_id: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    result: str  # pass | fail | na
    note: str = ""  # plain only when saved without a data key (a headless tablet whose inspectors have no PIN)
    amount_yuan: Optional[str] = None
    sealed: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))  # {note, amount_yuan}
    updated_at: datetime = Field(default_factory=utcnow)


class SuspicionCheck(DeviceModel, table=True):
    """The inspector's verdict on one 疑点 of the assignment (属实 confirmed / 排除 excluded); note and amount sealed."""

    inspection_id: str = Field(primary_key=True)
    hit_id: str = Field(primary_key=True)
    verdict: str  # confirmed | excluded
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # {note, amount_yuan}
    updated_at: datetime = Field(default_factory=utcnow)


class CheckIn(DeviceModel, table=True):
    """到场登记: officers and the ID they showed, the institution's representative, time and place (sealed)."""

    inspection_id: str = Field(primary_key=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Photo(DeviceModel, table=True):
    """A photo attached to a checklist item (or to a refusal to sign). The files are in `EvidenceStore`, named by
    ``sha256`` (the evidence hash of the stored image); the row is written only after every file is durable."""

    id: str = Field(primary_key=True)
    inspection_id: str = Field(index=True)
    item_id: str  # a checklist item id, or "refusal"
    sha256: str = Field(index=True)
    size: int
    thumbnail_size: int
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # caption, capture time, GPS, source
    added_at: datetime = Field(default_factory=utcnow)


class FindingDetail(DeviceModel, table=True):
    """What a finding adds to its failed item: the responsible staff (医保医师/药师 codes), sealed."""

    inspection_id: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class SignatureStroke(DeviceModel, table=True):
    """One pen stroke of a signature, saved when the finger lifts (sealed points)."""

    inspection_id: str = Field(primary_key=True)
    role: str = Field(primary_key=True)  # inspector_1 | inspector_2 | representative | witness
    seq: int = Field(primary_key=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SignatureMark(DeviceModel, table=True):
    """A confirmed signature: who signed, on which pad, when, and the review hash of the content they were shown."""

    inspection_id: str = Field(primary_key=True)
    role: str = Field(primary_key=True)
    review_hash: str
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signed_at: datetime = Field(default_factory=utcnow)


class RefusalNote(DeviceModel, table=True):
    """拒签: the representative refused to sign; reason, witness, and the review hash it was recorded against."""

    inspection_id: str = Field(primary_key=True)
    review_hash: str
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow)


class RecordPart(DeviceModel, table=True):
    """A part of the 笔录 kept as one list (sealed): ``inquiries`` (询问), ``documents_taken`` (调取资料) or
    ``preservation`` (先行登记保存)."""

    inspection_id: str = Field(primary_key=True)
    part: str = Field(primary_key=True)
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


def _sqlite_durability(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _add_missing_columns(engine: Engine) -> None:
    """Bring a store made by an older version up to date: columns added since are appended (SQLite ADD COLUMN)."""
    existing = inspect(engine)
    with engine.begin() as connection:
        for table in DeviceModel.metadata.sorted_tables:
            have = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                given = column.default
                default = given.arg if isinstance(given, ColumnDefault) and given.is_scalar else None
                clause = "" if default is None else f" NOT NULL DEFAULT {default!r}"
                connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" '
                                        f"{column.type.compile(engine.dialect)}{clause}"))


def open_store(home: Path) -> Engine:
    home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{home / 'device.db'}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_durability)
    DeviceModel.metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def identities(engine: Engine) -> list[Identity]:
    with Session(engine) as session:
        return list(session.exec(select(Identity).order_by(col(Identity.enrolled_at))))
