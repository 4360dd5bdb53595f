"""The merkle log never diverges from what is stored (SQLite, then PostgreSQL): a failure inside the transaction that
appends a record rolls back the record, its leaf and its tree head together and drops the cached tree, so the next
record gets the next index and a receipt that verifies; a record holding a control character is refused before
anything is stored; `yibao bureau verify-log` (with the keys rotated since) and server start name the first index of a tampered
log."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from functools import partial

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DataError
from sqlmodel import Session, select

from bureau import ingest, keystore, review, transparency
from bureau.db import make_engine
from bureau.models import DeviceKey, LogLeaf, Rejection, ReviewCase
from inspector_app import device, outbox, sync_protocol
from inspector_app.store import DeviceAssignment
from sync.bureau_http import BureauRefused
from sync.canonical import content_hash
from sync.envelope import build_record, seal_record, sign_record, verify_receipt
from sync.keys import sealing_public_from_b64
from tests.support import PASSPHRASE, run_cli, start_bureau, stop
from tests.sync_support import (
    Tablet,
    bureau_holdings,
    enroll_tablet,
    fill_inspection,
    in_one_group,
    record_fields,
)

FAST = sync_protocol.RetryPolicy(base=0.01, cap=0.1)


def queued(tablet) -> list[outbox.OutboxRecord]:
    with Session(tablet.engine) as session:
        return list(session.exec(select(outbox.OutboxRecord).order_by(outbox.OutboxRecord.seq)))


def sealed_record(tablet, record_id: str, **fields) -> tuple[dict, str]:
    """A complete record for the tablet's first assignment with `fields` on top, signed by its first inspector and
    sealed to the bureau, as a tablet would send it: (envelope, record hash)."""
    signer = tablet.identities[0]
    with Session(tablet.engine) as session:
        assignment = session.exec(select(DeviceAssignment).order_by(DeviceAssignment.seq)).first()
        sealing = session.get(outbox.BureauPin, 1).sealing_public
    record = build_record(record_fields(assignment.id, assignment.institution_code, assignment.institution_kind,
                                        assignment.team, signer.device_id, signer.inspector_code, record_id,
                                        **fields), [])
    record_hash = content_hash(record)
    signature = sign_record(record_hash, device.signing_key(signer), signer.inspector_code)
    return seal_record(record, [signature], sealing_public_from_b64(sealing)), record_hash


class InProcess:
    """A second bureau process on the running bureau's database, in this one, so a failure can be forced inside
    its transaction."""

    def __init__(self, bureau, key_id: str):
        self.keys = keystore.open_keys(bureau.settings, PASSPHRASE.encode())
        self.engine = make_engine(bureau.settings.database_url)
        self.log = transparency.TransparencyLog(self.engine, self.keys.signing)
        self.key_id = key_id

    def accept(self, envelope: dict, record_id: str) -> ingest.RecordAccepted:
        with Session(self.engine) as session:
            sender = session.get(DeviceKey, self.key_id)
            return ingest.accept_record(session, self.keys, self.log, envelope, record_id=record_id, device=sender,
                                        now=datetime.now(timezone.utc))

    def report(self) -> transparency.LogReport:
        with Session(self.engine) as session:
            return transparency.check(session, [self.keys.signing.public_key()])

    def assert_log_holds(self, records: int) -> None:
        """The log checks out and holds exactly `records` records, a leaf each."""
        report = self.report()
        assert report.ok and report.log_size == report.records == records, report.summary()

    def verified(self, accepted: ingest.RecordAccepted, record_hash: str, index: int) -> None:
        assert accepted.receipt["log_index"] == index and accepted.receipt["tree_head"]["size"] == index + 1
        verify_receipt(accepted.receipt, record_hash, self.keys.signing.public_key())


def raise_after_flush(session, received, now) -> None:
    session.flush()  # the record, its leaf and its tree head are in the database, uncommitted
    raise RuntimeError("forced failure inside the transaction")


def conflict_at_autoflush(session, received, now) -> None:
    session.add(LogLeaf(leaf_index=0, record_id="x", version=1, leaf_hash="00" * 32))  # leaf 0 exists: this conflicts
    session.exec(select(ReviewCase)).all()  # ... when this query autoflushes it, not at commit


@pytest.mark.parametrize("failure", [raise_after_flush, conflict_at_autoflush])
def test_a_failure_inside_the_transaction_leaves_the_log_whole(running_bureau, tmp_path, monkeypatch, failure):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    for number in range(3):
        fill_inspection(tablet, assignment_index=number % 2, new=True, pull=number == 0)
    first, failing, later = queued(tablet)
    other = InProcess(running_bureau, tablet.identities[0].key_id)
    other.verified(other.accept(first.envelope, first.record_id), first.record_hash, 0)

    with monkeypatch.context() as patch:
        patch.setattr(review, "open_case", failure)  # what ingest calls after storing a first version
        with pytest.raises((RuntimeError, ingest.IngestRefused)) as caught:
            other.accept(failing.envelope, failing.record_id)
    if isinstance(caught.value, ingest.IngestRefused):  # three conflicts in a row: the tablet is asked to retry
        assert caught.value.status == 503
    assert other.log._tree is None  # the cached tree that had taken the leaf was dropped
    held = bureau_holdings(running_bureau.settings)
    assert held.records == [(first.record_id, 1)] and held.log_size == 1

    other.verified(other.accept(later.envelope, later.record_id), later.record_hash, 1)
    other.verified(other.accept(failing.envelope, failing.record_id), failing.record_hash, 2)
    assert other.report().ok and other.report().log_size == 3
    other.engine.dispose()

    stop(running_bureau.process)  # the server restarts on that database, and the tablet takes its receipts from it
    restarted = start_bureau(running_bureau.settings)
    client = device.client_for(tablet.identities[0])
    client.server_url = restarted.url  # the same bureau on another port
    try:
        report = sync_protocol.run(tablet.engine, client, timeout=60, policy=FAST)
        assert report.error is None and report.duplicates == 3
        assert outbox.status(tablet.engine).empty
    finally:
        stop(restarted.process)


def test_nul_reaching_the_database_without_the_check(running_bureau, tmp_path, monkeypatch):
    """Finding 1 as reported: with the control-character check switched off, PostgreSQL refuses the NUL at the
    insert (SQLite stores it); either way the log stays whole and the next record is at the next index."""
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    fill_inspection(tablet)
    other = InProcess(running_bureau, tablet.identities[0].key_id)
    nul, nul_hash = sealed_record(tablet, "nul-record-0001", score={"value": "100\x00", "critical": False})
    monkeypatch.setattr(ingest, "_check_text", lambda record: None)
    stored = 0 if running_bureau.settings.database_url.startswith("postgresql") else 1
    if stored:
        other.verified(other.accept(nul, "nul-record-0001"), nul_hash, 0)
    else:
        with pytest.raises(DataError):  # text cannot hold NUL
            other.accept(nul, "nul-record-0001")
    later, later_hash = sealed_record(tablet, "later-record-0001")
    other.verified(other.accept(later, "later-record-0001"), later_hash, stored)
    assert other.report().ok and other.report().log_size == stored + 1
    other.engine.dispose()


def test_a_control_character_is_refused_before_anything_is_stored(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    fill_inspection(tablet)
    client = device.client_for(tablet.identities[0])
    nul, _ = sealed_record(tablet, "nul-record-0001", score={"value": "100\x00", "critical": False})
    escape, _ = sealed_record(tablet, "esc-record-0001", findings=[{"note": "缺少\x1b处方"}])
    for record_id, envelope, path in [("nul-record-0001", nul, "score.value"),
                                      ("esc-record-0001", escape, "findings[0].note")]:
        with pytest.raises(BureauRefused) as caught:
            client.put_record(record_id, envelope)
        assert (caught.value.status, caught.value.reason) == (422, "control_character")
        assert path in caught.value.message and "控制字符" in caught.value.message
    held = bureau_holdings(running_bureau.settings)
    assert held.records == [] and held.log_size == 0
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        assert [r.reason for r in session.exec(select(Rejection))] == ["control_character"] * 2
    engine.dispose()
    tab, tab_hash = sealed_record(tablet, "tab-record-0001", score={"value": "第一行\n\t第二行\r\n", "critical": False})
    assert client.put_record("tab-record-0001", tab)["receipt"]["record_hash"] == tab_hash  # these are text


TAMPERING = {
    "leaf": ("UPDATE logleaf SET leaf_hash = :bad WHERE leaf_index = 1", 1),
    "tree_head": ("UPDATE signedtreehead SET root = :bad WHERE size = 3", 2),
}


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_verify_log_names_the_first_tampered_index(running_bureau, tmp_path, what):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    for number in range(4):
        fill_inspection(tablet, assignment_index=number % 2, new=True, pull=number == 0)
    report = sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=60, policy=FAST)
    assert report.error is None
    stop(running_bureau.process)
    running_bureau.cli("bureau", "rotate-keys")  # the heads so far were signed by the key now retired
    answer = running_bureau.cli("bureau", "verify-log", "--json")
    assert json.loads(answer.stdout) == {"ok": True, "log_size": 4, "tree_heads": 4, "records": 4, "problems": []}
    assert "核对无误" in answer.stderr

    statement, index = TAMPERING[what]
    engine = make_engine(running_bureau.settings.database_url)
    with engine.begin() as conn:
        assert conn.execute(text(statement), {"bad": "ab" * 32}).rowcount == 1
    engine.dispose()
    answer = running_bureau.cli("bureau", "verify-log", "--json", check=False)
    assert answer.returncode == 1
    verdict = json.loads(answer.stdout)
    assert not verdict["ok"] and verdict["problems"][0]["index"] == index
    assert f"日志第 {index} 条" in answer.stderr and "Traceback" not in answer.stderr
    assert run_cli("bureau", "verify-log", "--db", running_bureau.settings.database_url, "--data",
                   str(running_bureau.settings.data_dir), check=False).returncode == 1

    with socket.socket() as taken:  # were the log let through, the server would stop at the port, not run
        taken.bind(("127.0.0.1", 0))
        refused = running_bureau.cli("serve", "--port", str(taken.getsockname()[1]), check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and f"日志第 {index} 条" in refused.stderr


def accept_in_one_group(other: InProcess, sends: list[tuple[str, dict]], monkeypatch) -> tuple[list[object], list[str]]:
    """`sends` (record id, envelope) accepted by `other`, the first alone while the rest queue behind it in this
    order, so that they are one group transaction. Returns what each accept returned or raised, and how each group
    ran: "batch", or "each" (one work at a time, after a batch failed or for a group of one)."""
    log = other.log
    ran: list[str] = []
    run_batch, run_each = transparency.TransparencyLog._run_batch, transparency.TransparencyLog._run_each

    def batch(self, session, group):
        done = run_batch(self, session, group)
        ran.append("batch" if done else "batch failed")
        return done

    def each(self, session, group):
        ran.append("each")
        return run_each(self, session, group)

    monkeypatch.setattr(transparency.TransparencyLog, "_run_batch", batch)
    monkeypatch.setattr(transparency.TransparencyLog, "_run_each", each)
    return in_one_group(log, [partial(other.accept, envelope, record_id) for record_id, envelope in sends]), ran


def test_a_record_failing_in_a_group_is_set_aside_and_the_others_commit(running_bureau, tmp_path, monkeypatch):
    """Records arriving at once share one transaction (group commit); the one that fails inside it is rolled back
    alone and answered with its own error, the others are stored with receipts that verify, and it can be sent
    again."""
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    for number in range(4):
        fill_inspection(tablet, assignment_index=number % 2, new=True, pull=number == 0)
    first, *together = queued(tablet)
    failing = together[1]
    other = InProcess(running_bureau, tablet.identities[0].key_id)

    def fail_one(session, received, now):
        if received.record_id == failing.record_id:
            session.flush()  # its record, leaf and tree head are in the transaction
            raise RuntimeError("forced failure inside the group transaction")
        open_case(session, received, now)

    open_case = review.open_case  # what ingest calls after storing a first version
    monkeypatch.setattr(review, "open_case", fail_one)
    items = [first, *together]
    answers, ran = accept_in_one_group(other, [(item.record_id, item.envelope) for item in items], monkeypatch)
    assert ran == ["each", "batch failed", "each"]  # the three records were one transaction, their batch undone
    outcomes = {item.record_id: answer for item, answer in zip(items, answers)}

    error = outcomes.pop(failing.record_id)
    assert isinstance(error, RuntimeError) and "forced failure" in str(error)
    stored = [item for item in [first, *together] if item is not failing]
    for item in stored:
        accepted = outcomes[item.record_id]
        assert isinstance(accepted, ingest.RecordAccepted) and not accepted.duplicate
        verify_receipt(accepted.receipt, item.record_hash, other.keys.signing.public_key())
    assert sorted(outcomes[item.record_id].receipt["log_index"] for item in stored) == [0, 1, 2]
    held = bureau_holdings(running_bureau.settings)
    assert sorted(held.records) == sorted((item.record_id, 1) for item in stored) and held.log_size == 3
    assert other.report().ok

    monkeypatch.setattr(review, "open_case", open_case)
    other.verified(other.accept(failing.envelope, failing.record_id), failing.record_hash, 3)
    other.assert_log_holds(4)
    other.engine.dispose()


def tablet_and_process(running_bureau, tmp_path) -> tuple[Tablet, InProcess]:
    """A tablet with its assignments pulled, and a second bureau process (in this one) for it to send to."""
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    device.pull_assignments(tablet.engine, tablet.identities[0])
    return tablet, InProcess(running_bureau, tablet.identities[0].key_id)


def test_a_group_is_one_batch_even_with_a_record_sent_twice(running_bureau, tmp_path, monkeypatch):
    """A group's records go in together (one INSERT per table); a copy of a record earlier in the same batch is
    answered as a duplicate with that record's receipt, though the first is not yet in the database."""
    tablet, other = tablet_and_process(running_bureau, tmp_path)
    (lead, lead_hash), (once, once_hash), (other_one, other_hash) = (
        sealed_record(tablet, record_id) for record_id in ("rec-lead", "rec-once", "rec-other"))
    inserts: list[str] = []
    listen = (other.engine, "before_cursor_execute",
              lambda _c, _k, statement, *_: inserts.append(statement.split("(")[0].strip())
              if statement.startswith("INSERT INTO logleaf") else None)
    event.listen(*listen)
    try:
        answers, ran = accept_in_one_group(other, [("rec-lead", lead), ("rec-once", once), ("rec-other", other_one),
                                                   ("rec-once", once)], monkeypatch)
    finally:
        event.remove(*listen)
    assert ran == ["each", "batch"] and len(inserts) == 2  # the leader's own group, then the three in one INSERT
    assert [type(answer) for answer in answers] == [ingest.RecordAccepted] * 4
    assert [(answer.receipt["log_index"], answer.duplicate) for answer in answers] == [
        (0, False), (1, False), (2, False), (1, True)]
    assert answers[3].receipt == answers[1].receipt
    for answer, record_hash in zip(answers, (lead_hash, once_hash, other_hash, once_hash)):
        verify_receipt(answer.receipt, record_hash, other.keys.signing.public_key())
    other.assert_log_holds(3)
    other.engine.dispose()


def test_a_copy_of_a_record_that_failed_in_its_group_is_stored_not_answered_as_a_duplicate(
        running_bureau, tmp_path, monkeypatch):
    """A record's rows fail to flush in its group (in the batch, then alone, when its savepoint ends); its copy, later
    in the same group, finds nothing of it and is stored in its own right; the first, sent again (ingest retries a
    conflict), is then the duplicate."""
    tablet, other = tablet_and_process(running_bureau, tmp_path)
    lead, _ = sealed_record(tablet, "rec-lead")
    failing, failing_hash = sealed_record(tablet, "rec-failing")
    conflicts = ["in the batch", "alone"]

    def conflict_twice(session, received, now):
        open_case(session, received, now)
        if received.record_id == "rec-failing" and conflicts:
            conflicts.pop()
            session.add(LogLeaf(leaf_index=0, record_id="x", version=1, leaf_hash="00" * 32))  # fails when flushed

    open_case = review.open_case
    monkeypatch.setattr(review, "open_case", conflict_twice)
    answers, ran = accept_in_one_group(other, [("rec-lead", lead), ("rec-failing", failing),
                                               ("rec-failing", failing)], monkeypatch)
    assert ran == ["each", "batch failed", "each", "each"]  # the last: the first copy's retry, alone
    first, copy = answers[1:]
    assert isinstance(copy, ingest.RecordAccepted) and not copy.duplicate and copy.receipt["log_index"] == 1
    assert isinstance(first, ingest.RecordAccepted) and first.duplicate and first.receipt == copy.receipt
    verify_receipt(copy.receipt, failing_hash, other.keys.signing.public_key())
    other.assert_log_holds(2)
    other.engine.dispose()


def test_a_correction_in_the_group_of_its_first_version_runs_the_group_one_record_at_a_time(
        running_bureau, tmp_path, monkeypatch):
    """A correction whose first version is in the same batch moves on a case the batch has not written yet: the
    group runs again one record at a time, and the case ends on the correction."""
    tablet, other = tablet_and_process(running_bureau, tmp_path)
    lead, _ = sealed_record(tablet, "rec-lead")
    first, first_hash = sealed_record(tablet, "rec-corrected")
    corrected, corrected_hash = sealed_record(tablet, "rec-corrected", version=2, previous_hash=first_hash,
                                              correction_reason="金额录入错误，更正")
    answers, ran = accept_in_one_group(other, [("rec-lead", lead), ("rec-corrected", first),
                                               ("rec-corrected", corrected)], monkeypatch)
    assert ran == ["each", "batch failed", "each"]
    assert [answer.receipt["log_index"] for answer in answers] == [0, 1, 2]  # type: ignore[attr-defined]
    verify_receipt(answers[2].receipt, corrected_hash, other.keys.signing.public_key())  # type: ignore[attr-defined]
    with Session(other.engine) as session:
        case = session.get(ReviewCase, "rec-corrected")
        assert case is not None and case.version == 2 and case.events == 2  # received, then moved on
    other.assert_log_holds(3)
    other.engine.dispose()
