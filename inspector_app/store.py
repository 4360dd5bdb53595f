"""The tablet's own database: SQLite under the device home, WAL with synchronous=FULL so that every answer the
inspector saw saved survives a crash or a dead battery. Rows are plain; rules live in the view-models."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import JSON, Column, LargeBinary, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, create_engine, select


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
    private_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
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


class Inspection(DeviceModel, table=True):
    id: str = Field(primary_key=True)
    assignment_id: str = Field(index=True)
    inspector_code: str
    template_id: str
    template_hash: str
    status: str = "draft"  # draft | finished | sent
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None


class Answer(DeviceModel, table=True):
    inspection_id: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    result: str  # pass | fail | na
    note: str = ""
    amount_yuan: Optional[str] = None
    updated_at: datetime = Field(default_factory=utcnow)


def _sqlite_durability(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_store(home: Path) -> Engine:
    home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{home / 'device.db'}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_durability)
    DeviceModel.metadata.create_all(engine)
    return engine


def identities(engine: Engine) -> list[Identity]:
    with Session(engine) as session:
        return list(session.exec(select(Identity).order_by(Identity.enrolled_at)))
