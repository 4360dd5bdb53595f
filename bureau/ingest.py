"""Bureau ingest: verify, open, check and store sealed records and their blobs; what devices pull; statistics. No HTTP.

A record (`accept_record`) is accepted only when, in this order:

1. the envelope opens with one of the bureau's sealing keys, for the record id and device the transport names, and
   every signature verifies under a registered, active device key of the inspector it names
   (`sync.envelope.open_envelope`), and no string in the record holds a control character other than tab and line
   breaks (`control_character`, naming the field: PostgreSQL cannot store NUL);
2. every signing key belongs to the sending tablet (`signer_foreign_device`);
3. the assignment exists, is not revoked, is for the record's institution, and every signer is on its team;
4. the record fits its schema version (`sync.record_schema.check_record`): every field there, typed and bounded, no
   field it does not know (`record_missing_field`, `record_wrong_type`, `record_too_long`, … naming the field);
5. each 疑点 check (`suspicion_checks`) is of a hit the assignment carried, under that hit's rule, and confirms at
   most the hit's amount (`record_suspicion_unknown`, `record_amount_exceeds_hit`);
6. the answers are complete and valid for the pinned template (``checklists.resolve_template("id@hash")``); the score
   is recomputed from them and a difference from the score the tablet showed is flagged, not refused (so are the
   findings, which review derives again from the answers: `bureau.review.findings_check`);
7. a correction (version > 1) names the stored previous version's hash.

It is then stored, appended to the merkle log and its review case opened (`bureau.review.open_case`) or moved on to
the corrected version (`receive_record`), all or nothing, in the log's next group transaction
(`TransparencyLog.in_group`: the records arriving at this process meanwhile share its lock, its inserts and its
commit; one that fails there is set aside and the others still commit), and the answer is a receipt. The same record
again (same id, version and hash), even in the same group, gets the same receipt and counts as a duplicate; different
content under the same id and version is refused (409). Every refusal is stored as a `Rejection` with its reason
code.

Blobs (`start_blob`, `put_chunk`) are accepted only when named by an accepted record of the sending tablet, and
that is asked first: a device learns nothing about a blob its records do not name, not even whether the bureau
holds it. The record must declare a media type the bureau takes (`bureau.blobs.ALLOWED_BLOBS`). Chunks arrive in
order; each is opened (AES-GCM, bound to its blob, position and device) and appended durably to `<data>/uploads/`,
and the count received is the offset the device resumes from. The finished blob must hash to its name and its bytes
must be the media type declared (sniffed, not taken on trust); it then moves to `<data>/blobs/ab/<sha256>`, one file
per hash however many records or devices send it (the layout is `bureau.blobs`).

Every function works on the caller's session (one database connection per request) and commits it; none holds a
pooled connection while it waits for a lock of its process (one appender per process waits on the log's database
lock), so a hundred tablets at once cannot exhaust the pool.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import checklists
from bureau import assignments, review
from bureau.blobs import ALLOWED_BLOBS, blob_path, file_head, file_sha256, part_path, sniff_media_type
from bureau.keystore import BureauKeys
from bureau.models import (
    Assignment,
    AssignmentMember,
    BlobUpload,
    CorrectionRequest,
    Counter,
    DeviceKey,
    LogLeaf,
    ReceivedRecord,
    RecordBlob,
    Rejection,
    StoredBlob,
)
from bureau.settings import BureauSettings
from bureau.transparency import TransparencyLog
from checklists import scoring
from sync import record_schema
from sync.canonical import canonical_bytes
from sync.envelope import BlobOpener, KnownSigner, OpenedRecord, open_blob_header, open_envelope
from sync.errors import EnvelopeError, RecordInvalid
from sync.keys import b64decode_strict

DUPLICATES_COUNTER = "duplicates_ignored"
_APPEND_ATTEMPTS = 3

# Envelope reason codes that are about who signed rather than what was sent.
_FORBIDDEN_REASONS = {"signer_unknown", "signer_revoked", "signer_inspector_mismatch", "device_id_mismatch"}


class IngestRefused(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class RecordAccepted:
    receipt: dict[str, Any]
    duplicate: bool


@dataclass(frozen=True)
class UploadState:
    sha256: str
    complete: bool
    received_chunks: int
    chunk_count: int
    offset: int  # sealed bytes the bureau holds durably: where the device continues

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "complete": self.complete, "received_chunks": self.received_chunks,
                "chunk_count": self.chunk_count, "offset": self.offset}


def _refuse(session: Session, device_id: str, subject: str, status: int, reason: str, message: str,
            now: datetime) -> IngestRefused:
    """Store the refusal (its own commit) and return the exception to raise."""
    session.rollback()
    session.add(Rejection(device_id=device_id, subject=subject[:128], reason=reason, message=message, received_at=now))
    session.commit()
    return IngestRefused(status, reason, message)


def _bump(session: Session, name: str) -> None:
    if session.exec(update(Counter).where(col(Counter.name) == name).values(value=Counter.value + 1)).rowcount == 0:
        session.add(Counter(name=name, value=1))


# --- records --------------------------------------------------------------------------------------------------

def _signer_lookup(session: Session, seen: dict[str, DeviceKey],
                   device: DeviceKey) -> Callable[[str], KnownSigner | None]:
    """The signers' keys; the sending device's own key is the row the request was authenticated with."""
    def lookup(key_id: str) -> KnownSigner | None:
        row = device if key_id == device.key_id else session.get(DeviceKey, key_id)
        if row is None:
            return None
        seen[key_id] = row
        return KnownSigner(Ed25519PublicKey.from_public_bytes(b64decode_strict(row.public_key)), row.inspector_code,
                           revoked=row.status != "active")
    return lookup


def _check_text(record: dict[str, Any]) -> None:
    """Refuse a C0 control character other than tab and line breaks in any string of the record: PostgreSQL cannot
    store NUL, and none of them belongs in an inspection record."""
    shown = record_schema.control_character_path(record)
    if shown is not None:
        raise IngestRefused(422, "control_character",
                            f"检查记录的字段 {shown} 含有控制字符（如 NUL），局端不能保存，请删除后重新提交")


def _check_schema(record: dict[str, Any]) -> None:
    """Refuse a record that does not fit its schema version (`sync.record_schema`): what the review screens, the
    proposals and the documents read is then always there, with its type and within its bounds."""
    try:
        record_schema.check_record(record)
    except RecordInvalid as exc:
        raise IngestRefused(422, exc.reason_code, exc.message_zh) from None


def _check_policy(session: Session, opened: OpenedRecord, signer_keys: dict[str, DeviceKey]) -> bool:
    """Raises IngestRefused unless the signers may submit this record for this assignment. Returns whether the
    assignment was still to be marked submitted (已提交, which it stays once it is)."""
    foreign = [k for k in signer_keys.values() if k.device_id != opened.device_id]
    if foreign:
        raise IngestRefused(403, "signer_foreign_device", f"签名密钥 {foreign[0].key_id} 不属于发送记录的设备")
    record = opened.record
    rows = session.exec(select(Assignment.revoked, Assignment.institution_code, Assignment.status,
                               AssignmentMember.inspector_code)  # the assignment and its team in one query
                        .outerjoin(AssignmentMember, col(AssignmentMember.assignment_id) == Assignment.id)
                        .where(Assignment.id == record["assignment_id"])).all()
    if not rows:
        raise IngestRefused(403, "unknown_assignment", f"局端没有检查任务 {record['assignment_id']}")
    revoked, institution_code, status, _ = rows[0]
    if revoked:
        raise IngestRefused(403, "assignment_revoked", "该检查任务已被撤销")
    if institution_code != record["institution_code"]:
        raise IngestRefused(422, "institution_mismatch", "检查记录的机构与检查任务不符")
    team = {member for *_, member in rows if member is not None}
    outsiders = sorted({s["inspector"] for s in opened.signatures} - team)
    if outsiders:
        raise IngestRefused(403, "not_your_assignment", f"签名人员 {'、'.join(outsiders)} 不在该检查任务的检查组中")
    return status != assignments.SUBMITTED


def _check_suspicions(session: Session, record: dict[str, Any]) -> None:
    """Refuse a 疑点 check the record's assignment did not carry (another hit, or another rule than the hit's) or
    one that confirms more than the hit's amount. The record's own consistency is `record_schema`'s."""
    checks = record.get("suspicion_checks") or []
    if not checks:
        return
    assignment = session.get(Assignment, record["assignment_id"])
    assert assignment is not None  # _check_policy found it
    carried = {s["hit_id"]: s for s in assignments.suspicions_of(session, [assignment])[assignment.id].suspicions}
    for index, check in enumerate(checks):
        where = f"suspicion_checks[{index}]"
        hit = carried.get(check["hit_id"])
        if hit is None:
            raise IngestRefused(422, "record_suspicion_unknown", f"检查记录的字段 {where}.hit_id：疑点 "
                                f"{check['hit_id'][:80]} 不在该检查任务下发的疑点清单中")
        if hit["rule"] != check["rule"]:
            raise IngestRefused(422, "record_suspicion_unknown", f"检查记录的字段 {where}.rule 应为疑点 "
                                f"{hit['hit_id']} 的筛查规则 {hit['rule']}")
        if Decimal(check["amount_yuan"]) > Decimal(hit["amount_yuan"]):
            raise IngestRefused(422, "record_amount_exceeds_hit", f"检查记录的字段 {where}.amount_yuan "
                                f"{check['amount_yuan']} 超过疑点 {hit['hit_id']} 的金额 {hit['amount_yuan']} 元")


@dataclass(frozen=True)
class _Score:
    claimed: str | None
    computed: str | None
    critical: bool
    mismatch: bool


def _rescore(record: dict[str, Any]) -> _Score:
    """Recompute the score from the raw answers with the pinned template; flag a difference from the claim."""
    try:
        template = checklists.resolve_template(f"{record['template_id']}@{record['template_hash']}")
    except checklists.InputError as exc:
        raise IngestRefused(422, "template_unknown", f"检查表模板无法确认：{exc}") from None
    try:
        result = scoring.score(template, record["answers"])
    except checklists.InputError as exc:
        raise IngestRefused(422, "answers_invalid", f"答卷不完整或有误：{'；'.join(exc.problems[:5])}") from None
    computed = None if result.score is None else str(result.score)
    claim = record.get("score")
    claimed = claim.get("value") if isinstance(claim, dict) else None
    mismatch = claim is not None and (not isinstance(claim, dict) or claimed != computed
                                      or claim.get("critical") != result.critical)
    return _Score(claimed if isinstance(claimed, str) else None, computed, result.critical, mismatch)


def _check_previous(opened: OpenedRecord, stored: Callable[[tuple[str, int]], ReceivedRecord | None]) -> None:
    record = opened.record
    if record["version"] == 1:
        return
    previous = stored((opened.record_id, record["version"] - 1))
    if previous is None:
        raise IngestRefused(409, "previous_version_unknown", f"局端没有该记录的第 {record['version'] - 1} 版，无法更正")
    if previous.record_hash != record["previous_hash"] or previous.assignment_id != record["assignment_id"]:
        raise IngestRefused(409, "previous_hash_mismatch", "更正版本所指的上一版本与局端保存的不符")


@dataclass(frozen=True)
class _Checked:
    """What the checks made of a record, for storing it."""
    opened: OpenedRecord
    score: _Score
    sealed_bytes: int
    submits_assignment: bool  # its assignment was not yet 已提交 when checked


def _store(session: Session, checked: _Checked, index: int, now: datetime) -> ReceivedRecord:
    opened, score = checked.opened, checked.score
    record = opened.record
    received = ReceivedRecord(
        record_id=opened.record_id, version=record["version"], record_hash=opened.record_hash,
        previous_hash=record.get("previous_hash"), device_id=opened.device_id, assignment_id=record["assignment_id"],
        institution_code=record["institution_code"], template_pin=f"{record['template_id']}@{record['template_hash']}",
        signers=[s["inspector"] for s in opened.signatures], signatures=opened.signatures, record=record,
        sealed_bytes=checked.sealed_bytes, score_claimed=score.claimed, score_computed=score.computed,
        critical=score.critical, score_mismatch=score.mismatch, log_index=index, received_at=now)
    session.add(received)
    for blob in record["blobs"]:
        session.add(RecordBlob(record_id=opened.record_id, version=record["version"], sha256=blob["sha256"],
                               size=blob["size"], media_type=blob["media_type"]))
    if checked.submits_assignment:
        session.exec(update(Assignment).where(col(Assignment.id) == record["assignment_id"],
                                              col(Assignment.status) != assignments.SUBMITTED,
                                              # withdrawn since the checks: it stays 已撤回 (the record was made before)
                                              col(Assignment.revoked).is_(False)).values(status=assignments.SUBMITTED))
    if record["version"] > 1:  # a correction answers the requests made of earlier versions
        session.exec(update(CorrectionRequest).where(
            col(CorrectionRequest.record_id) == opened.record_id, col(CorrectionRequest.version) < record["version"],
            col(CorrectionRequest.status) == "open").values(status="answered"))
        review.receive_record(session, received, now)
    else:  # no record of this id is stored (the duplicate check found no first version): no case to look up
        review.open_case(session, received, now)
    return received


def _append(session: Session, log: TransparencyLog, checked: _Checked, now: datetime) -> RecordAccepted | IngestRefused:
    """Under the log's lock, in a group transaction: the duplicate check, then the record, its leaf and tree head,
    all committed or none. A refusal is returned, to be stored once the lock is released."""
    opened = checked.opened
    version = opened.record["version"]

    def work(shared: Session) -> tuple[int, bool] | IngestRefused:  # (log index, duplicate)
        added: dict[tuple[str, int], ReceivedRecord] = log.pending(shared)  # by this group's works, maybe unflushed

        def stored(key: tuple[str, int]) -> ReceivedRecord | None:
            return added.get(key) or shared.get(ReceivedRecord, key)

        existing = stored((opened.record_id, version))
        if existing is not None and existing.record_hash != opened.record_hash:
            return IngestRefused(409, "conflicting_content", f"局端已收到编号相同（第 {version} 版）但内容不同的记录")
        if existing is not None:
            _bump(shared, DUPLICATES_COUNTER)
            return existing.log_index, True
        try:
            _check_previous(opened, stored)
        except IngestRefused as exc:
            return exc
        if version > 1 and any(record_id == opened.record_id for record_id, _ in added):
            log.see_earlier_works(shared)  # the case this correction moves on was opened in this group
        index = log.append(shared, opened.record_id, version, opened.record_hash)
        added[(opened.record_id, version)] = _store(shared, checked, index, now)
        return index, False

    outcome = log.in_group(session, work)
    if isinstance(outcome, IngestRefused):
        return outcome
    index, duplicate = outcome
    return RecordAccepted(log.receipt(session, opened.record_id, opened.record_hash, index), duplicate=duplicate)


def _status_for(error: EnvelopeError) -> int:
    return 403 if error.reason_code in _FORBIDDEN_REASONS else 422


def accept_record(session: Session, keys: BureauKeys, log: TransparencyLog, envelope: dict[str, Any], *,
                  record_id: str, device: DeviceKey, now: datetime) -> RecordAccepted:
    """Verify and store one sealed record (see the module docstring); raises IngestRefused."""
    device_id = device.device_id
    signer_keys: dict[str, DeviceKey] = {}
    if not session.in_transaction():  # the checks only read: each statement on its own, no BEGIN and COMMIT
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        opened = open_envelope(envelope, keys.all_sealing, _signer_lookup(session, signer_keys, device),
                               expected_record_id=record_id, expected_device_id=device_id)
        _check_text(opened.record)
        submits_assignment = _check_policy(session, opened, signer_keys)
        _check_schema(opened.record)
        _check_suspicions(session, opened.record)
        checked = _Checked(opened, _rescore(opened.record), len(canonical_bytes(envelope)), submits_assignment)
    except EnvelopeError as exc:
        raise _refuse(session, device_id, record_id, _status_for(exc), exc.reason_code, exc.message_zh, now) from None
    except IngestRefused as exc:
        raise _refuse(session, device_id, record_id, exc.status, exc.reason, exc.message, now) from None
    session.commit()  # (nothing to commit: read-only checks) hold no pooled connection while queueing for the log
    for _ in range(_APPEND_ATTEMPTS):
        try:
            outcome = _append(session, log, checked, now)
        except IntegrityError:  # a conflict the log's lock does not cover (everything was rolled back): again
            continue
        if isinstance(outcome, IngestRefused):
            raise _refuse(session, device_id, record_id, outcome.status, outcome.reason, outcome.message, now)
        return outcome
    raise IngestRefused(503, "busy", "局端繁忙，请稍后重试")


# --- blobs ----------------------------------------------------------------------------------------------------

_upload_locks = [threading.Lock() for _ in range(64)]  # one upload's chunks are appended one at a time


def _upload_lock(sha256: str, device_id: str) -> threading.Lock:
    return _upload_locks[hash((sha256, device_id)) % len(_upload_locks)]


def _state(sha256: str, opener: BlobOpener, received: int) -> UploadState:
    complete = received == opener.chunk_count
    return UploadState(sha256, complete, received, opener.chunk_count,
                       received * (opener.chunk_size + 16) if not complete else _sealed_size(opener))


def _sealed_size(opener: BlobOpener) -> int:
    return opener.size + 16 * opener.chunk_count


def _complete(sha256: str, size: int) -> UploadState:
    return UploadState(sha256, True, 0, 0, size)


def _expected(session: Session, sha256: str, device_id: str, now: datetime) -> RecordBlob:
    """The sending device's accepted record's entry for this blob, else refused (403). Asked before anything about
    the blob itself, so the answer is the same whether or not the bureau holds it."""
    expected = session.exec(select(RecordBlob).join(ReceivedRecord,
                                                    (col(ReceivedRecord.record_id) == RecordBlob.record_id)
                                                    & (col(ReceivedRecord.version) == RecordBlob.version))
                            .where(RecordBlob.sha256 == sha256, ReceivedRecord.device_id == device_id)).first()
    if expected is None:
        raise _refuse(session, device_id, sha256, 403, "blob_not_expected", "该附件不在本设备已被接收的检查记录中", now)
    return expected


def _open_header(session: Session, keys: BureauKeys, device_id: str, sha256: str, header: Any,
                 now: datetime) -> BlobOpener:
    try:
        opener = open_blob_header(header, keys.all_sealing)
    except EnvelopeError as exc:
        raise _refuse(session, device_id, sha256, 422, exc.reason_code, exc.message_zh, now) from None
    if opener.blob_sha256 != sha256 or opener.device_id != device_id:
        raise _refuse(session, device_id, sha256, 422, "blob_header_mismatch", "附件封装头与请求的附件或设备不符", now)
    return opener


def start_blob(session: Session, settings: BureauSettings, keys: BureauKeys, device: DeviceKey, sha256: str,
               header: Any, now: datetime) -> UploadState:
    """Begin or resume an upload; the answer says how many chunks the bureau already holds (or that it has the
    whole blob). The same header again keeps the upload; a different one (the device lost its sealed copy)
    starts it over."""
    device_id = device.device_id
    expected = _expected(session, sha256, device_id, now)
    if expected.media_type not in ALLOWED_BLOBS:
        raise _refuse(session, device_id, sha256, 422, "blob_type_not_allowed",
                      f"局端只接收 {'、'.join(ALLOWED_BLOBS)} 附件，检查记录中该附件声明为 {expected.media_type}", now)
    opener = _open_header(session, keys, device_id, sha256, header, now)
    if opener.size != expected.size:
        raise _refuse(session, device_id, sha256, 422, "blob_size_mismatch", "附件大小与检查记录的附件清单不符", now)
    session.commit()  # as in accept_record: no connection held while waiting for the lock
    with _upload_lock(sha256, device_id):
        stored = session.get(StoredBlob, sha256)
        if stored is not None:
            return _complete(sha256, stored.size)
        upload = session.get(BlobUpload, (sha256, device_id))
        if upload is not None and upload.header == header:
            return _state(sha256, opener, _held(part_path(settings, sha256, device_id), opener, upload))
        upload = upload or BlobUpload(sha256=sha256, device_id=device_id, header=header)
        upload.header, upload.received_chunks, upload.updated_at = header, 0, now
        session.add(upload)
        part = part_path(settings, sha256, device_id)
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"")
        session.commit()
        return _state(sha256, opener, 0)


def _held(part: Path, opener: BlobOpener, upload: BlobUpload) -> int:
    """The chunks received that the part file still holds: fewer than the database says after a crash that lost the
    file's tail, or the whole file (see `_finish_blob`)."""
    return min(upload.received_chunks, part.stat().st_size // opener.chunk_size if part.exists() else 0)


def _append_chunk(part: Path, position: int, plain: bytes) -> None:
    with os.fdopen(os.open(part, os.O_RDWR | os.O_CREAT, 0o666), "r+b") as handle:  # created again if a crash lost it
        handle.truncate(position)  # bytes past the confirmed offset are from a write whose commit never happened
        handle.seek(position)
        handle.write(plain)
        handle.flush()
        os.fsync(handle.fileno())


def _content_problem(part: Path, sha256: str, declared: str) -> tuple[str, str] | None:
    """(reason, message) when the assembled blob may not be stored: it must hash to its name, and its bytes must be
    the media type its record declared, which start_blob saw is one the bureau takes."""
    if file_sha256(part) != sha256:
        return "blob_hash_mismatch", "附件内容与其哈希不符，已丢弃，请重新发送"
    sniffed = sniff_media_type(file_head(part))
    if sniffed != declared:
        return "blob_content_mismatch", (f"附件内容不是检查记录声明的 {declared}（局端识别为 "
                                         f"{sniffed or '局端不接收的格式'}），已丢弃")
    return None


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _finish_blob(session: Session, settings: BureauSettings, upload: BlobUpload, opener: BlobOpener,
                 media_type: str, now: datetime) -> None:
    """Verify the whole blob against its name and declared media type and move it into the content-addressed
    store, then commit. A crash between the move and the commit leaves a correct file that no row names and an upload
    one chunk short whose part file is gone: the device's next attempt starts it over (`_held`), and the file is
    replaced by the same bytes. Committing first instead could name a file that never arrived."""
    part = part_path(settings, upload.sha256, upload.device_id)
    problem = _content_problem(part, upload.sha256, media_type)
    if problem is not None:
        part.unlink(missing_ok=True)
        session.delete(upload)
        session.commit()
        raise _refuse(session, upload.device_id, upload.sha256, 422, *problem, now)
    target = blob_path(settings, upload.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    _fsync_directory(target.parent)  # the move survives a power loss before the row does
    session.delete(upload)
    session.add(StoredBlob(sha256=upload.sha256, size=opener.size, media_type=media_type, stored_at=now))
    try:
        session.commit()
    except IntegrityError:  # the same blob finished from another device at the same moment
        session.rollback()
        session.delete(session.get(BlobUpload, (upload.sha256, upload.device_id)))
        session.commit()


def put_chunk(session: Session, settings: BureauSettings, keys: BureauKeys, device: DeviceKey, sha256: str,
              index: int, chunk: bytes, now: datetime) -> UploadState:
    """Append chunk `index` of an upload. Only the next chunk is taken; one already held is acknowledged again
    (a duplicated request), one further on is refused with 409 so the device asks where to continue."""
    device_id = device.device_id
    declared = _expected(session, sha256, device_id, now).media_type
    session.commit()  # as in start_blob: no connection held while waiting for the lock
    with _upload_lock(sha256, device_id):
        stored = session.get(StoredBlob, sha256)
        if stored is not None:
            _bump(session, DUPLICATES_COUNTER)
            session.commit()
            return _complete(sha256, stored.size)
        upload = session.exec(select(BlobUpload).where(BlobUpload.sha256 == sha256, BlobUpload.device_id == device_id)
                              .with_for_update()).first()
        if upload is None:
            raise IngestRefused(409, "upload_not_started", "附件上传尚未开始：请先发送附件封装头")
        opener = _open_header(session, keys, device_id, sha256, upload.header, now)
        part = part_path(settings, sha256, device_id)
        held = _held(part, opener, upload)
        if held != upload.received_chunks:  # the file lost what the database promised (a crash): go back
            upload.received_chunks = held
            session.add(upload)
            session.commit()
        if index < held:
            _bump(session, DUPLICATES_COUNTER)
            session.commit()
            return _state(sha256, opener, held)
        if index > held:
            raise IngestRefused(409, "chunk_out_of_order", f"局端已确认 {held} 个分块，请从第 {held} 块继续")
        try:
            plain = opener.open_chunk(index, chunk)
        except EnvelopeError as exc:
            raise _refuse(session, device_id, sha256, 422, exc.reason_code, exc.message_zh, now) from None
        _append_chunk(part, index * opener.chunk_size, plain)
        upload.received_chunks, upload.updated_at = index + 1, now
        session.add(upload)
        if upload.received_chunks == opener.chunk_count:
            _finish_blob(session, settings, upload, opener, declared, now)
            return _state(sha256, opener, opener.chunk_count)
        session.commit()
        return _state(sha256, opener, upload.received_chunks)


# --- updates for devices, statistics --------------------------------------------------------------------------

def updates_for(session: Session, keys: BureauKeys, inspector_code: str, since: int) -> dict[str, Any]:
    """What a device pulls besides its assignments: correction requests for its inspector's teams after `since`,
    and every bureau key rotation statement (a handful at most; the device follows the signed chain)."""
    rows = session.exec(select(CorrectionRequest)
                        .join(AssignmentMember, col(AssignmentMember.assignment_id) == CorrectionRequest.assignment_id)
                        .where(AssignmentMember.inspector_code == inspector_code, CorrectionRequest.seq > since)
                        .order_by(col(CorrectionRequest.seq))).all()
    corrections = [{"id": r.id, "record_id": r.record_id, "version": r.version, "assignment_id": r.assignment_id,
                    "reason": r.reason, "status": r.status, "seq": r.seq,
                    "requested_at": r.requested_at.isoformat()} for r in rows]
    return {"cursor": max([since, *(r.seq for r in rows)]), "corrections": corrections,
            "key_updates": list(keys.rotations)}


def stats(session: Session) -> dict[str, int]:
    """The `yibao bureau stats` numbers."""
    def count(model) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    duplicates = session.get(Counter, DUPLICATES_COUNTER)
    return {"records": count(ReceivedRecord), "blobs": count(StoredBlob),
            "blob_bytes": int(session.exec(select(func.coalesce(func.sum(StoredBlob.size), 0))).one()),
            "rejected": count(Rejection), "duplicates_ignored": duplicates.value if duplicates else 0,
            "log_size": count(LogLeaf)}
