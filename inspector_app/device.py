"""The tablet's operations over its store and the bureau client: enroll, pull assignments, keep answers, lock and
queue signed records, sync.

The view-models and the headless `yibao device …` commands both call these; nothing here knows about screens.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from inspector_app import keyring, outbox, sync_protocol, vault
from inspector_app.bureau_client import BureauClient
from inspector_app.store import (
    Answer,
    DeviceAssignment,
    Identity,
    Inspection,
    identities,
    utcnow,
)
from sync.assignments import assignment_signature_valid, members_problem, suspicions_problem
from sync.bureau_http import BureauRefused, BureauUnreachable
from sync.canonical import canonical_bytes, loads_canonical


class DeviceError(Exception):
    """Something the inspector must be told, in Chinese."""


@dataclass(frozen=True)
class PullResult:
    received: int
    refused: int  # assignments whose bureau signature did not verify


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def device_id_of(engine: Engine) -> str:
    """One tablet, one id: reuse the first identity's device id, else mint one."""
    with Session(engine) as session:
        first = session.exec(select(Identity)).first()
    return first.device_id if first else uuid.uuid4().hex


def enroll(engine: Engine, server_url: str, token: str, client: BureauClient | None = None, pin: str | None = None,
           data_key: vault.DataKey | None = None, *, scrypt_n: int = vault.SCRYPT_N) -> Identity:
    """Make this inspector's signing key, register it with the bureau and pin the bureau's keys. With `pin` the key
    is stored only PIN-wrapped (with the device data key: new on a fresh tablet, else `data_key` from an inspector
    who unlocked); without, it waits in the store for `keyring.set_pin`. `scrypt_n` is lowered only by tests whose
    subject is not the PIN's key derivation."""
    key = Ed25519PrivateKey.generate()
    if pin is not None and (problem := vault.pin_problem(pin)):
        raise DeviceError(problem)  # before the one-time token is spent
    if pin is not None and data_key is None and keyring.has_entries(engine):
        raise DeviceError("本机已有检查人员：请先由其输入 PIN 解锁，再添加新的检查人员")
    device_id = device_id_of(engine)
    client = client or BureauClient(server_url)
    answer = client.enroll(token, device_id, base64.b64encode(_raw_public(key)).decode())
    identity = Identity(
        key_id=answer["key_id"],
        inspector_code=answer["inspector_code"],
        device_id=device_id,
        server_url=server_url,
        private_key=key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption()),
        bureau_signing_key=answer["bureau_signing_key"],
    )
    outbox.open_outbox(engine)
    with Session(engine) as session:
        identity = session.merge(identity)
        if pin is not None:
            try:
                keyring.protect(session, identity, key, pin, data_key, scrypt_n=scrypt_n)
            except keyring.PinError as exc:
                raise DeviceError(str(exc)) from None
        outbox.pin_bureau_keys(session, answer["bureau_signing_key"], answer["bureau_sealing_key"])
        session.commit()
        session.refresh(identity)
        session.expunge(identity)
    return identity


def signing_key(identity: Identity | keyring.Unlocked) -> Ed25519PrivateKey:
    """The inspector's signing key: from an unlocked inspector, or one unlocked in the current `keyring.session`,
    or (an identity still without a PIN) from the store."""
    if isinstance(identity, keyring.Unlocked):
        return identity.signing_key
    unlocked = keyring.in_session(identity.inspector_code)
    if unlocked is not None and unlocked.identity.key_id == identity.key_id:
        return unlocked.signing_key
    if identity.private_key:
        return Ed25519PrivateKey.from_private_bytes(identity.private_key)
    raise DeviceError(f"检查人员 {identity.inspector_code} 须先输入 PIN 解锁才能签名或联系局端")


def client_for(identity: Identity | keyring.Unlocked) -> BureauClient:
    stored = identity.identity if isinstance(identity, keyring.Unlocked) else identity
    return BureauClient(stored.server_url, signing_key(identity), stored.key_id)


def pinned_bureau_key(identity: Identity) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(identity.bureau_signing_key))


def assignment_slot(assignment_id: str) -> vault.Slot:
    return vault.Slot("assignment", (assignment_id,))


def stored_assignment(item: dict[str, Any], data_key: vault.DataKey | None) -> tuple[dict[str, Any], bytes | None]:
    """(`signed`, `sealed`) of a received assignment: one carrying 疑点 is sealed whole when a data key is at hand,
    and `signed` keeps the rest; otherwise (a headless tablet whose inspectors have no PIN) it stays as received."""
    if "suspicions" not in item or data_key is None:
        return item, None
    rest = {k: v for k, v in item.items() if k != "suspicions"}
    return rest, vault.encrypt_content(data_key, canonical_bytes(item), assignment_slot(item["id"]))


def suspicions_of(assignment: DeviceAssignment, data_key: vault.DataKey | None) -> list[dict[str, Any]]:
    """The 疑点 the bureau signed into the assignment, in its order (empty: none)."""
    if assignment.sealed is None:
        return list((assignment.signed or {}).get("suspicions") or [])
    if data_key is None:
        raise DeviceError("请先输入 PIN 解锁：检查任务的疑点清单已加密保存")
    signed = loads_canonical(vault.decrypt_content(data_key, assignment.sealed, assignment_slot(assignment.id)))
    return list(signed["suspicions"])


def pull_assignments(engine: Engine, identity: Identity, client: BureauClient | None = None,
                     data_key: vault.DataKey | None = None) -> PullResult:
    """Store every new or changed assignment whose bureau signature verifies (and whose members, if named, are its
    team, and whose 疑点, if any, have their shape); refuse the rest. 疑点 are sealed with `data_key`
    (`stored_assignment`)."""
    answer = (client or client_for(identity)).pull_assignments(identity.assignment_cursor)
    bureau_key = pinned_bureau_key(identity)
    received = refused = 0
    with Session(engine) as session:
        for item in answer["assignments"]:
            if not assignment_signature_valid(item, bureau_key) or members_problem(item) or suspicions_problem(item):
                refused += 1
                continue
            institution = item["institution"]
            signed, sealed = stored_assignment(item, data_key)
            session.merge(DeviceAssignment(
                id=item["id"], inspector_code=identity.inspector_code, institution_code=item["institution_code"],
                institution_name=institution["name"], institution_kind=institution["kind"],
                institution_address=institution.get("address", ""), team=item["team"], reason=item["reason"],
                status=item["status"], revoked=item["revoked"], seq=item["seq"], signed=signed, sealed=sealed,
            ))
            received += 1
        stored = session.get(Identity, identity.key_id)
        assert stored is not None  # `identity` was read from this store; identities are never deleted
        stored.assignment_cursor = max(stored.assignment_cursor, answer["cursor"])
        session.add(stored)
        session.commit()
        identity.assignment_cursor = stored.assignment_cursor
    return PullResult(received=received, refused=refused)


def assignments(engine: Engine, inspector_code: str) -> list[DeviceAssignment]:
    with Session(engine) as session:
        return list(session.exec(
            select(DeviceAssignment)
            .where(DeviceAssignment.inspector_code == inspector_code, DeviceAssignment.revoked == False)  # noqa: E712
            .order_by(col(DeviceAssignment.seq))
        ))


def assignment(engine: Engine, assignment_id: str) -> DeviceAssignment:
    with Session(engine) as session:
        found = session.get(DeviceAssignment, assignment_id)
    if found is None:
        raise DeviceError("本机没有这项检查任务")
    return found


def inspection_of(engine: Engine, assignment_id: str) -> Inspection | None:
    with Session(engine) as session:
        return session.exec(select(Inspection).where(Inspection.assignment_id == assignment_id)).first()


def open_inspection(engine: Engine, assignment_id: str, inspector_code: str, template_id: str,
                    template_hash: str) -> Inspection:
    """The inspection of this assignment, created on first open with the template pinned by hash."""
    found = inspection_of(engine, assignment_id)
    if found is not None:
        return found
    with Session(engine) as session:
        inspection = Inspection(id=str(uuid.uuid4()), assignment_id=assignment_id, inspector_code=inspector_code,
                                template_id=template_id, template_hash=template_hash)
        session.add(inspection)
        session.commit()
        session.refresh(inspection)
        return inspection


def save_answer(engine: Engine, inspection_id: str, item_id: str, result: str, note: str = "",
                amount_yuan: str | None = None) -> None:
    """Durable on return (WAL + synchronous=FULL): what the screen shows as saved is on disk."""
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
        if inspection is None:
            raise DeviceError("检查记录不存在")
        if inspection.status != "draft":
            raise DeviceError("检查记录已完成，不能再修改")
        session.merge(Answer(inspection_id=inspection_id, item_id=item_id, result=result, note=note,
                             amount_yuan=amount_yuan, updated_at=utcnow()))
        inspection.updated_at = utcnow()
        session.add(inspection)
        session.commit()


def answers_of(engine: Engine, inspection_id: str) -> dict[str, Answer]:
    with Session(engine) as session:
        return {a.item_id: a for a in session.exec(select(Answer).where(Answer.inspection_id == inspection_id))}


class ListedAssignment(NamedTuple):
    """What the task list needs of an assignment."""

    id: str
    institution_name: str
    institution_code: str
    institution_kind: str
    institution_address: str
    team: list[str]
    revoked: bool


def listed_assignments(engine: Engine) -> list[ListedAssignment]:
    """Every stored assignment in the bureau's order, as the task list needs it: plain columns (not the signed copy),
    read without building a model object each, which costs several times the query with 1,000 stored."""
    query = sa_select(*(getattr(DeviceAssignment, name) for name in ListedAssignment._fields)) \
        .order_by(col(DeviceAssignment.seq))
    with engine.connect() as connection:
        return [ListedAssignment(*row) for row in connection.execute(query)]


@dataclass(frozen=True)
class InspectionSummary:
    """What the task list shows of an assignment's current inspection."""

    status: str
    version: int
    answered: int


def current_inspections(engine: Engine) -> dict[str, InspectionSummary]:
    """Assignment id → its current inspection (the newest version of the newest, as `onsite.current_inspection`
    picks it) with its count of answers: one grouped query, however many inspections the tablet holds."""
    query = (select(Inspection.assignment_id, Inspection.status, Inspection.version, func.count(col(Answer.item_id)))
             .join(Answer, col(Answer.inspection_id) == col(Inspection.id), isouter=True)
             .group_by(col(Inspection.id))
             .order_by(col(Inspection.version), col(Inspection.created_at)))
    with Session(engine) as session:
        rows = session.exec(query).all()
    return {assignment_id: InspectionSummary(status, version, answered)  # the newest comes last, and stays
            for assignment_id, status, version, answered in rows}


@dataclass(frozen=True)
class Evidence:
    """A photo (or other blob) attached to a checklist item of an inspection."""

    item_id: str
    blob: outbox.BlobSource


def sync(engine: Engine, timeout: float = 60.0, **options: Any) -> sync_protocol.SyncReport:
    """Send the outbox (`sync_protocol.run`, `options` passed on: `progress` to hear how far it is, `cancel` to stop
    it safely, `load_blob`, ...), mark inspections sent once their receipts verified, follow bureau key rotations
    into every identity's pin, then — unless the run stopped early (cancelled included) — pull the assignments of each
    inspector whose key is at hand (unlocked, or a headless identity without a PIN)."""
    known = identities(engine)
    if not known:
        raise DeviceError("本设备尚未注册检查人员")
    report = sync_protocol.run(engine, client_for(known[0]), timeout=timeout, **options)
    with Session(engine) as session:
        pin = session.get(outbox.BureauPin, 1)
        sent = set(session.exec(select(outbox.OutboxRecord.record_id, outbox.OutboxRecord.version)
                                .where(outbox.OutboxRecord.state == "sent")).all())
        for inspection in session.exec(select(Inspection).where(Inspection.status == "finished")):
            if (inspection.record_id or inspection.id, inspection.version) in sent:
                inspection.status, inspection.sent_at = "sent", utcnow()
                session.add(inspection)
        for identity in session.exec(select(Identity)):
            if pin is not None and identity.bureau_signing_key != pin.signing_public:
                identity.bureau_signing_key = pin.signing_public
                session.add(identity)
        session.commit()
    if report.error is None:
        for identity in identities(engine):
            try:
                client = client_for(identity)
            except DeviceError:  # an inspector who has not unlocked: their tasks come when they do
                continue
            unlocked = keyring.in_session(identity.inspector_code)
            try:
                pull_assignments(engine, identity, client, unlocked.data_key if unlocked else None)
            except (BureauUnreachable, BureauRefused) as exc:
                report.error, report.reason = f"任务更新失败：{exc}", "assignments_pull_failed"
                break
    return report
