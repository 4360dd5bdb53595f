"""The 案卷 of a case as one ZIP that verifies offline: every document as PDF, each version of the signed record
(with the device keys that signed it), its receipt (the merkle inclusion proof and the signed tree head), the
photos and attachments, the audit log of review events with their hash chain, and a manifest naming the SHA-256 of
every file, signed by the bureau.

`export_case` gathers it from the database (the imperative part) and writes it to a file member by member, each
rendered or copied when its turn comes and hashed as it is written, the manifest last (never the whole archive in
memory); `verify_case_file` checks a ZIP with nothing but its bytes and, if given, the bureau's published signing
key, reusing the checks of `sync.envelope` (`verify_receipt`) and `bureau.review` (`verify_signatures`,
`chain_problems`), and names every file that fails.

Layout::

    manifest.json                    {"format", "record_id", "created_at", "bureau_signing_key", "files": {path: sha256},
                                      "signature"}
    documents/<title>-<number>.pdf   决定书, 协议处理通知书, 移送书 (`bureau.decision_pdf.case_documents`), and the
                                     告知书 and 听证 documents the procedure made, each notice served (one replaced by
                                     a 重新告知 too) with its hearing's, and each 暂停医疗保障基金结算通知书
                                     (`bureau.proceedings.documents_on_file`)
    record/v<N>.json                 {"record", "record_hash", "signatures", "device_keys", "log_index"}
    receipts/v<N>.json               the log receipt of version N
    evidence/<sha256>                photos and the 陈述申辩 attachment, named by their hash
    audit/events.json                {"events": [...], "count", "head"}
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, col, select

from bureau import decisions, proceedings, review
from bureau.assignments import utc_iso
from bureau.blobs import blob_path
from bureau.decision_pdf import case_documents, render_case_document
from bureau.models import DeviceKey, ReceivedRecord, RecordBlob, ReviewCase, ReviewEvent, StoredBlob
from bureau.procedure_pdf import render_procedure_pdf
from bureau.settings import BureauSettings
from sync.canonical import canonical_bytes
from sync.envelope import verify_receipt
from sync.errors import EnvelopeError
from sync.keys import b64encode, public_key_to_b64, signing_public_from_b64

FORMAT = "yibao-case-file-v1"
MANIFEST = "manifest.json"
_SIGNING_DOMAIN = b"yibao-case-file-v1\x00"
_VERSION_FILE = re.compile(r"^record/v([1-9][0-9]*)\.json$")
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # a photo or a PDF; larger entries are refused before reading


class ReceiptSource(Protocol):
    def receipt(self, session: Session, record_id: str, record_hash: str, index: int) -> dict[str, Any]: ...


# ============================================================ export


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _manifest_message(manifest: Mapping[str, Any]) -> bytes:
    return _SIGNING_DOMAIN + canonical_bytes({k: v for k, v in manifest.items() if k != "signature"})


def _device_keys(session: Session, signatures: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = {}
    for signature in signatures:
        row = session.get(DeviceKey, signature["key_id"])
        if row is not None:
            keys[row.key_id] = {"public_key": row.public_key, "inspector": row.inspector_code, "status": row.status,
                                "device_id": row.device_id}
    return keys


Content = bytes | Path  # a member's bytes, or the file they are copied from (a photo is never read whole)
_CHUNK = 1 << 20


def case_members(session: Session, settings: BureauSettings, record_id: str,
                 log: ReceiptSource) -> Iterator[tuple[str, Content]]:
    """Every file of the 案卷 but the manifest, one at a time: each document is rendered only when its turn comes.
    ReviewError 404 for an unknown case (at once, before the first file)."""
    case = session.get(ReviewCase, record_id)
    if case is None:
        raise review.ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    return _members(session, settings, case, log)


def _members(session: Session, settings: BureauSettings, case: ReviewCase,
             log: ReceiptSource) -> Iterator[tuple[str, Content]]:
    record_id = case.record_id
    try:
        data = decisions.decision_for_pdf(session, record_id)
    except review.ReviewError:
        data = None  # not decided: the 案卷 holds the record and its log so far
    if data is not None:
        for document in case_documents(data):
            yield f"documents/{document.file_name}", render_case_document(data, document.key)
    for key, count in proceedings.documents_on_file(case.procedure or {}):  # every 告知书 served, every 听证 document
        procedural = proceedings.document_data(session, record_id, key, count)
        yield f"documents/{proceedings.file_name(procedural)}", render_procedure_pdf(procedural)
    evidence: set[str] = set()
    versions = session.exec(select(ReceivedRecord).where(ReceivedRecord.record_id == record_id)
                            .order_by(col(ReceivedRecord.version))).all()
    for row in versions:
        yield f"record/v{row.version}.json", _json({
            "record": row.record, "record_hash": row.record_hash, "signatures": row.signatures,
            "device_keys": _device_keys(session, row.signatures), "log_index": row.log_index})
        yield f"receipts/v{row.version}.json", _json(log.receipt(session, record_id, row.record_hash, row.log_index))
        for blob in session.exec(select(RecordBlob).where(RecordBlob.record_id == record_id,
                                                          RecordBlob.version == row.version)):
            # one not uploaded yet is left out: verify names it missing
            if blob.sha256 not in evidence and session.get(StoredBlob, blob.sha256) is not None:
                evidence.add(blob.sha256)
                yield f"evidence/{blob.sha256}", blob_path(settings, blob.sha256)
    if case.attachment_sha256 and case.attachment_sha256 not in evidence:
        yield f"evidence/{case.attachment_sha256}", review.statement_path(settings.data_dir, case.attachment_sha256)
    events = session.exec(select(ReviewEvent).where(ReviewEvent.record_id == record_id)
                          .order_by(col(ReviewEvent.seq))).all()
    yield "audit/events.json", _json({
        "events": [{**review.event_content(e), "prev_hash": e.prev_hash, "event_hash": e.event_hash} for e in events],
        "count": case.events, "head": case.last_event_hash})


def _chunks(content: Content) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
        return
    with open(content, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def write_case_file(out: BinaryIO, record_id: str, members: Iterable[tuple[str, Content]],
                    signing_key: Ed25519PrivateKey, now: datetime) -> None:
    """The ZIP of `members` into `out` (seekable), written one by one and hashed as they are written, then their
    manifest, signed; every entry dated `now`."""
    stamp = now.timetuple()[:6]
    digests: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            digest = hashlib.sha256()
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as entry:
                for chunk in _chunks(content):
                    digest.update(chunk)
                    entry.write(chunk)
            digests[name] = digest.hexdigest()
        manifest: dict[str, Any] = {
            "format": FORMAT, "record_id": record_id, "created_at": utc_iso(now),
            "bureau_signing_key": public_key_to_b64(signing_key.public_key()), "files": dict(sorted(digests.items()))}
        manifest["signature"] = b64encode(signing_key.sign(_manifest_message(manifest)))
        archive.writestr(zipfile.ZipInfo(MANIFEST, date_time=stamp), _json(manifest), zipfile.ZIP_DEFLATED)


def pack(record_id: str, files: Mapping[str, bytes], signing_key: Ed25519PrivateKey, now: datetime) -> bytes:
    """`write_case_file` of `files` in name order, in memory."""
    out = io.BytesIO()
    write_case_file(out, record_id, sorted(files.items()), signing_key, now)
    return out.getvalue()


def export_case(session: Session, settings: BureauSettings, record_id: str, log: ReceiptSource,
                signing_key: Ed25519PrivateKey, now: datetime, out: Path) -> None:
    """The 案卷 written to `out`, streaming, through a temporary file beside it that takes its name once complete:
    nothing is left at `out` when it fails."""
    members = case_members(session, settings, record_id, log)
    fd, name = tempfile.mkstemp(prefix=".case-file-", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write_case_file(handle, record_id, members, signing_key, now)
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def file_name(record_id: str) -> str:
    return f"案卷-{record_id}.zip"


# ============================================================ verification (pure)


def _read(archive: zipfile.ZipFile, name: str, problems: list[str]) -> bytes | None:
    info = archive.getinfo(name)
    if info.file_size > MAX_ENTRY_BYTES:
        problems.append(f"{name}：文件过大（{info.file_size} 字节）")
        return None
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a damaged entry (its CRC, its compressed bytes)
        problems.append(f"{name}：无法读取（{exc}）")
        return None


def _load_json(name: str, content: bytes, problems: list[str]) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        problems.append(f"{name}：不是有效的 JSON")
        return None


def _manifest(archive: zipfile.ZipFile, pinned: Ed25519PublicKey | None,
              problems: list[str]) -> tuple[dict[str, Any], Ed25519PublicKey] | None:
    if MANIFEST not in archive.namelist():
        problems.append(f"{MANIFEST}：案卷中没有清单")
        return None
    content = _read(archive, MANIFEST, problems)
    manifest = _load_json(MANIFEST, content, problems) if content is not None else None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("signature"), str)):
        if content is not None:
            problems.append(f"{MANIFEST}：清单格式不正确（应为 {FORMAT}）")
        return None
    try:
        key = pinned or signing_public_from_b64(manifest["bureau_signing_key"])
        if pinned is not None and public_key_to_b64(pinned) != manifest.get("bureau_signing_key"):
            problems.append(f"{MANIFEST}：案卷所载医保局公钥与指定的公钥不同")
        key.verify(base64.b64decode(manifest["signature"], validate=True), _manifest_message(manifest))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        problems.append(f"{MANIFEST}：清单的医保局签名无效（清单被改动，或不是该医保局签发）")
        return None
    return manifest, key


def _check_record(name: str, entry: Any, problems: list[str]) -> None:
    if not isinstance(entry, dict) or not {"record", "record_hash", "signatures", "device_keys"} <= set(entry):
        problems.append(f"{name}：检查记录文件格式不正确")
        return
    try:
        checked = review.verify_signatures(entry["record"], entry["record_hash"], entry["signatures"],
                                           entry["device_keys"])
    except (KeyError, TypeError, ValueError, AttributeError):
        problems.append(f"{name}：检查记录的签名或设备公钥格式不正确")
        return
    if not checked["record_hash_ok"]:
        problems.append(f"{name}：检查记录内容与其哈希不符")
    for signature in checked["signatures"]:
        if not signature["valid"]:
            problems.append(f"{name}：检查人员 {signature['inspector']} 的签名无效")
    if not checked["signatures"]:
        problems.append(f"{name}：检查记录没有检查人员签名")


def _check_receipt(name: str, receipt: Any, entry: Any, record_id: str, key: Ed25519PublicKey,
                   problems: list[str]) -> None:
    if not isinstance(entry, dict):
        return
    try:
        verify_receipt(receipt, str(entry.get("record_hash")), key, record_id=record_id)
    except EnvelopeError as exc:
        problems.append(f"{name}：{exc.message_zh}")
        return
    if receipt["log_index"] != entry.get("log_index"):
        problems.append(f"{name}：回执的日志序号与检查记录所载不同")


def _check_events(name: str, audit: Any, record_id: str, problems: list[str]) -> None:
    try:
        rows = [ReviewEvent(record_id=e["record_id"], seq=e["seq"], version=e["version"], action=e["action"],
                            from_status=e["from_status"], to_status=e["to_status"], actor=e["actor"],
                            actor_role=e["actor_role"], at=datetime.fromisoformat(e["at"].removesuffix("Z")),
                            reason=e["reason"], details=e["details"], prev_hash=e["prev_hash"],
                            event_hash=e["event_hash"]) for e in audit["events"]]
        count, head = int(audit["count"]), str(audit["head"])
    except (KeyError, TypeError, ValueError, AttributeError):
        problems.append(f"{name}：审计记录格式不正确")
        return
    problems.extend(f"{name}：{p}" for p in review.chain_problems(rows, count, head))
    if any(row.record_id != record_id for row in rows):
        problems.append(f"{name}：含有其他案件的审计记录")


def _zip(source: Path | bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source))


def verify_case_file(source: Path | bytes, pinned: Ed25519PublicKey | None = None) -> list[str]:
    """Every problem of the 案卷 (a file, or its bytes), each naming its file (empty: it verifies). Checks the
    manifest's signature, each file against its SHA-256 and the evidence against its name, each record version's
    signatures, its receipt against the bureau's key, the photos each record names, and the audit log's hash chain.
    Entries are read one at a time; only the JSON ones are kept. OSError when the file cannot be read."""
    try:
        archive = _zip(source)
    except zipfile.BadZipFile:
        return ["案卷不是有效的 ZIP 文件"]
    problems: list[str] = []
    with archive:
        loaded = _manifest(archive, pinned, problems)
        if loaded is None:
            return problems
        manifest, key = loaded
        listed: dict[str, str] = manifest["files"]
        names = set(archive.namelist()) - {MANIFEST}
        problems.extend(f"{name}：不在清单中（案卷被加入了文件）" for name in sorted(names - set(listed)))
        problems.extend(f"{name}：清单中有，案卷中缺失" for name in sorted(set(listed) - names))
        files: dict[str, bytes] = {}  # the JSON entries
        readable: set[str] = set()
        for name in sorted(names & set(listed)):
            data = _read(archive, name, problems)
            if data is None:
                continue
            readable.add(name)
            if hashlib.sha256(data).hexdigest() != listed[name]:
                problems.append(f"{name}：内容与清单所载 SHA-256 不符（文件被改动）")
            elif name.startswith("evidence/") and hashlib.sha256(data).hexdigest() != name.removeprefix("evidence/"):
                problems.append(f"{name}：内容与其哈希文件名不符")
            if name.endswith(".json"):
                files[name] = data
    record_id = manifest["record_id"]
    for name in sorted(n for n in files if _VERSION_FILE.match(n)):
        entry = _load_json(name, files[name], problems)
        _check_record(name, entry, problems)
        receipt_name = f"receipts/{Path(name).name}"
        if receipt_name in files:
            receipt = _load_json(receipt_name, files[receipt_name], problems)
            _check_receipt(receipt_name, receipt, entry, record_id, key, problems)
        else:
            problems.append(f"{receipt_name}：缺少该版本检查记录的日志回执")
        record = entry.get("record") if isinstance(entry, dict) else None
        photos = record.get("photos") if isinstance(record, dict) else None
        for photo in photos if isinstance(photos, list) else []:
            sha = photo.get("sha256") if isinstance(photo, dict) else None
            if isinstance(sha, str) and f"evidence/{sha}" not in readable:
                problems.append(f"evidence/{sha}：{name} 所载照片不在案卷中")
    if "audit/events.json" in files:
        _check_events("audit/events.json", _load_json("audit/events.json", files["audit/events.json"], problems),
                      record_id, problems)
    else:
        problems.append("audit/events.json：缺少审计记录")
    if not any(_VERSION_FILE.match(n) for n in listed):
        problems.append("record/：案卷中没有检查记录")
    return problems


def summary(source: Path | bytes) -> dict[str, Any]:
    """What a verified 案卷 holds (for the command's report): the record id and the files by folder."""
    with _zip(source) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    folders: dict[str, int] = {}
    for name in manifest["files"]:
        folder = name.split("/", 1)[0]
        folders[folder] = folders.get(folder, 0) + 1
    return {"record_id": manifest["record_id"], "created_at": manifest["created_at"], "files": folders,
            "documents": sorted(n.removeprefix("documents/") for n in manifest["files"] if n.startswith("documents/"))}
