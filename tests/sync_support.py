"""Helpers for the sealed-sync tests: tablets enrolled in-process against a running bureau, filled inspections,
and a look at what the bureau holds."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import checklists
from bureau import enrollment
from bureau.blobs import read_blob
from bureau.db import make_engine
from bureau.models import LogLeaf, ReceivedRecord, StoredBlob
from inspector_app import device, keyring, onsite, outbox
from inspector_app.store import DeviceAssignment, open_store
from sync import record_schema
from yibao.commands.device_cmd import _new_inspection


def issue_token(settings, inspector: str) -> str:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            token = enrollment.issue_token(session, inspector, datetime.now(timezone.utc))
            session.commit()
    finally:
        engine.dispose()
    return token


@dataclass
class Tablet:
    home: Path
    engine: Engine
    identities: list


def enroll_tablet(bureau, home: Path, inspectors=("I0001", "I0002")) -> Tablet:
    engine = open_store(home)
    known = [device.enroll(engine, bureau.url, issue_token(bureau.settings, code)) for code in inspectors]
    return Tablet(home, engine, known)


def blob_bytes(seed: int, size: int) -> bytes:
    """`size` random bytes the bureau takes for the JPEG the tablet declares: they start with JPEG's magic bytes."""
    return b"\xff\xd8\xff" + random.Random(seed).randbytes(size - 3)


def fill_inspection(tablet: Tablet, photos: list[bytes] = (), assignment_index: int = 0, signers=None,
                    new: bool = False, pull: bool = True) -> str:
    """A complete inspection of one of the tablet's assignments, with `photos` as evidence, locked and queued.
    Returns the record id. `new`: another inspection even if the assignment has one (load runs)."""
    engine = tablet.engine
    if pull:
        device.pull_assignments(engine, tablet.identities[0])
    with Session(engine) as session:  # every assignment on the tablet, whichever of its inspectors pulled it last
        assignment = session.exec(select(DeviceAssignment).order_by(DeviceAssignment.seq)).all()[assignment_index]
    template = checklists.template_for_kind(assignment.institution_kind)
    if new or device.inspection_of(engine, assignment.id) is None:
        inspection = _new_inspection(engine, assignment, tablet.identities[0].inspector_code)
    else:
        inspection = device.inspection_of(engine, assignment.id)
    for item in template.items:
        device.save_answer(engine, inspection.id, item.id, "pass")
    evidence = []
    for number, data in enumerate(photos):
        path = tablet.home / "photos" / f"{hashlib.sha256(data).hexdigest()}.jpg"
        original = tablet.home / "originals" / path.name
        for target in (path, original):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        evidence.append(device.Evidence(template.items[number % len(template.items)].id,
                                        outbox.BlobSource.from_file(path, "image/jpeg", free_after_receipt=original)))
    key = next((s.data_key for s in signers or () if isinstance(s, keyring.Unlocked)), None)
    onsite.finish(engine, onsite.facts(engine, key, inspection.id), evidence, signers=signers)
    return inspection.id


def record_fields(assignment_id: str, institution_code: str, kind: str, team: list[str], device_id: str,
                  inspector_code: str, record_id: str, **fields: Any) -> dict[str, Any]:
    """A complete version-1 record's fields (`sync.record_schema`) for a headless inspection with every item
    passed, and `fields` on top: for tests that sign records by hand (`build_record` adds the blob manifest)."""
    template = checklists.template_for_kind(kind)
    return {
        "format": record_schema.FORMAT_V1, "record_id": record_id, "version": 1, "device_id": device_id,
        "assignment_id": assignment_id, "institution_code": institution_code,
        "institution": {"code": institution_code, "name": "", "kind": kind, "address": ""},
        "inspection_kind": "random", "team": list(team), "inspector_code": inspector_code,
        "template_id": template.id, "template_hash": template.hash, "checkin": None,
        "answers": {item.id: {"result": "pass", "note": "", "amount_yuan": None} for item in template.items},
        "photos": [], "findings": [], "score": {"value": "100.0", "critical": False},
        "created_at": "2026-01-01T00:00:00+00:00", "review_hash": "0" * 64, "signatures": [], "refusal": None,
        "locked_at": "2026-01-01T08:00:00+00:00", **fields}


@dataclass
class BureauHoldings:
    records: list[tuple[str, int]]
    log_size: int
    blobs: dict[str, int]  # sha256 -> size, each checked on disk against its hash


def bureau_holdings(settings) -> BureauHoldings:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            records = [(r.record_id, r.version) for r in session.exec(select(ReceivedRecord))]
            log_size = session.exec(select(func.count()).select_from(LogLeaf)).one()
            blobs = {b.sha256: b.size for b in session.exec(select(StoredBlob))}
    finally:
        engine.dispose()
    for sha256, size in blobs.items():
        data = read_blob(settings, sha256)
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha256
    return BureauHoldings(records, log_size, blobs)


def in_one_group(log, calls: list[Callable[[], object]]) -> list[object]:
    """Each call (an append through `log.in_group`, a `bureau.transparency.TransparencyLog`) from a thread of its own:
    the first leads and waits for the log's lock, held here until the others have queued behind it in this order, so
    that they make the groups that follow. Returns what each call returned or raised."""
    outcomes: list[object] = [None] * len(calls)

    def run(number: int) -> None:
        try:
            outcomes[number] = calls[number]()
        except Exception as exc:  # noqa: BLE001 - an error is an outcome the caller asserts
            outcomes[number] = exc

    def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, "the appenders never queued"
            time.sleep(0.002)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(len(calls))]
    with log.lock:
        threads[0].start()
        until(lambda: log._leading and not log._waiting)
        for number, thread in enumerate(threads[1:], start=1):
            thread.start()
            until(lambda: len(log._waiting) == number)  # noqa: B023 - waited for here, in this iteration
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes
