"""Sealed-sync benchmark: what a sync costs on the wire, what a cut costs, and how fast the bureau ingests.

Run: .venv/bin/python bench/bench_sync.py [--photos K] [--records N] [--no-postgres]

(a) wire bytes ÷ payload bytes for one photo-heavy inspection (K camera-like JPEGs through the photo pipeline),
    synced through a counting proxy in front of a real `yibao serve`: every byte both ways, HTTP headers, pull,
    receipts and the log check included. Payload = the record's canonical JSON + the photos. Target <= 1.03.
(b) bytes re-sent after the link is cut in the middle of a chunk upload (a ~2 MB photo, 256 KiB chunks): the
    device asks the bureau where to continue. Target <= one chunk.
(c) bureau ingest, in process, on SQLite and PostgreSQL: records/s and MB/s for `ingest.accept_record` (HPKE open,
    two signature checks, policy, rescoring, merkle append + signed tree head, commit) and MB/s for blob chunks
    (`ingest.put_chunk`: AES-GCM open, durable append, final hash), each against a floor measured in the same run
    on the same database and disk: a bare insert of the same bytes plus their SHA-256, committed per record; and a
    bare durable append of the same chunks plus their SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import Column, MetaData, String, Table, Text, insert
from sqlmodel import Session, select

import checklists
from bureau import enrollment, ingest, keystore
from bureau.db import make_engine
from bureau.models import Assignment, DeviceKey, ReceivedRecord, RecordBlob
from bureau.settings import BureauSettings
from bureau.transparency import TransparencyLog
from inspector_app import device, outbox, sync_protocol
from inspector_app.bureau_client import BureauClient
from inspector_app.photos import process_photo
from inspector_app.store import open_store
from sync import keys
from sync.canonical import canonical_bytes, content_hash
from sync.envelope import DEFAULT_CHUNK_SIZE, build_record, seal_blob_chunks, seal_record, sign_record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, when run as a script
from tests.conftest import _fresh_pg_schema_url, _postgres_unavailable_reason  # noqa: E402
from tests.support import PASSPHRASE, init_bureau, seed_small, start_bureau, stop  # noqa: E402
from tests.sync_proxy import Fate, FaultProxy  # noqa: E402
from tests.sync_support import Tablet, blob_bytes, fill_inspection, issue_token, record_fields  # noqa: E402
from yibao.commands.device_cmd import _camera_jpeg  # noqa: E402

WIRE_TARGET = 1.03


def _bureau(root: Path, url: str | None = None) -> BureauSettings:
    settings = BureauSettings(root / "bureau", url or f"sqlite:///{root / 'bureau' / 'bureau.db'}")
    init_bureau(settings)
    seed_small(settings)
    return settings


def _tablet(bureau, home: Path) -> Tablet:
    engine = open_store(home)
    return Tablet(home, engine, [device.enroll(engine, bureau.url, issue_token(bureau.settings, code))
                                 for code in ("I0001", "I0002")])


def wire_ratio(root: Path, photos: int) -> None:
    bureau = start_bureau(_bureau(root / "a"))
    try:
        tablet = _tablet(bureau, root / "a" / "tablet")
        rng = random.Random(1)
        images = [process_photo(_camera_jpeg(rng, datetime.now(timezone.utc)), caption="bench").stored_jpeg
                  for _ in range(photos)]
        fill_inspection(tablet, images)
        with Session(tablet.engine) as session:
            row = session.exec(select(outbox.OutboxRecord)).one()
        record_bytes = len(canonical_bytes(row.envelope))  # sealed; the canonical record itself is a few bytes less
        payload = record_bytes + sum(map(len, images))
        upstream = urlparse(bureau.url)
        with FaultProxy((upstream.hostname, upstream.port)) as proxy:
            identity = tablet.identities[0]
            report = sync_protocol.run(tablet.engine, BureauClient(proxy.url, device.signing_key(identity),
                                                              identity.key_id))
        assert report.error is None and report.blobs_sent == photos
        wire = proxy.bytes_up + proxy.bytes_down
        print(f"(a) wire: {photos} photos, payload {payload / 1e6:.2f} MB (record {record_bytes} B), wire up "
              f"{proxy.bytes_up} B + down {proxy.bytes_down} B -> ratio {wire / payload:.4f} "
              f"(target <= {WIRE_TARGET})")
    finally:
        stop(bureau.process)


class ChunkCounter:
    def __init__(self, client):
        self.client, self.chunk_bytes = client, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_blob_chunk(self, sha256, index, chunk):
        self.chunk_bytes += len(chunk)
        return self.client.put_blob_chunk(sha256, index, chunk)


def resent_after_cut(root: Path) -> None:
    bureau = start_bureau(_bureau(root / "b"))
    try:
        tablet = _tablet(bureau, root / "b" / "tablet")
        photo = blob_bytes(2, 2 * 1024 * 1024 + 12345)  # JPEG magic first: the bureau sniffs what it stores
        fill_inspection(tablet, [photo])
        cut = {"done": False}

        def decide(request: bytes) -> Fate:
            if not cut["done"] and b"/chunks/3 " in request.split(b"\r\n", 1)[0]:
                cut["done"] = True
                return Fate(cut_request_at=len(request) // 2)
            return Fate()

        upstream = urlparse(bureau.url)
        with FaultProxy((upstream.hostname, upstream.port), decide=decide) as proxy:
            identity = tablet.identities[0]
            counter = ChunkCounter(BureauClient(proxy.url, device.signing_key(identity), identity.key_id))
            report = sync_protocol.run(tablet.engine, counter, policy=sync_protocol.RetryPolicy(base=0.05, cap=0.2))
        assert report.error is None and report.blobs_sent == 1 and cut["done"]
        chunks = -(-len(photo) // DEFAULT_CHUNK_SIZE)
        sealed = len(photo) + 16 * chunks
        resent = counter.chunk_bytes - sealed
        print(f"(b) cut inside chunk 3 of {chunks}: sealed blob {sealed} B, chunk bytes sent {counter.chunk_bytes} B, "
              f"re-sent {resent} B = {resent / (DEFAULT_CHUNK_SIZE + 16):.2f} chunk (target <= 1)")
    finally:
        stop(bureau.process)


def _envelopes(settings: BureauSettings, count: int) -> tuple[DeviceKey, list[tuple[str, dict]]]:
    """`count` sealed, doubly signed records for the seeded assignments, from one enrolled tablet."""
    engine = make_engine(settings.database_url)
    bureau_keys = keystore.open_keys(settings, PASSPHRASE.encode())
    signers = [(code, keys.generate_signing_key()) for code in ("I0001", "I0002")]
    with Session(engine) as session:
        rows = []
        for code, key in signers:
            token = enrollment.issue_token(session, code, datetime.now(timezone.utc))
            rows.append(enrollment.enroll(session, token, "bench-tablet-01", keys.public_key_to_b64(key.public_key()),
                                          datetime.now(timezone.utc)))
        session.commit()
        assignments = session.exec(select(Assignment).order_by(Assignment.seq)).all()
        sender = session.get(DeviceKey, rows[0].key_id)
        session.expunge(sender)
    engine.dispose()
    out = []
    for number in range(count):
        assignment = assignments[number % len(assignments)]
        kind = "pharmacy" if assignment.institution_code.startswith("P") else "primary"
        template = checklists.template_for_kind(kind)
        record = build_record(record_fields(
            assignment.id, assignment.institution_code, kind, assignment.team, "bench-tablet-01", "I0001",
            f"bench-{number:06d}", answers={item.id: {"result": "pass", "note": "现场核查无异常", "amount_yuan": None}
                                           for item in template.items}), [])
        record_hash = content_hash(record)
        out.append((record["record_id"], seal_record(record, [sign_record(record_hash, key, code)
                                                              for code, key in signers],
                                                     bureau_keys.sealing.public_key())))
    return sender, out


def ingest_rate(root: Path, url: str | None, label: str, records: int) -> None:
    settings = _bureau(root, url)
    sender, envelopes = _envelopes(settings, records)
    bureau_keys = keystore.open_keys(settings, PASSPHRASE.encode())
    engine = make_engine(settings.database_url)
    log = TransparencyLog(engine, bureau_keys.signing)
    log.load()
    sizes = [len(canonical_bytes(envelope)) for _, envelope in envelopes]
    start = time.perf_counter()
    with Session(engine) as session:
        for record_id, envelope in envelopes:
            ingest.accept_record(session, bureau_keys, log, envelope, record_id=record_id, device=sender,
                                 now=datetime.now(timezone.utc))
    ingest_s = time.perf_counter() - start

    floor_table = Table("bench_floor", MetaData(), Column("id", String(64), primary_key=True), Column("body", Text),
                        Column("sha256", String(64)))
    floor_table.create(engine)
    texts = [(record_id, canonical_bytes(envelope).decode()) for record_id, envelope in envelopes]
    start = time.perf_counter()
    for record_id, text in texts:
        with engine.begin() as conn:
            conn.execute(insert(floor_table).values(id=record_id, body=text,
                                                    sha256=hashlib.sha256(text.encode()).hexdigest()))
    floor_s = time.perf_counter() - start
    mb = sum(sizes) / 1e6
    print(f"(c) ingest [{label}]: {records} records ({mb / records * 1e3:.1f} kB sealed each) in {ingest_s:.2f} s = "
          f"{records / ingest_s:.0f} records/s, {mb / ingest_s:.2f} MB/s; floor (insert + hash) "
          f"{records / floor_s:.0f} records/s, {mb / floor_s:.2f} MB/s -> ratio {ingest_s / floor_s:.1f}x the floor")

    # blobs: the sealed chunks of 8 one-MB photos named by an accepted record
    photos = [blob_bytes(number, 1024 * 1024) for number in range(8)]
    manifest = [{"sha256": hashlib.sha256(p).hexdigest(), "size": len(p), "media_type": "image/jpeg"} for p in photos]
    engine_rows = make_engine(settings.database_url)
    with Session(engine_rows) as session:
        anchor = session.exec(select(ReceivedRecord)).first()
        for blob in manifest:
            session.add(RecordBlob(record_id=anchor.record_id, version=1, **blob))
        session.commit()
    engine_rows.dispose()
    sealed = [seal_blob_chunks(p, bureau_keys.sealing.public_key(), m["sha256"], "bench-tablet-01")
              for p, m in zip(photos, manifest)]
    start = time.perf_counter()
    with Session(engine) as session:
        for (header, chunks), blob in zip(sealed, manifest):
            ingest.start_blob(session, settings, bureau_keys, sender, blob["sha256"], header,
                              datetime.now(timezone.utc))
            for index, chunk in enumerate(chunks):
                ingest.put_chunk(session, settings, bureau_keys, sender, blob["sha256"], index, chunk,
                                 datetime.now(timezone.utc))
    blob_s = time.perf_counter() - start
    floor_dir = root / "floor"
    floor_dir.mkdir()
    start = time.perf_counter()
    for number, (_header, chunks) in enumerate(sealed):
        digest = hashlib.sha256()
        with open(floor_dir / f"{number}.bin", "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
                digest.update(chunk)
    blob_floor_s = time.perf_counter() - start
    total = sum(map(len, photos)) / 1e6
    print(f"    blobs [{label}]: {total:.1f} MB in {blob_s:.2f} s = {total / blob_s:.1f} MB/s; floor (durable append + "
          f"hash) {total / blob_floor_s:.1f} MB/s -> ratio {blob_s / blob_floor_s:.1f}x the floor")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(keystore.PASSPHRASE_ENV, PASSPHRASE)
    root = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        wire_ratio(root, args.photos)
        resent_after_cut(root)
        ingest_rate(root / "sqlite", None, "SQLite", args.records)
        reason = "--no-postgres" if args.no_postgres else _postgres_unavailable_reason()
        if reason:
            print(f"(c) ingest [PostgreSQL]: skipped ({reason})")
        else:
            urls = _fresh_pg_schema_url()
            try:
                ingest_rate(root / "postgres", next(urls), "PostgreSQL", args.records)
            finally:
                next(urls, None)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
