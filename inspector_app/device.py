"""The tablet's operations over its store and the bureau client: enroll, pull assignments, keep answers, push.

The view-models and the headless `yibao device …` commands both call these; nothing here knows about screens.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sync.assignments import assignment_signature_valid
from sync.client import BureauClient
from inspector_app.store import Answer, DeviceAssignment, Identity, Inspection, utcnow


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


def enroll(engine: Engine, server_url: str, token: str, client: BureauClient | None = None) -> Identity:
    key = Ed25519PrivateKey.generate()
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
    with Session(engine) as session:
        session.merge(identity)
        session.commit()
    return identity


def client_for(identity: Identity) -> BureauClient:
    return BureauClient(identity.server_url, Ed25519PrivateKey.from_private_bytes(identity.private_key), identity.key_id)


def pinned_bureau_key(identity: Identity) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(identity.bureau_signing_key))


def pull_assignments(engine: Engine, identity: Identity, client: BureauClient | None = None) -> PullResult:
    """Store every new or changed assignment whose bureau signature verifies; refuse the rest."""
    answer = (client or client_for(identity)).pull_assignments(identity.assignment_cursor)
    bureau_key = pinned_bureau_key(identity)
    received = refused = 0
    with Session(engine) as session:
        for item in answer["assignments"]:
            if not assignment_signature_valid(item, bureau_key):
                refused += 1
                continue
            institution = item["institution"]
            session.merge(DeviceAssignment(
                id=item["id"], inspector_code=identity.inspector_code, institution_code=item["institution_code"],
                institution_name=institution["name"], institution_kind=institution["kind"],
                institution_address=institution.get("address", ""), team=item["team"], reason=item["reason"],
                status=item["status"], revoked=item["revoked"], seq=item["seq"], signed=item,
            ))
            received += 1
        stored = session.get(Identity, identity.key_id)
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
            .order_by(DeviceAssignment.seq)
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


def finish(engine: Engine, inspection_id: str) -> None:
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
        if inspection.status == "draft":
            inspection.status = "finished"
            inspection.updated_at = utcnow()
            session.add(inspection)
            session.commit()


def record_of(engine: Engine, inspection_id: str) -> dict[str, Any]:
    """The plain JSON form of a finished inspection, as pushed to the bureau."""
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
        assignment = session.get(DeviceAssignment, inspection.assignment_id)
        rows = session.exec(select(Answer).where(Answer.inspection_id == inspection_id).order_by(Answer.item_id))
        return {
            "record_id": inspection.id,
            "assignment_id": inspection.assignment_id,
            "institution_code": assignment.institution_code,
            "inspector_code": inspection.inspector_code,
            "template_id": inspection.template_id,
            "template_hash": inspection.template_hash,
            "answers": {a.item_id: {"result": a.result, "note": a.note, "amount_yuan": a.amount_yuan} for a in rows},
            "finished_at": inspection.updated_at.replace(tzinfo=inspection.updated_at.tzinfo or timezone.utc).isoformat(),
        }


def push_finished(engine: Engine, identity: Identity, client: BureauClient | None = None) -> int:
    """Send every finished inspection; mark it sent only after the bureau acknowledged it."""
    client = client or client_for(identity)
    with Session(engine) as session:
        pending = list(session.exec(select(Inspection).where(Inspection.status == "finished",
                                                              Inspection.inspector_code == identity.inspector_code)))
    sent = 0
    for inspection in pending:
        client.submit(inspection.id, inspection.assignment_id, record_of(engine, inspection.id))
        with Session(engine) as session:
            row = session.get(Inspection, inspection.id)
            row.status, row.sent_at = "sent", datetime.now(timezone.utc)
            session.add(row)
            session.commit()
        sent += 1
    return sent
