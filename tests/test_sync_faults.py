"""Fault injection: tablets sync through a link that cuts connections at random byte offsets, delays, and duplicates
requests. Afterwards the bureau holds every record and every blob exactly once, and every outbox is empty."""

from __future__ import annotations

import hashlib
import random
from urllib.parse import urlparse

from inspector_app import device, outbox, sync_protocol
from inspector_app.bureau_client import BureauClient
from tests.sync_proxy import FaultProxy
from tests.sync_support import (
    blob_bytes,
    bureau_holdings,
    enroll_tablet,
    fill_inspection,
)

FAST_RETRY = sync_protocol.RetryPolicy(base=0.02, cap=0.3)
CHUNK = 16 * 1024  # small chunks, so a photo is several of them and cuts land inside uploads


def test_exactly_once_through_a_faulty_link(running_bureau, tmp_path):
    seeds = range(20) if running_bureau.settings.database_url.startswith("sqlite") else range(8)
    upstream = urlparse(running_bureau.url)
    expected_records, expected_blobs = [], set()
    totals = {"cuts": 0, "duplicates": 0, "delays": 0, "retries": 0}
    for seed in seeds:
        tablet = enroll_tablet(running_bureau, tmp_path / f"tablet-{seed}")
        for number in range(2):
            photos = [blob_bytes(seed * 100 + number * 10 + k, 30_000 + 7_000 * k) for k in range(2)]
            expected_blobs.update(hashlib.sha256(photo).hexdigest() for photo in photos)
            expected_records.append((fill_inspection(tablet, photos, assignment_index=number, new=True), 1))
        identity = tablet.identities[0]
        with FaultProxy((upstream.hostname, upstream.port), seed, cut=0.2, delay=0.2, duplicate=0.2,
                        max_delay=0.1) as proxy:
            client = BureauClient(proxy.url, device.signing_key(identity), identity.key_id, timeout=(2, 10))
            report = sync_protocol.run(tablet.engine, client, timeout=90, policy=FAST_RETRY, chunk_size=CHUNK,
                                  rng=random.Random(seed))
        assert report.error is None, (seed, report)
        status = outbox.status(tablet.engine)
        assert status.empty and status.outbox == 0 and status.set_aside == 0, (seed, status)
        assert status.sent == status.receipts_verified == 2 and status.blobs_sent == status.blobs_total == 4
        assert not list((tablet.home / "originals").iterdir())  # freed, and only after verified receipts
        totals["cuts"] += proxy.cuts
        totals["duplicates"] += proxy.duplicates
        totals["delays"] += proxy.delays
        totals["retries"] += report.retries
        tablet.engine.dispose()
    print(f"\nfault injection over {len(seeds)} seeds: {totals}")
    assert totals["cuts"] and totals["duplicates"] and totals["retries"]

    held = bureau_holdings(running_bureau.settings)
    assert sorted(held.records) == sorted(expected_records)  # every record, none twice
    assert held.log_size == len(expected_records)
    assert set(held.blobs) == expected_blobs
    leftovers = list((running_bureau.settings.data_dir / "uploads").glob("*.part"))
    assert leftovers == []
