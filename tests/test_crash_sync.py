"""Kill -9 the bureau (`yibao serve`) and the tablet's `yibao device sync` at random moments of a sync, on SQLite and
PostgreSQL, then restart and sync again: every record and photo is stored exactly once, the log adds up
(`yibao bureau verify-log` exits 0), and the tablet lost nothing (its outbox empties, every receipt verified).

The tablet queues signed inspections with photos (several 256 KiB chunks each), a batch per run. Each run starts a
sync and kills the server and the sync, each after its own seeded random delay within how long an uninterrupted sync
of one batch took; the server is started again at once on the same port (a sync still running retries and carries
on). A last sync must then get everything through."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session, col, func, select

from bureau import ingest, keystore
from bureau.api import create_app
from bureau.blobs import blob_path, part_path
from bureau.db import make_engine
from bureau.models import BlobUpload
from bureau.service import open_bureau, open_keys
from bureau.settings import BureauSettings
from inspector_app import device, outbox, sync_protocol
from inspector_app.store import DeviceAssignment, Inspection, open_store
from tests.support import (
    PASSPHRASE,
    YIBAO,
    RunningBureau,
    child_env,
    free_port,
    run_cli,
    serve_in_interpreter,
    wait_for_http,
)
from tests.sync_support import Tablet, blob_bytes, bureau_holdings, enroll_tablet, fill_inspection
from yibao.commands.device_cmd import fill_demo_inspection

RUNS = int(os.environ.get("YIBAO_SYNC_CRASH_RUNS", "4"))
SEED = 20261202
RECORDS, PHOTOS = 2, 2  # a batch: records, and photos each
FINISH_BLOB = ingest._finish_blob


def serve(settings: BureauSettings, port: int) -> subprocess.Popen:
    return serve_in_interpreter(settings, port, log_name="crash-bureau")


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(30)


def bureau_cli(settings: BureauSettings, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, "--db", settings.database_url, "--data", str(settings.data_dir))


def queue_inspections(tablet: Tablet, batches: int, seed: int) -> None:
    """`batches` batches of signed inspections with photos, as `yibao device demo-inspections` makes them."""
    device.pull_assignments(tablet.engine, tablet.identities[0])
    with Session(tablet.engine) as session:
        assignments = session.exec(select(DeviceAssignment).order_by(col(DeviceAssignment.seq))).all()
    rng = random.Random(seed)
    for number in range(RECORDS * batches):
        fill_demo_inspection(tablet.engine, tablet.home, assignments[number % len(assignments)], "I0001", PHOTOS, rng)


def sync(home: Path) -> subprocess.Popen:
    return subprocess.Popen([*YIBAO, "device", "sync", "--home", str(home), "--timeout", "120"], env=child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_kill_minus_nine_of_bureau_and_sync_stores_everything_once(seeded_bureau, tmp_path):
    settings, port = seeded_bureau, free_port()
    server = serve(settings, port)
    seen: Counter[str] = Counter()
    try:
        tablet = enroll_tablet(RunningBureau(f"http://127.0.0.1:{port}", settings, server), tmp_path / "tablet")
        queue_inspections(tablet, 1, seed=0)
        started = time.monotonic()
        assert sync(tablet.home).wait(180) == 0
        window = time.monotonic() - started  # an uninterrupted sync of one batch, start-up included
        queue_inspections(tablet, RUNS, seed=1)
        tablet.engine.dispose()

        rng = random.Random(SEED)
        for _ in range(RUNS):
            syncing = sync(tablet.home)
            began = time.monotonic()
            for at, victim in sorted((rng.uniform(0.0, window), victim) for victim in ("server", "sync")):
                time.sleep(max(0.0, began + at - time.monotonic()))
                seen[f"{victim} {'while syncing' if syncing.poll() is None else 'after the sync ended'}"] += 1
                if victim == "sync":
                    kill(syncing)
                else:
                    kill(server)
                    server = serve(settings, port)  # a sync still running retries and carries on
        run_cli("device", "sync", "--home", str(tablet.home), "--timeout", "120")  # 0 only when all is through
    finally:
        kill(server)
    print(f"\n{RUNS} runs, each killing the bureau and the sync within a {window:.2f} s sync: {dict(seen)}")

    records = RECORDS * (RUNS + 1)
    engine = open_store(tablet.home)
    status = outbox.status(engine).to_json()
    assert (status["outbox"], status["set_aside"], status["blobs_set_aside"]) == (0, 0, 0), status
    assert status["sent"] == status["receipts_verified"] == records, status
    assert status["blobs_sent"] == status["blobs_total"] == records * PHOTOS, status
    with Session(engine) as session:
        made = {(row.record_id or row.id, row.version) for row in session.exec(select(Inspection))}
    engine.dispose()

    held = bureau_holdings(settings)  # every stored blob on disk, hashing to its name
    assert sorted(held.records) == sorted(made) and held.log_size == len(made) == records
    assert len(held.blobs) == status["blobs_total"]
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(BlobUpload)).one() == 0
    engine.dispose()
    assert not [p for p in (settings.data_dir / "uploads").glob("*") if p.is_file()]
    report = json.loads(bureau_cli(settings, "bureau", "verify-log", "--json").stdout)
    assert report == {"ok": True, "log_size": records, "tree_heads": report["tree_heads"], "records": records,
                      "problems": []}


def test_a_blob_moved_into_place_whose_commit_was_lost_is_sent_again(seeded_bureau, tmp_path, monkeypatch):
    """The one moment of a blob upload a kill seldom hits: the finished file is in the content-addressed store but the
    database never learned it (the upload still counts one chunk less, the part file is gone). The tablet's next sync
    must get the blob stored, once."""
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)
    bureau = open_bureau(seeded_bureau)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(seeded_bureau, bureau.engine, open_keys(seeded_bureau)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/v1/health")
        tablet = enroll_tablet(RunningBureau(url, seeded_bureau, None), tmp_path / "tablet")
        photo = blob_bytes(7, 600_000)
        fill_inspection(tablet, [photo])

        def killed_before_commit(session, settings, upload, opener, media_type, now):
            target = blob_path(settings, upload.sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part_path(settings, upload.sha256, upload.device_id), target)
            raise RuntimeError("kill -9")

        monkeypatch.setattr(ingest, "_finish_blob", killed_before_commit)
        report = device.sync(tablet.engine, timeout=3, policy=sync_protocol.RetryPolicy(base=0.05, cap=0.2))
        assert report.error is not None and report.records_sent == 1
        sha256 = hashlib.sha256(photo).hexdigest()
        assert blob_path(seeded_bureau, sha256).exists() and bureau_holdings(seeded_bureau).blobs == {}

        monkeypatch.setattr(ingest, "_finish_blob", FINISH_BLOB)
        report = device.sync(tablet.engine, timeout=30, policy=sync_protocol.RetryPolicy(base=0.05, cap=0.2))
        assert report.error is None, report
        assert outbox.status(tablet.engine).empty
        assert bureau_holdings(seeded_bureau).blobs == {sha256: len(photo)}
        with Session(bureau.engine) as session:
            assert session.exec(select(func.count()).select_from(BlobUpload)).one() == 0
        tablet.engine.dispose()
    finally:
        server.should_exit = True
        thread.join(30)
        bureau.engine.dispose()
