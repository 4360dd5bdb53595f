"""The command-line contract of sealed sync: enroll, demo-inspections, status, sync, bureau stats, revoke-device,
revoke-assignment."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from bureau.db import make_engine
from bureau.models import Assignment
from tests.support import run_cli

STATUS_KEYS = {"outbox", "sent", "receipts_verified", "blobs_total", "blobs_sent", "set_aside"}
STATS_KEYS = {"records", "blobs", "blob_bytes", "rejected", "duplicates_ignored", "log_size"}


def test_demo_inspections_sync_status_and_stats(running_bureau, tmp_path):
    home = str(tmp_path / "tablet")
    for inspector in ("I0001", "I0002"):
        token = running_bureau.cli("bureau", "enroll-token", "--inspector", inspector).stdout.strip().splitlines()[-1]
        run_cli("device", "enroll", "--home", home, "--server", running_bureau.url, "--token", token)
    run_cli("device", "demo-inspections", "--home", home, "--n", "3", "--photos", "2", "--seed", "1")
    before = json.loads(run_cli("device", "status", "--home", home, "--json").stdout)
    assert STATUS_KEYS <= set(before)
    assert {k: before[k] for k in STATUS_KEYS} == {"outbox": 3, "sent": 0, "receipts_verified": 0, "blobs_total": 6,
                                                   "blobs_sent": 0, "set_aside": 0}
    photos = list((tmp_path / "tablet" / "photos").glob("*.jpg"))
    assert len(photos) == 6 and all(300_000 <= p.stat().st_size <= 1_100_000 for p in photos)

    synced = run_cli("device", "sync", "--home", home, "--timeout", "60")
    after = json.loads(run_cli("device", "status", "--home", home, "--json").stdout)
    assert {k: after[k] for k in STATUS_KEYS} == {"outbox": 0, "sent": 3, "receipts_verified": 3, "blobs_total": 6,
                                                  "blobs_sent": 6, "set_aside": 0}
    assert json.loads(synced.stdout)["this_run"]["released"] == 6
    assert not list((tmp_path / "tablet" / "originals").iterdir())  # originals freed after verified receipts
    stats = json.loads(running_bureau.cli("bureau", "stats", "--json").stdout)
    assert set(stats) == STATS_KEYS
    assert stats["records"] == stats["log_size"] == 3 and stats["blobs"] == 6 and stats["rejected"] == 0
    assert stats["blob_bytes"] == sum(p.stat().st_size for p in photos)
    assert run_cli("device", "sync", "--home", home).returncode == 0  # nothing left: still success

    device_id = after["device_id"]
    running_bureau.cli("bureau", "revoke-device", "--device", device_id, "--reason", "平板遗失")
    run_cli("device", "demo-inspections", "--home", home, "--n", "1", "--photos", "0")
    refused = run_cli("device", "sync", "--home", home, "--timeout", "10", check=False)
    assert refused.returncode == 1 and "平板遗失" in refused.stderr
    assert json.loads(run_cli("device", "status", "--home", home, "--json").stdout)["outbox"] == 1


def test_device_commands_on_an_empty_home(tmp_path):
    for args in (("status", "--json"), ("sync",), ("demo-inspections", "--n", "1")):
        result = run_cli("device", *args, "--home", str(tmp_path / "nothing"), check=False)
        assert result.returncode == 1 and "yibao device enroll" in result.stderr and "Traceback" not in result.stderr


def test_revoke_assignment_reaches_the_device(running_bureau, tmp_path):
    home = str(tmp_path / "tablet")
    token = running_bureau.cli("bureau", "enroll-token", "--inspector", "I0001").stdout.strip().splitlines()[-1]
    run_cli("device", "enroll", "--home", home, "--server", running_bureau.url, "--token", token)
    run_cli("device", "sync", "--home", home)
    assert json.loads(run_cli("device", "status", "--home", home, "--json").stdout)["assignments"] == 2
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        first = session.exec(select(Assignment.id).order_by(Assignment.seq)).first()
    engine.dispose()
    assert running_bureau.cli("bureau", "revoke-assignment", first, "--reason", " ", check=False).returncode == 1
    revoked = json.loads(running_bureau.cli("bureau", "revoke-assignment", first, "--reason", "检查组成员回避").stdout)
    assert revoked["revoked"] is True and revoked["id"] == first
    again = running_bureau.cli("bureau", "revoke-assignment", first, "--reason", "再次", check=False)
    assert again.returncode == 1 and "已于" in again.stderr
    run_cli("device", "sync", "--home", home)
    assert json.loads(run_cli("device", "status", "--home", home, "--json").stdout)["assignments"] == 1
