"""The device side of sealed sync: the outbox's rules, backoff, resumable blobs, key rotation, corrections, and the
log consistency check."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
import requests
from sqlmodel import Session, select

import checklists
from bureau import keystore, review
from bureau.db import make_engine
from inspector_app import device, keyring, onsite, outbox, sync_protocol
from inspector_app.inspector_vm import AppState, HomeViewModel
from inspector_app.store import DeviceAssignment, Identity, identities, open_store
from sync import keys
from sync.bureau_http import BureauUnreachable
from sync.envelope import build_record
from tests.support import PASSPHRASE, STAFF_PASSWORD, add_staff, serve_in_thread, stop
from tests.sync_support import (
    blob_bytes,
    bureau_holdings,
    enroll_tablet,
    fill_inspection,
)
from tests.test_onsite_support import PIN
from tests.test_review_support import CHECKIN, _fill, _sign, pin_tablet

FAST = sync_protocol.RetryPolicy(base=0.01, cap=0.05)
CHUNK = 16 * 1024


def test_backoff_is_exponential_with_full_jitter():
    policy, rng = sync_protocol.RetryPolicy(base=0.5, cap=30), random.Random(1)
    for failures in range(1, 12):
        delays = [policy.delay(failures, rng) for _ in range(200)]
        ceiling = min(30, 0.5 * 2 ** (failures - 1))
        assert all(0 <= d <= ceiling for d in delays) and max(delays) > ceiling * 0.8 and len(set(delays)) > 150


class Unreachable:
    def __getattr__(self, name):
        def fail(*args):
            raise BureauUnreachable("无法连接局端服务：测试")
        return fail


def test_no_link_retries_until_the_deadline_then_keeps_everything(tmp_path):
    engine = open_store(tmp_path / "tablet")
    outbox.open_outbox(engine)
    with Session(engine) as session:
        sealing = keys.SealingPrivateKey.generate().public_key()
        outbox.pin_bureau_keys(session, keys.public_key_to_b64(keys.generate_signing_key().public_key()),
                               keys.public_key_to_b64(sealing))
        session.commit()
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    report = sync_protocol.run(engine, Unreachable(), timeout=60, policy=sync_protocol.RetryPolicy(base=0.5, cap=8),
                          rng=random.Random(3), sleep=sleep, clock=lambda: now[0])
    assert report.reason == "timeout" and "稍后再同步" in report.error
    assert report.retries == len(slept) >= 8 and sum(slept) <= 60 and max(slept) <= 8


def test_outbox_rules(tmp_path):
    engine = open_store(tmp_path / "tablet")
    outbox.open_outbox(engine)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(blob_bytes(1, 1000))
    source = outbox.BlobSource.from_file(photo, "image/jpeg")
    fields = {"record_id": "rec-0001", "version": 1, "device_id": "tablet-0001", "assignment_id": "a-1",
              "institution_code": "P35010200001", "template_id": "pharmacy", "template_hash": "0" * 64,
              "answers": {}, "findings": [], "created_at": "2026-01-01T00:00:00+00:00"}
    record = build_record(fields, outbox.manifest([source]))
    signature = {"key_id": "a" * 32, "inspector": "I0001", "signature_b64": "AA=="}
    with Session(engine) as session:
        with pytest.raises(outbox.OutboxError) as caught:
            outbox.enqueue(session, record, [signature], [source])
        assert caught.value.reason_code == "not_enrolled"
        outbox.pin_bureau_keys(session, keys.public_key_to_b64(keys.generate_signing_key().public_key()),
                               keys.public_key_to_b64(keys.SealingPrivateKey.generate().public_key()))
        with pytest.raises(outbox.OutboxError) as caught:
            outbox.enqueue(session, record, [signature], [])
        assert caught.value.reason_code == "manifest_mismatch"
        photo.write_bytes(blob_bytes(2, 1000))
        with pytest.raises(outbox.OutboxError) as caught:
            outbox.enqueue(session, record, [signature], [source])
        assert caught.value.reason_code == "blob_corrupt"
        photo.write_bytes(blob_bytes(1, 1000))
        row = outbox.enqueue(session, record, [signature], [source])
        assert set(row.envelope) == {"format", "record_id", "device_id", "bureau_key_id", "ciphertext_b64"}
        assert "rec-0001" not in row.envelope["ciphertext_b64"]
        session.commit()
        with pytest.raises(outbox.OutboxError) as caught:
            outbox.enqueue(session, record, [signature], [source])
        assert caught.value.reason_code == "already_enqueued"
    status = outbox.status(engine).to_json()
    assert {k: status[k] for k in ("outbox", "sent", "receipts_verified", "blobs_total", "blobs_sent",
                                   "set_aside")} == {"outbox": 1, "sent": 0, "receipts_verified": 0,
                                                     "blobs_total": 1, "blobs_sent": 0, "set_aside": 0}


class Counting:
    """Passes everything on, counts chunk bytes, and can lose the answer to (or the whole of) chosen chunks."""

    def __init__(self, client, lose_answer_to=(), lose=(), die_after=None):
        self.client, self.lose_answer_to, self.lose, self.die_after = client, set(lose_answer_to), set(lose), die_after
        self.chunk_bytes = 0
        self.chunks_sent = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_blob_chunk(self, sha256, index, chunk):
        if self.die_after is not None and self.chunks_sent >= self.die_after:
            raise BureauUnreachable("电量耗尽")
        self.chunk_bytes += len(chunk)
        self.chunks_sent += 1
        if index in self.lose:
            self.lose.discard(index)
            raise BureauUnreachable("连接中断（请求未送达）")
        answer = self.client.put_blob_chunk(sha256, index, chunk)
        if index in self.lose_answer_to:
            self.lose_answer_to.discard(index)
            raise BureauUnreachable("连接中断（回答丢失）")
        return answer


def test_blob_uploads_resume_from_the_confirmed_offset(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    photo = blob_bytes(5, 10 * CHUNK + 123)
    fill_inspection(tablet, [photo])
    sealed_size = len(photo) + 16 * 11
    client = device.client_for(tablet.identities[0])

    # a cut on the way in (chunk 3 never arrives) and one on the way back (chunk 6 arrived, its answer lost)
    link = Counting(client, lose_answer_to={6}, lose={3})
    report = sync_protocol.run(tablet.engine, link, timeout=30, policy=FAST, chunk_size=CHUNK)
    assert report.blobs_sent == 1 and report.error is None
    assert link.chunk_bytes - sealed_size <= CHUNK + 16  # what was re-sent: the chunk lost on the way in

    # the tablet dies in the middle of the next photo; the next run continues, it does not start over
    fill_inspection(tablet, [blob_bytes(6, 10 * CHUNK + 7)], assignment_index=1)
    dying = Counting(client, die_after=4)
    report = sync_protocol.run(tablet.engine, dying, timeout=0.5, policy=FAST, chunk_size=CHUNK)
    assert report.reason == "timeout" and report.blobs_sent == 0 and dying.chunks_sent == 4
    assert list((tablet.home / "originals").glob("*"))  # the receipt is verified, but the blob is not all there
    resumed = Counting(client)
    report = sync_protocol.run(tablet.engine, resumed, timeout=30, policy=FAST, chunk_size=CHUNK)
    assert report.blobs_sent == 1 and resumed.chunks_sent == 11 - 4
    assert outbox.status(tablet.engine).empty and not list((tablet.home / "originals").glob("*"))
    assert len(bureau_holdings(running_bureau.settings).blobs) == 2


def test_key_rotation_corrections_and_old_receipts(seeded_bureau, tmp_path, operator_passphrase):
    bureau = serve_in_thread(seeded_bureau)
    try:
        tablet = enroll_tablet(bureau, tmp_path / "tablet", ("I0001",))
        before = fill_inspection(tablet)
        assert sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), policy=FAST).records_sent == 1
        queued_before_rotation = fill_inspection(tablet, assignment_index=1)  # sealed to the old key
    finally:
        stop(bureau.process)
    old_keys = keystore.open_keys(seeded_bureau, PASSPHRASE.encode())
    keystore.rotate_keys(seeded_bureau, PASSPHRASE.encode())
    engine = make_engine(seeded_bureau.database_url)
    with Session(engine) as session:
        review.request_correction(session, before, 1, "第 3 项金额有误", datetime.now(timezone.utc))
        session.commit()
    engine.dispose()
    bureau = serve_in_thread(seeded_bureau)
    with Session(tablet.engine) as session:  # the restarted bureau listens on another port
        for identity in session.exec(select(Identity)):
            identity.server_url = bureau.url
            session.add(identity)
        session.commit()
    tablet.identities = identities(tablet.engine)
    try:
        report = device.sync(tablet.engine, timeout=30, policy=FAST)
        assert report.error is None and report.keys_rotated == 1 and report.corrections == 1
        assert report.records_sent == 1  # sealed to the retired key: still opens
        new_keys = keystore.open_keys(seeded_bureau, PASSPHRASE.encode())
        with Session(tablet.engine) as session:
            pin = session.get(outbox.BureauPin, 1)
            assert pin.signing_public == keys.public_key_to_b64(new_keys.signing.public_key())
            assert pin.retired_signing == [keys.public_key_to_b64(old_keys.signing.public_key())]
            assert {i.bureau_signing_key for i in session.exec(select(Identity))} == {pin.signing_public}
            rows = {r.record_id: r for r in session.exec(select(outbox.OutboxRecord))}
        assert rows[queued_before_rotation].state == "sent"
        status = outbox.status(tablet.engine)
        assert status.receipts_verified == status.sent == 2  # the old receipt verifies under the retired key
        assert [(c["record_id"], c["reason"]) for c in status.corrections] == [(before, "第 3 项金额有误")]
        after = fill_inspection(tablet, new=True)
        with Session(tablet.engine) as session:
            envelope = session.exec(select(outbox.OutboxRecord).where(outbox.OutboxRecord.record_id == after)).one()
        assert envelope.envelope["bureau_key_id"] == keys.key_id(new_keys.sealing.public_key())
        assert device.sync(tablet.engine, timeout=30, policy=FAST).records_sent == 1
    finally:
        stop(bureau.process)


class ForkedLog:
    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def log_consistency(self, first, second):
        answer = self.client.log_consistency(first, second)
        return {**answer, "proof": ["22" * 32 for _ in answer["proof"]] or ["22" * 32]}


def test_a_rewritten_log_is_noticed(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    client = device.client_for(tablet.identities[0])
    for number in range(2):
        fill_inspection(tablet, assignment_index=number)
        report = sync_protocol.run(tablet.engine, client if number == 0 else ForkedLog(client), policy=FAST)
    assert report.reason == "log_inconsistent" and "请立即报告" in report.error
    fill_inspection(tablet, new=True)
    report = sync_protocol.run(tablet.engine, client, policy=FAST)  # the honest proof, from the head first checked
    assert report.error is None and outbox.status(tablet.engine).empty
    with Session(tablet.engine) as session:
        assert session.get(outbox.BureauPin, 1).tree_head["size"] == 3


def test_the_apps_sync_button_sends_encrypted_photos_and_a_run_without_them_only_defers_them(running_bureau,
                                                                                             tmp_path):
    """On-site photos are encrypted on the tablet, so the outbox reads them through the unlocked session. A run
    that cannot read them (a headless `device sync` on a PIN tablet) sets them aside; the app's next sync sends them."""
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    assignment = tablet.assignment("P35010200001")
    inspection = onsite.start_inspection(tablet.engine, assignment.id, "I0001")
    onsite.save_checkin(tablet.engine, tablet.first.data_key, inspection.id, CHECKIN)
    _fill(tablet, inspection.id, checklists.template_for_kind("pharmacy"), {"R-FEE-02": ("代刷", "100.00")}, {})
    _sign(tablet, inspection.id, onsite.SIGNING_ROLES)
    onsite.lock(tablet.engine, tablet.store, tablet.first.data_key, inspection.id, [tablet.first, tablet.second])
    photos = {p.sha256 for p in onsite.facts(tablet.engine, tablet.first.data_key, inspection.id).photos}
    assert photos

    with keyring.session([tablet.first, tablet.second]):
        blind = device.sync(tablet.engine, timeout=30)
    assert blind.records_sent == 1 and blind.blobs_set_aside == len(photos) and blind.blobs_sent == 0
    assert bureau_holdings(running_bureau.settings).blobs == {}

    state = AppState.open(tablet.home)
    assert state.unlock("I0001", PIN["I0001"]) == ""
    with state.session():
        message = HomeViewModel(state).sync()
    assert message.startswith(f"已同步 {len(photos)} 张照片"), message
    assert sorted(bureau_holdings(running_bureau.settings).blobs) == sorted(photos)
    assert outbox.status(tablet.engine).empty


def test_a_revoked_assignment_reaches_the_tablet_and_work_begun_on_it_stays_listed(running_bureau, tmp_path):
    add_staff(running_bureau.settings, "zhuren", "supervisor")
    add_staff(running_bureau.settings, "shenhe", "reviewer")
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    begun, untouched = tablet.assignment("P35010200001"), tablet.assignment("H35010200002")
    inspection = onsite.start_inspection(tablet.engine, begun.id, "I0001")
    onsite.save_answer(tablet.engine, tablet.first.data_key, inspection.id, "R-ID-01", "pass")

    def revoke(username: str, assignment_id: str, reason: str):
        token = requests.post(f"{running_bureau.url}/v1/staff/login",
                              json={"username": username, "password": STAFF_PASSWORD}, timeout=10).json()["token"]
        return requests.post(f"{running_bureau.url}/v1/assignments/{assignment_id}/revoke", json={"reason": reason},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert revoke("shenhe", begun.id, "回避").status_code == 403
    assert revoke("zhuren", begun.id, "").status_code == 422
    assert revoke("zhuren", "no-such-assignment", "回避").json()["detail"]["reason"] == "unknown_assignment"
    for assignment in (begun, untouched):
        answer = revoke("zhuren", assignment.id, "检查组成员 I0002 与该机构存在利益关系，申请回避")
        assert answer.status_code == 200 and answer.json()["revoked"] is True and answer.json()["status"] == "已撤回"
    assert revoke("zhuren", begun.id, "再次撤回").json()["detail"]["reason"] == "already_revoked"

    state = AppState.open(tablet.home)
    assert state.unlock("I0001", PIN["I0001"]) == ""
    home = HomeViewModel(state)
    home.refresh()  # pulls the re-signed assignments
    assert home.message == "" and not home.offline
    [card] = home.cards  # the untouched one is gone; the one with work on it stays, marked
    assert card.assignment_id == begun.id and card.status_label == "检查中 · 局端已撤回此任务"
    with Session(tablet.engine) as session:
        assert session.get(DeviceAssignment, untouched.id).revoked
