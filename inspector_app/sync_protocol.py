"""The device side of sealed sync: one `run` drains the outbox (`inspector_app.outbox`) as far as the link allows.

1. **Pull** correction requests and bureau key rotations since the pinned cursor; a rotation is adopted only when
   it is signed by the pinned signing key (`sync.keys.verify_key_rotation`).
2. **Records first**, in queue order. The answer's receipt is verified (inclusion proof + signed tree head) before
   the record is marked sent. A refusal (4xx about the record: 400, 403, 409, 413, 422) sets that record aside with
   the bureau's reason and the queue moves on; a receipt that does not verify leaves it queued.
3. **Then blobs**, for records already accepted. A blob is sealed once into a spool file (the sealed header and
   chunks), so an interrupted upload resumes under the same key. The device sends the header, which answers how
   many chunks the bureau holds durably, then each following chunk; after any failure it asks again and continues
   from the confirmed offset: at most the one chunk in flight is sent twice, a blob never restarts.
4. **Log consistency**: the newest tree head seen is checked against the previous one with a consistency proof,
   so a bureau log that was rewritten, not just appended to, is noticed.
5. **Release**: a blob's `free_after_receipt` file is deleted once the bureau holds the whole blob and every
   record naming it has a verified receipt — never before.

Transient failures (no connection, a cut, 5xx, 408, 429) are retried with exponential backoff and full jitter until
the run's deadline. A failure of the device itself (401: unknown key or clock; 403 device_revoked) stops the run:
every record stays queued.

A run says how far it is (`SyncProgress`: records, photos and their bytes) after every record and every chunk, and
stops when its `cancel` event is set: between records, between chunks and during a backoff wait, never in the middle
of a request. What it had not sent stays queued, and a blob cut off resumes from the bureau's confirmed offset on the
next run. One run at a time per device store: a second one started meanwhile returns at once, saying so.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from inspector_app.outbox import (
    BureauPin,
    CorrectionNotice,
    OutboxBlob,
    OutboxBlobRef,
    OutboxRecord,
    open_outbox,
    receipt_verifies,
    spool_dir,
)
from sync import merkle
from sync.bureau_http import BureauRefused, BureauUnreachable
from sync.envelope import DEFAULT_CHUNK_SIZE, seal_blob_chunks
from sync.errors import KeyHandlingError, MerkleProofError
from sync.keys import (
    public_key_to_b64,
    sealing_public_from_b64,
    signing_public_from_b64,
    verify_key_rotation,
)

_RECORD_REFUSALS = {400, 403, 409, 413, 422}
_GCM_TAG = 16


class Transport(Protocol):
    """What the run needs from the bureau (`inspector_app.bureau_client.BureauClient`)."""

    def pull_updates(self, since: int) -> dict[str, Any]: ...
    def put_record(self, record_id: str, envelope: dict[str, Any]) -> dict[str, Any]: ...
    def put_blob_header(self, sha256: str, header: dict[str, Any]) -> dict[str, Any]: ...
    def put_blob_chunk(self, sha256: str, index: int, chunk: bytes) -> dict[str, Any]: ...
    def log_consistency(self, first: int, second: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 0.5  # seconds before the first retry, at most
    cap: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(failures-1))], so many tablets don't retry in step."""
        return rng.uniform(0, min(self.cap, self.base * 2 ** min(failures - 1, 30)))


@dataclass
class SyncReport:
    records_sent: int = 0
    duplicates: int = 0  # records the bureau already held (a lost answer): same receipt again
    set_aside: list[dict[str, str]] = field(default_factory=list)  # refused in this run
    unverified: list[dict[str, str]] = field(default_factory=list)  # receipts that did not verify
    blobs_sent: int = 0
    blobs_set_aside: int = 0
    released: int = 0
    retries: int = 0
    retry_reasons: list[str] = field(default_factory=list)  # why each retry happened (the first few)
    keys_rotated: int = 0
    corrections: int = 0
    error: str | None = None  # why the run stopped early (Chinese)
    reason: str | None = None  # ... as a reason code


@dataclass(frozen=True)
class SyncProgress:
    """How far a run is. Records: handled (sent, or set aside with the bureau's reason) of those queued when it
    began. Photos (blobs) and their plaintext bytes: handled of those waiting for a record the bureau holds, counted
    again once the records are through. `retrying`: the last transient failure while the run waits to try again."""

    records_done: int = 0
    records_total: int = 0
    blobs_done: int = 0
    blobs_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    retrying: str = ""


class SyncStopped(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


# Blobs set aside for a cause that may pass are tried again on the next run: the bytes were not readable then (the
# app was locked, a card was out), or the bureau discarded an upload it could not verify and asked for it again.
RETRIED_BLOB_REASONS = ("blob_source_missing", "blob_hash_mismatch")


def _transient(exc: BureauRefused) -> bool:
    return exc.status >= 500 or exc.status in (408, 429) or exc.reason == "bad_response"


def _record_refusal(exc: BureauRefused) -> bool:
    return exc.status in _RECORD_REFUSALS and exc.reason != "device_revoked"


def _now() -> datetime:
    return datetime.now(timezone.utc)


_RUNNING: dict[str, threading.Lock] = {}  # one lock per device store (its database URL)


class _Run:
    def __init__(self, engine: Engine, client: Transport, deadline: float, policy: RetryPolicy,
                 load_blob: Callable[[str], bytes] | None, chunk_size: int, rng: random.Random,
                 sleep: Callable[[float], object], clock: Callable[[], float],
                 progress: Callable[[SyncProgress], None] | None, cancel: threading.Event):
        self.engine, self.client, self.deadline, self.policy = engine, client, deadline, policy
        self.load_blob, self.chunk_size, self.rng, self.sleep, self.clock = load_blob, chunk_size, rng, sleep, clock
        self.on_progress, self.cancel = progress, cancel
        self.report = SyncReport()
        self.shown = SyncProgress()
        self.newest_head: dict[str, Any] | None = None

    # --- progress and cancellation ---

    def tell(self, **changes: Any) -> None:
        self.shown = replace(self.shown, **changes)
        if self.on_progress is not None:
            self.on_progress(self.shown)

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise SyncStopped("cancelled", "已取消同步：未发送的记录和照片保留在本机，下次同步时继续")

    def count_work(self) -> None:
        """The totals shown from the start: queued records, and the photos of queued or sent records still to go."""
        with Session(self.engine) as session:
            records = len(session.exec(select(OutboxRecord.seq).where(OutboxRecord.state == "queued")).all())
            sizes = self.waiting_blobs(session, ("queued", "sent"))
        self.tell(records_total=records, blobs_total=len(sizes), bytes_total=sum(sizes.values()))

    @staticmethod
    def waiting_blobs(session: Session, record_states: tuple[str, ...]) -> dict[str, int]:
        """sha256 → size of the pending blobs named by records in `record_states`."""
        rows = session.exec(
            select(OutboxBlob.sha256, OutboxBlob.size)
            .join(OutboxBlobRef, col(OutboxBlobRef.sha256) == OutboxBlob.sha256)
            .join(OutboxRecord, (col(OutboxRecord.record_id) == OutboxBlobRef.record_id)
                  & (col(OutboxRecord.version) == OutboxBlobRef.version))
            .where(OutboxBlob.state == "pending", col(OutboxRecord.state).in_(record_states)).distinct())
        return dict(rows.all())

    # --- requests ---

    def backoff(self, failures: int, why: str) -> None:
        self.check_cancel()
        delay = self.policy.delay(failures, self.rng)
        if self.clock() + delay > self.deadline:
            raise SyncStopped("timeout", f"同步超时，未完成的记录保留在本机，稍后再同步（最后一次错误：{why}）")
        self.report.retries += 1
        if len(self.report.retry_reasons) < 20:
            self.report.retry_reasons.append(why)
        self.tell(retrying=why)
        self.sleep(delay)
        self.check_cancel()

    def call(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """`fn(*args)`, retried while the failure is transient; a refusal is raised as BureauRefused."""
        failures = 0
        while True:
            try:
                answer = fn(*args)
                if self.shown.retrying:
                    self.tell(retrying="")
                return answer
            except BureauUnreachable as exc:
                why = str(exc)
            except BureauRefused as exc:
                if not _transient(exc):
                    raise
                why = exc.message or exc.reason
            failures += 1
            self.backoff(failures, why)

    def stop_unless_record_refusal(self, exc: BureauRefused) -> None:
        if not _record_refusal(exc):
            raise SyncStopped(exc.reason, exc.message or f"局端拒绝（{exc.reason}）")

    # --- 1. pull ---

    def pull(self) -> None:
        with Session(self.engine) as session:
            pin = session.get(BureauPin, 1)
            if pin is None:
                raise SyncStopped("not_enrolled", "本设备尚未登记局端公钥，请先注册设备")
            cursor = pin.feed_cursor
        try:
            answer = self.call(self.client.pull_updates, cursor)
        except BureauRefused as exc:
            raise SyncStopped(exc.reason, exc.message or f"局端拒绝（{exc.reason}）") from None
        with Session(self.engine) as session:
            pin = session.get(BureauPin, 1)
            assert pin is not None  # found above; the pin is replaced, never deleted
            for statement in answer.get("key_updates", []):
                self.adopt(pin, statement)
            for item in answer.get("corrections", []):
                session.merge(CorrectionNotice(id=item["id"], record_id=item["record_id"], version=item["version"],
                                               assignment_id=item["assignment_id"], reason=item["reason"],
                                               requested_at=item["requested_at"]))
                self.report.corrections += 1
            pin.feed_cursor = max(pin.feed_cursor, int(answer.get("cursor", cursor)))
            session.add(pin)
            session.commit()

    def adopt(self, pin: BureauPin, statement: Any) -> None:
        try:
            new = verify_key_rotation(signing_public_from_b64(pin.signing_public), statement)
        except KeyHandlingError as exc:
            if exc.reason_code == "rotation_wrong_key":  # an earlier link of the chain, followed before
                return
            raise SyncStopped(exc.reason_code, f"局端密钥更新无效，未采用：{exc.message_zh}") from None
        pin.retired_signing = [*pin.retired_signing, pin.signing_public]
        pin.signing_public = public_key_to_b64(new.signing)
        pin.sealing_public = public_key_to_b64(new.sealing)
        pin.updated_at = _now()
        self.report.keys_rotated += 1

    # --- 2. records ---

    def send_records(self) -> None:
        with Session(self.engine) as session:
            queued = [r.seq for r in session.exec(select(OutboxRecord).where(OutboxRecord.state == "queued")
                                                  .order_by(col(OutboxRecord.seq))) if r.seq is not None]
        for seq in queued:
            self.check_cancel()
            self.send_record(seq)
            self.tell(records_done=self.shown.records_done + 1)

    def send_record(self, seq: int) -> None:
        with Session(self.engine) as session:
            row = session.get(OutboxRecord, seq)
            assert row is not None  # queued a moment ago; the outbox never deletes records
            record_id, envelope = row.record_id, row.envelope
        try:
            answer = self.call(self.client.put_record, record_id, envelope)
        except BureauRefused as exc:
            self.stop_unless_record_refusal(exc)
            with Session(self.engine) as session:
                row = session.get(OutboxRecord, seq)
                assert row is not None
                row.state, row.reason, row.message = "set_aside", exc.reason, exc.message
                row.attempts += 1
                session.add(row)
                session.commit()
            self.report.set_aside.append({"record_id": record_id, "reason": exc.reason, "message": exc.message})
            return
        with Session(self.engine) as session:
            row, pin = session.get(OutboxRecord, seq), session.get(BureauPin, 1)
            assert row is not None and pin is not None  # the pull found the pin; neither is ever deleted
            row.attempts += 1
            receipt: Any = answer.get("receipt") if isinstance(answer, dict) else None
            if not receipt_verifies(pin, receipt, row.record_hash, row.record_id):
                row.last_error = "receipt_invalid: 局端回执无法验证，记录保留在发件箱"
                session.add(row)
                session.commit()
                self.report.unverified.append({"record_id": record_id, "reason": "receipt_invalid",
                                               "message": "局端回执无法验证（包含证明或树头签名无效）"})
                return
            row.state, row.receipt, row.sent_at, row.last_error = "sent", receipt, _now(), ""
            session.add(row)
            session.commit()
            self.note_head(pin, receipt["tree_head"])
        self.report.records_sent += 1
        self.report.duplicates += bool(answer.get("duplicate"))

    def note_head(self, pin: BureauPin, head: dict[str, Any]) -> None:
        """Remember the largest tree head signed by the current key, for the consistency check."""
        try:
            merkle.verify_tree_head(head, signing_public_from_b64(pin.signing_public))
        except MerkleProofError:
            return
        if self.newest_head is None or head["size"] > self.newest_head["size"]:
            self.newest_head = head

    # --- 3. blobs ---

    def send_blobs(self) -> None:
        with Session(self.engine) as session:
            for blob in session.exec(select(OutboxBlob).where(OutboxBlob.state == "set_aside",
                                                              col(OutboxBlob.reason).in_(RETRIED_BLOB_REASONS))):
                blob.state, blob.reason, blob.message = "pending", "", ""  # its cause may be gone: try again
                session.add(blob)
            session.commit()
            ready = self.waiting_blobs(session, ("sent",))
        self.tell(blobs_total=len(ready), bytes_total=sum(ready.values()))
        done = 0  # bytes of the blobs handled so far
        for sha256, size in ready.items():
            self.check_cancel()
            try:
                self.send_blob(sha256, done)
            except BureauRefused as exc:
                self.stop_unless_record_refusal(exc)
                self.set_blob_aside(sha256, exc.reason, exc.message)
            done += size
            self.tell(blobs_done=self.shown.blobs_done + 1, bytes_done=done)

    def set_blob_aside(self, sha256: str, reason: str, message: str) -> None:
        with Session(self.engine) as session:
            blob = session.get(OutboxBlob, sha256)
            assert blob is not None  # the outbox never deletes blobs
            blob.state, blob.reason, blob.message = "set_aside", reason, message
            if blob.sealed_path:
                Path(blob.sealed_path).unlink(missing_ok=True)
            blob.header = blob.sealed_path = None
            session.add(blob)
            session.commit()
        self.report.blobs_set_aside += 1

    def sealed_copy(self, sha256: str) -> tuple[dict[str, Any], Path] | None:
        """The blob's sealed header and spool file, made once; None if its bytes are gone or wrong (set aside)."""
        with Session(self.engine) as session:
            blob, pin = session.get(OutboxBlob, sha256), session.get(BureauPin, 1)
            assert blob is not None and pin is not None  # the pull found the pin; neither is ever deleted
            if blob.header is not None and blob.sealed_path and Path(blob.sealed_path).exists():
                return blob.header, Path(blob.sealed_path)
            source, device_id, sealing = blob.source_path, blob.device_id, pin.sealing_public
        try:
            data = Path(source).read_bytes() if source else (self.load_blob(sha256) if self.load_blob else None)
        except OSError:
            data = None
        if data is None:
            self.set_blob_aside(sha256, "blob_source_missing", "附件文件缺失，无法发送")
            return None
        try:
            header, chunks = seal_blob_chunks(data, sealing_public_from_b64(sealing), sha256, device_id,
                                              self.chunk_size)
        except ValueError:
            self.set_blob_aside(sha256, "blob_corrupt", "附件文件与其哈希不符（本机存储可能已损坏）")
            return None
        path = spool_dir(self.engine) / f"{sha256}.sealed"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        with Session(self.engine) as session:
            blob = session.get(OutboxBlob, sha256)
            assert blob is not None
            blob.header, blob.sealed_path = header, str(path)
            session.add(blob)
            session.commit()
        return header, path

    def send_blob(self, sha256: str, done: int) -> None:
        """Send one blob, resuming from what the bureau holds; `done`: bytes of the blobs handled before it."""
        sealed = self.sealed_copy(sha256)
        if sealed is None:
            return
        header, path = sealed
        stride = header["chunk_size"] + _GCM_TAG
        state = self.call(self.client.put_blob_header, sha256, header)
        failures = 0
        with open(path, "rb") as spool:
            while not state.get("complete"):
                index = state["received_chunks"]
                self.tell(bytes_done=done + min(header["size"], index * header["chunk_size"]))
                self.check_cancel()
                spool.seek(index * stride)
                chunk = spool.read(stride)
                try:
                    state = self.client.put_blob_chunk(sha256, index, chunk)
                    failures = 0
                    continue
                except BureauUnreachable as exc:
                    why = str(exc)
                except BureauRefused as exc:
                    if not (_transient(exc) or exc.reason in ("chunk_out_of_order", "upload_not_started")):
                        raise
                    why = exc.message or exc.reason
                failures += 1
                self.backoff(failures, why)
                state = self.call(self.client.put_blob_header, sha256, header)  # ask, then continue
        with Session(self.engine) as session:
            blob = session.get(OutboxBlob, sha256)
            assert blob is not None
            blob.state, blob.delivered_at, blob.header, blob.sealed_path = "delivered", _now(), None, None
            session.add(blob)
            session.commit()
        path.unlink(missing_ok=True)
        self.report.blobs_sent += 1

    # --- 4. log consistency ---

    def check_log(self) -> None:
        if self.newest_head is None:
            return
        with Session(self.engine) as session:
            pin = session.get(BureauPin, 1)
            assert pin is not None  # the pull found it; the pin is replaced, never deleted
            old, new = pin.tree_head, self.newest_head
            if old is not None and new["size"] > old["size"]:
                try:
                    answer = self.call(self.client.log_consistency, old["size"], new["size"])
                    if answer.get("first", {}).get("root") != old["root"] or \
                            answer.get("second", {}).get("root") != new["root"]:
                        raise MerkleProofError("proof_invalid", "树头不符")
                    merkle.verify_consistency(old["size"], new["size"], bytes.fromhex(old["root"]),
                                              bytes.fromhex(new["root"]),
                                              [bytes.fromhex(p) for p in answer.get("proof", [])])
                except (MerkleProofError, BureauRefused, ValueError, TypeError, AttributeError):
                    raise SyncStopped("log_inconsistent",
                                      "局端日志与此前的记录不一致（日志可能被改写），请立即报告科室负责人") from None
            if old is None or new["size"] > old["size"]:
                pin.tree_head = new
                session.add(pin)
                session.commit()

    # --- 5. release ---

    def release(self) -> None:
        """Free originals whose blob the bureau holds and whose every record has a verified receipt."""
        with Session(self.engine) as session:
            for blob in session.exec(select(OutboxBlob).where(OutboxBlob.state == "delivered",
                                                              col(OutboxBlob.free_after_receipt).is_not(None),
                                                              col(OutboxBlob.released_at).is_(None))).all():
                states = session.exec(select(OutboxRecord.state).join(
                    OutboxBlobRef, (col(OutboxRecord.record_id) == OutboxBlobRef.record_id)
                    & (col(OutboxRecord.version) == OutboxBlobRef.version))
                    .where(OutboxBlobRef.sha256 == blob.sha256)).all()
                if states and all(state == "sent" for state in states):
                    assert blob.free_after_receipt is not None  # selected for it
                    Path(blob.free_after_receipt).unlink(missing_ok=True)
                    blob.released_at = _now()
                    session.add(blob)
                    self.report.released += 1
            session.commit()


def run(engine: Engine, client: Transport, *, timeout: float = 60.0, policy: RetryPolicy = RetryPolicy(),
        load_blob: Callable[[str], bytes] | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
        rng: random.Random | None = None, sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic, progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None) -> SyncReport:
    """One sync: pull, records, blobs, log check, release. Never raises for the bureau's or the network's sake:
    the report says what happened (`error` set when it stopped early, `reason` "cancelled" when `cancel` was set);
    `outbox.status` says what is left. `progress` is called from the thread running the sync. Backoff waits on
    `cancel` unless a `sleep` is given."""
    open_outbox(engine)
    running = _RUNNING.setdefault(str(engine.url), threading.Lock())
    if not running.acquire(blocking=False):
        return SyncReport(error="本机正在同步，请等待其完成", reason="already_running")
    cancel = cancel or threading.Event()
    state = _Run(engine, client, clock() + timeout, policy, load_blob, chunk_size, rng or random.Random(),
                 sleep or cancel.wait, clock, progress, cancel)
    try:
        try:
            state.count_work()
            state.pull()
            state.send_records()
            state.send_blobs()
            state.check_log()
        except SyncStopped as exc:
            state.report.error, state.report.reason = exc.message, exc.reason
        state.release()
    finally:
        running.release()
    return state.report
