"""The device outbox: signed, sealed records and their blobs waiting for the bureau, kept in the device's own SQLite
file (its own SQLModel registry and ``outbox_*`` tables, created on the same engine: `sync` never imports the app).

How the app uses it, when the inspectors have signed and the record is locked::

    open_outbox(engine)                                    # once per process: creates the tables
    pin_bureau_keys(session, signing_b64, sealing_b64)     # at enrollment, from the bureau's answer
    blobs = [BlobSource.from_file(stored_jpeg, "image/jpeg", free_after_receipt=camera_original)]
    record = sync.envelope.build_record(fields, manifest(blobs))
    signatures = [sync.envelope.sign_record(content_hash(record), key, inspector) for ...]
    enqueue(session, record, signatures, blobs)            # in the transaction that locks the inspection; commit
    ...
    sync_protocol.run(engine, client)                      # whenever a link exists
    status(engine)                                         # what the inspector and `yibao device status` see

Rules it keeps:

* a record is sealed to the pinned bureau key when it is enqueued, so what waits on the tablet is unreadable to
  anyone but the bureau; ``(record_id, version)`` is enqueued once;
* a blob is read from `BlobSource.path` or, when that is None, from the ``load_blob(sha256)`` the app passes to
  the sync run (e.g. out of its encrypted store), and its hash is checked before it is sealed;
* nothing is deleted before the bureau's receipt for every record that names it has been verified and the bureau
  confirmed the whole blob: only then is `BlobSource.free_after_receipt` (e.g. the camera original) removed;
* a record the bureau refuses is set aside with its reason; the rest of the queue keeps moving.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, select

from sync.canonical import content_hash
from sync.envelope import seal_record, verify_receipt
from sync.errors import EnvelopeError, SealedSyncError
from sync.keys import sealing_public_from_b64, signing_public_from_b64


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class OutboxError(SealedSyncError):
    """A record or blob that cannot be enqueued (reason code, Chinese message)."""


class OutboxModel(SQLModel, registry=registry()):
    """Base of the outbox tables: their own metadata, apart from the app's and the bureau's."""


class BureauPin(OutboxModel, table=True):
    """The bureau keys this device trusts (one row), and where its pulls and log checks stand."""

    __tablename__ = "outbox_bureau_pin"
    id: int = Field(default=1, primary_key=True)
    signing_public: str  # base64 raw Ed25519: receipts, tree heads, rotations
    sealing_public: str  # base64 raw ML-KEM-768 + X25519: what records and blobs are sealed to
    retired_signing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    feed_cursor: int = 0  # corrections pulled up to here
    tree_head: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)


class OutboxRecord(OutboxModel, table=True):
    __tablename__ = "outbox_record"
    __table_args__ = (UniqueConstraint("record_id", "version"),)
    seq: Optional[int] = Field(default=None, primary_key=True)  # queue order
    record_id: str = Field(index=True)
    version: int
    record_hash: str
    assignment_id: str
    envelope: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="queued", index=True)  # queued | sent (receipt verified) | set_aside
    attempts: int = 0
    last_error: str = ""  # why the last attempt did not finish (network, unverifiable receipt)
    reason: str = ""  # set aside: the bureau's reason code ...
    message: str = ""  # ... and its message for the inspector
    receipt: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    enqueued_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None


class OutboxBlob(OutboxModel, table=True):
    __tablename__ = "outbox_blob"
    sha256: str = Field(primary_key=True)
    media_type: str
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    device_id: str
    source_path: Optional[str] = None  # None: the sync run's load_blob(sha256) provides the bytes
    free_after_receipt: Optional[str] = None
    state: str = Field(default="pending", index=True)  # pending | delivered | set_aside
    header: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    sealed_path: Optional[str] = None  # the sealed chunks, kept so an interrupted upload resumes, never restarts
    reason: str = ""
    message: str = ""
    delivered_at: Optional[datetime] = None
    released_at: Optional[datetime] = None


class OutboxBlobRef(OutboxModel, table=True):
    """Which records name which blobs (a blob may serve several, e.g. a correction keeps its photos)."""

    __tablename__ = "outbox_blob_ref"
    record_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    sha256: str = Field(primary_key=True, index=True)


class CorrectionNotice(OutboxModel, table=True):
    """A bureau request to correct a record, as pulled."""

    __tablename__ = "outbox_correction"
    id: str = Field(primary_key=True)
    record_id: str = Field(index=True)
    version: int
    assignment_id: str
    reason: str
    requested_at: str
    received_at: datetime = Field(default_factory=utcnow)


_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def open_outbox(engine: Engine) -> None:
    """Create the outbox tables on the device's engine (idempotent; cheap after the first call)."""
    if engine not in _ready:
        OutboxModel.metadata.create_all(engine)
        _ready.add(engine)


def spool_dir(engine: Engine) -> Path:
    """Where sealed copies of blobs wait while they upload: beside the device database."""
    database = engine.url.database
    assert database is not None  # the device database is a SQLite file (`store.open_store`)
    return Path(database).resolve().parent / "outbox-spool"


def pin_bureau_keys(session: Session, signing_b64: str, sealing_b64: str) -> None:
    """Pin the bureau's public keys as the enrollment answer gave them (the caller commits). A later enrollment
    that brings other keys replaces the pin, keeping the old signing key so its receipts still verify."""
    signing_public_from_b64(signing_b64)
    sealing_public_from_b64(sealing_b64)
    pin = session.get(BureauPin, 1)
    if pin is None:
        session.add(BureauPin(signing_public=signing_b64, sealing_public=sealing_b64))
        return
    if pin.signing_public != signing_b64:
        pin.retired_signing = [*pin.retired_signing, pin.signing_public]
    pin.signing_public, pin.sealing_public, pin.updated_at = signing_b64, sealing_b64, utcnow()
    session.add(pin)


@dataclass(frozen=True)
class BlobSource:
    """A blob for `enqueue`: its hash, size and media type, and where the bytes are."""

    sha256: str
    size: int
    media_type: str
    path: Path | None = None
    free_after_receipt: Path | None = None

    @classmethod
    def from_file(cls, path: Path, media_type: str, free_after_receipt: Path | None = None) -> BlobSource:
        data = Path(path).read_bytes()
        return cls(hashlib.sha256(data).hexdigest(), len(data), media_type, Path(path), free_after_receipt)


def manifest(blobs: Sequence[BlobSource]) -> list[dict[str, Any]]:
    """The record's blob manifest for `sync.envelope.build_record`."""
    return [{"sha256": b.sha256, "size": b.size, "media_type": b.media_type} for b in blobs]


def _check_sources(record: dict[str, Any], blobs: Sequence[BlobSource]) -> None:
    if sorted(map(str, manifest(blobs))) != sorted(map(str, record["blobs"])):
        raise OutboxError("manifest_mismatch", "附件与检查记录的附件清单不一致")
    for blob in blobs:
        if blob.path is None:
            continue
        try:
            data = blob.path.read_bytes()
        except OSError:
            raise OutboxError("blob_source_missing", f"找不到附件文件：{blob.path}") from None
        if len(data) != blob.size or hashlib.sha256(data).hexdigest() != blob.sha256:
            raise OutboxError("blob_corrupt", f"附件文件与其哈希不符：{blob.path}")


def enqueue(session: Session, record: dict[str, Any], signatures: Sequence[dict[str, str]],
            blobs: Sequence[BlobSource] = ()) -> OutboxRecord:
    """Seal a signed record to the pinned bureau key and queue it with its blobs (the caller commits, in the same
    transaction that locks the record). Raises OutboxError, or ValueError for a record `seal_record` refuses."""
    pin = session.get(BureauPin, 1)
    if pin is None:
        raise OutboxError("not_enrolled", "本设备尚未登记局端公钥，请先注册设备")
    _check_sources(record, blobs)
    key = (record.get("record_id"), record.get("version"))
    if session.exec(select(OutboxRecord).where(OutboxRecord.record_id == key[0],
                                               OutboxRecord.version == key[1])).first():
        raise OutboxError("already_enqueued", f"检查记录 {key[0]}（第 {key[1]} 版）已在发件箱中")
    envelope = seal_record(record, signatures, sealing_public_from_b64(pin.sealing_public))
    row = OutboxRecord(record_id=record["record_id"], version=record["version"], record_hash=content_hash(record),
                       assignment_id=record["assignment_id"], envelope=envelope)
    session.add(row)
    for blob in blobs:
        if session.get(OutboxBlob, blob.sha256) is None:
            session.add(OutboxBlob(sha256=blob.sha256, media_type=blob.media_type, size=blob.size,
                                   device_id=record["device_id"],
                                   source_path=str(blob.path) if blob.path else None,
                                   free_after_receipt=str(blob.free_after_receipt) if blob.free_after_receipt
                                   else None))
        session.add(OutboxBlobRef(record_id=record["record_id"], version=record["version"], sha256=blob.sha256))
    return row


def signing_keys(pin: BureauPin) -> list:
    """The pinned signing key first, then the ones it replaced (older receipts are signed by those)."""
    return [signing_public_from_b64(k) for k in (pin.signing_public, *reversed(pin.retired_signing))]


def receipt_verifies(pin: BureauPin, receipt: Any, record_hash: str, record_id: str) -> bool:
    for key in signing_keys(pin):
        try:
            verify_receipt(receipt, record_hash, key, record_id=record_id)
            return True
        except EnvelopeError:
            continue
    return False


@dataclass(frozen=True)
class OutboxStatus:
    outbox: int  # records waiting to be sent
    sent: int  # records the bureau accepted
    receipts_verified: int  # of those, receipts that verify now against the pinned keys
    blobs_total: int
    blobs_sent: int
    set_aside: int  # records the bureau refused
    blobs_set_aside: int
    set_aside_records: list[dict[str, Any]] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing left to send, and every receipt verified (set-aside items are not waiting: they need a person)."""
        return (self.outbox == 0 and self.blobs_sent + self.blobs_set_aside == self.blobs_total
                and self.receipts_verified == self.sent)

    def to_json(self) -> dict[str, Any]:
        return {"outbox": self.outbox, "sent": self.sent, "receipts_verified": self.receipts_verified,
                "blobs_total": self.blobs_total, "blobs_sent": self.blobs_sent, "set_aside": self.set_aside,
                "blobs_set_aside": self.blobs_set_aside, "set_aside_records": self.set_aside_records,
                "corrections": self.corrections}


def status(engine: Engine) -> OutboxStatus:
    open_outbox(engine)
    with Session(engine) as session:
        def count(model, *where) -> int:
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

        pin = session.get(BureauPin, 1)
        sent = list(session.exec(select(OutboxRecord).where(OutboxRecord.state == "sent")))
        verified = sum(1 for r in sent if pin and receipt_verifies(pin, r.receipt, r.record_hash, r.record_id))
        aside = session.exec(select(OutboxRecord).where(OutboxRecord.state == "set_aside")
                             .order_by(col(OutboxRecord.seq))).all()
        corrections = session.exec(select(CorrectionNotice).order_by(col(CorrectionNotice.received_at))).all()
        return OutboxStatus(
            outbox=count(OutboxRecord, OutboxRecord.state == "queued"), sent=len(sent), receipts_verified=verified,
            blobs_total=count(OutboxBlob), blobs_sent=count(OutboxBlob, OutboxBlob.state == "delivered"),
            set_aside=len(aside), blobs_set_aside=count(OutboxBlob, OutboxBlob.state == "set_aside"),
            set_aside_records=[{"record_id": r.record_id, "version": r.version, "reason": r.reason,
                                "message": r.message} for r in aside],
            corrections=[{"id": c.id, "record_id": c.record_id, "version": c.version, "reason": c.reason,
                          "requested_at": c.requested_at} for c in corrections])
