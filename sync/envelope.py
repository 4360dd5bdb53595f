"""The record envelope: a locked inspection record, signed by the inspectors' device keys, sealed to the bureau.

Flow (DESIGN.md data flow 4-7):

1. `build_record(fields, blobs)` -> the record (a dict, with the blob manifest under ``"blobs"``);
   ``record_hash = content_hash(record)``.
2. `sign_record(record_hash, device_key, inspector)` per signing inspector; the signature covers
   ``b"yibao-record-v1\\n" + record_hash`` (ASCII hex).
3. `seal_record(record, signatures, bureau_public)` -> the outer envelope, a JSON-able dict::

       {"format": "yibao-envelope-v1", "record_id", "device_id", "bureau_key_id", "ciphertext_b64"}

   ``ciphertext_b64`` is a single-shot HPKE (RFC 9180, ML-KEM-768+X25519 / HKDF-SHA256 / AES-256-GCM) seal of
   ``canonical_bytes({"record", "record_hash", "signatures"})`` with
   ``info = b"yibao-envelope-v1|" + record_id + b"|" + device_id``, so a ciphertext moved to another record id or
   device does not open. HPKE base mode does not authenticate the sender (anyone holding the bureau's public key can
   seal), so the inner record's own ``record_id``/``device_id`` must match the header too: those are covered by the
   inspectors' signatures.
4. `open_envelope(...)` at the bureau -> `OpenedRecord`, or `EnvelopeError(reason_code, message_zh)`.
5. Blobs (photos): `seal_blob_chunks` / `open_blob_header` / `open_blob`; see `seal_blob_chunks` for the construction.
6. Receipts: `log_leaf_hash`, `build_receipt`, `verify_receipt`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync import merkle
from sync.canonical import canonical_bytes, content_hash, loads_canonical
from sync.errors import EnvelopeError, MerkleProofError
from sync.keys import SUITE, SealingPrivateKey, SealingPublicKey, b64decode_strict, b64encode, key_id

ENVELOPE_FORMAT = "yibao-envelope-v1"
BLOB_FORMAT = "yibao-blob-v1"
RECORD_SIGNING_DOMAIN = b"yibao-record-v1\n"
_ENVELOPE_INFO = b"yibao-envelope-v1|"
_BLOB_KEY_INFO = b"yibao-blob-key-v1|"
_BLOB_CHUNK_AAD = b"yibao-blob-chunk-v1|"
_LOG_ENTRY_DOMAIN = b"yibao-log-entry-v1\n"

DEFAULT_CHUNK_SIZE = 256 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_BLOB_SIZE = 1024 * 1024 * 1024
MAX_CHUNK_COUNT = 65536
_GCM_TAG = 16

# Ids go into HPKE info strings joined by "|", so they may not contain it (nor anything else surprising).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{32}")
_MEDIA_TYPE = re.compile(r"[a-z]+/[A-Za-z0-9.+-]+")

REQUIRED_RECORD_FIELDS = ("record_id", "version", "device_id", "assignment_id", "institution_code", "template_id",
                          "template_hash", "answers", "findings", "created_at")
_TEXT_FIELDS = ("assignment_id", "institution_code", "template_id", "template_hash", "created_at")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


# --- the record -----------------------------------------------------------------------------------------------

def _manifest_problem(blobs: Any) -> str | None:
    if not isinstance(blobs, list):
        return "附件清单必须是列表"
    seen = set()
    for position, blob in enumerate(blobs):
        where = f"附件清单第 {position + 1} 项"
        if not isinstance(blob, dict) or set(blob) != {"sha256", "size", "media_type"}:
            return f"{where}必须恰好包含 sha256、size、media_type"
        if not _is_sha256(blob["sha256"]):
            return f"{where}的 sha256 不是 64 位小写十六进制"
        if type(blob["size"]) is not int or not 0 <= blob["size"] <= MAX_BLOB_SIZE:
            return f"{where}的 size 不正确"
        if not isinstance(blob["media_type"], str) or not _MEDIA_TYPE.fullmatch(blob["media_type"]):
            return f"{where}的 media_type 不正确"
        if blob["sha256"] in seen:
            return f"{where}与前面的附件重复"
        seen.add(blob["sha256"])
    return None


def _record_problem(record: Any) -> str | None:
    """What is wrong with a record (in Chinese), or None. Checks only what the protocol relies on."""
    if not isinstance(record, dict):
        return "检查记录必须是 JSON 对象"
    missing = [name for name in (*REQUIRED_RECORD_FIELDS, "blobs") if name not in record]
    if missing:
        return f"检查记录缺少字段：{'、'.join(missing)}"
    if not _is_id(record["record_id"]) or not _is_id(record["device_id"]):
        return "record_id 或 device_id 格式不正确（字母数字及 . _ : -，最长 128）"
    version = record["version"]
    if type(version) is not int or version < 1:
        return "version 必须是正整数"
    if version == 1 and "previous_hash" in record:
        return "首个版本不能带 previous_hash"
    if version > 1 and not _is_sha256(record.get("previous_hash")):
        return "更正版本必须带上一版本的 previous_hash（64 位小写十六进制）"
    if any(not isinstance(record[name], str) or not record[name] for name in _TEXT_FIELDS):
        return f"{'、'.join(_TEXT_FIELDS)} 必须是非空字符串"
    return _manifest_problem(record["blobs"])


def build_record(fields: Mapping[str, Any], blobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The locked record: the device's `fields` plus the blob manifest ``[{sha256, size, media_type}]`` under
    ``"blobs"`` (order kept, duplicates refused). Raises ValueError on a record the bureau would refuse, TypeError
    (naming the path) on a float anywhere."""
    if "blobs" in fields:
        raise ValueError("附件清单由 blobs 参数提供，fields 中不能再有 blobs")
    record = {**fields, "blobs": [dict(blob) for blob in blobs]}
    problem = _record_problem(record)
    if problem:
        raise ValueError(problem)
    canonical_bytes(record)  # refuse floats and the like now, on the device, not at the bureau
    return record


def _signing_message(record_hash: str) -> bytes:
    return RECORD_SIGNING_DOMAIN + record_hash.encode("ascii")


def sign_record(record_hash: str, device_signing_key: Ed25519PrivateKey, inspector: str) -> dict[str, str]:
    """One inspector's signature: ``{"key_id", "inspector", "signature_b64"}``."""
    if not _is_sha256(record_hash):
        raise ValueError("record_hash must be 64 lowercase hex digits")
    if not isinstance(inspector, str) or not inspector:
        raise ValueError("inspector must be a non-empty string")
    signature = device_signing_key.sign(_signing_message(record_hash))
    return {"key_id": key_id(device_signing_key.public_key()), "inspector": inspector,
            "signature_b64": b64encode(signature)}


def _signature_shape_ok(signature: Any) -> bool:
    return (isinstance(signature, dict) and set(signature) == {"key_id", "inspector", "signature_b64"}
            and isinstance(signature["key_id"], str) and _KEY_ID.fullmatch(signature["key_id"]) is not None
            and isinstance(signature["inspector"], str) and bool(signature["inspector"])
            and isinstance(signature["signature_b64"], str))


def _envelope_info(record_id: str, device_id: str) -> bytes:
    return _ENVELOPE_INFO + record_id.encode("ascii") + b"|" + device_id.encode("ascii")


def seal_record(record: dict[str, Any], signatures: Sequence[dict[str, str]],
                bureau_public: SealingPublicKey) -> dict[str, str]:
    """Seal a signed record to the bureau. The header's device id is the record's own ``device_id``."""
    problem = _record_problem(record)
    if problem:
        raise ValueError(problem)
    if not signatures or not all(_signature_shape_ok(s) for s in signatures):
        raise ValueError("need at least one signature from sign_record")
    record_hash = content_hash(record)
    bundle = canonical_bytes({"record": record, "record_hash": record_hash, "signatures": list(signatures)})
    ciphertext = SUITE.encrypt(bundle, bureau_public.hpke_key(),
                               info=_envelope_info(record["record_id"], record["device_id"]))
    return {"format": ENVELOPE_FORMAT, "record_id": record["record_id"], "device_id": record["device_id"],
            "bureau_key_id": key_id(bureau_public), "ciphertext_b64": b64encode(ciphertext)}


@dataclass(frozen=True)
class KnownSigner:
    """What the bureau's device registry says about a signing key."""
    public_key: Ed25519PublicKey
    inspector: str  # the inspector the key was enrolled for
    revoked: bool = False


@dataclass(frozen=True)
class OpenedRecord:
    record_id: str
    device_id: str
    bureau_key_id: str
    record: dict[str, Any]
    record_hash: str
    signatures: list[dict[str, str]]


def _keys_by_id(bureau_keys: SealingPrivateKey | Iterable[SealingPrivateKey]) -> dict[str, SealingPrivateKey]:
    keys = [bureau_keys] if isinstance(bureau_keys, SealingPrivateKey) else list(bureau_keys)
    return {key_id(key.public_key()): key for key in keys}


def _bad_format(message_zh: str = "封装格式错误") -> EnvelopeError:
    return EnvelopeError("bad_format", message_zh)


def _parse_envelope(envelope: Any) -> bytes:
    """Checks the outer envelope's shape; returns the decoded ciphertext."""
    if not isinstance(envelope, dict) or set(envelope) != {"format", "record_id", "device_id", "bureau_key_id",
                                                           "ciphertext_b64"}:
        raise _bad_format("封装字段不正确")
    if envelope["format"] != ENVELOPE_FORMAT:
        raise _bad_format("不支持的封装格式")
    if not _is_id(envelope["record_id"]) or not _is_id(envelope["device_id"]):
        raise _bad_format("封装中的 record_id 或 device_id 格式不正确")
    if not isinstance(envelope["bureau_key_id"], str) or not _KEY_ID.fullmatch(envelope["bureau_key_id"]):
        raise _bad_format("封装中的机构密钥标识格式不正确")
    try:
        return b64decode_strict(envelope["ciphertext_b64"])
    except ValueError:
        raise _bad_format("密文不是规范的 base64") from None


def _check_signatures(record_hash: str, signatures: Any, signer_lookup: Callable[[str], KnownSigner | None]) -> None:
    if not isinstance(signatures, list) or not all(_signature_shape_ok(s) for s in signatures):
        raise EnvelopeError("bad_record", "签名列表格式错误")
    if not signatures:
        raise EnvelopeError("no_signatures", "检查记录没有签名")
    if len({s["key_id"] for s in signatures}) != len(signatures):
        raise EnvelopeError("duplicate_signer", "同一密钥重复签名")
    message = _signing_message(record_hash)
    for signature in signatures:
        signer = signer_lookup(signature["key_id"])
        if signer is None:
            raise EnvelopeError("signer_unknown", f"签名密钥未登记：{signature['key_id']}")
        if signer.revoked:
            raise EnvelopeError("signer_revoked", f"签名密钥已被吊销：{signature['key_id']}")
        if signer.inspector != signature["inspector"]:
            raise EnvelopeError("signer_inspector_mismatch",
                                f"签名密钥登记的检查人员与签名所称的 {signature['inspector']} 不符")
        try:
            signer.public_key.verify(b64decode_strict(signature["signature_b64"]), message)
        except (InvalidSignature, ValueError):
            raise EnvelopeError("signature_invalid", f"{signature['inspector']} 的签名无效") from None


def open_envelope(envelope: Any, bureau_keys: SealingPrivateKey | Iterable[SealingPrivateKey],
                  signer_lookup: Callable[[str], KnownSigner | None], *,
                  expected_record_id: str | None = None, expected_device_id: str | None = None) -> OpenedRecord:
    """Open and verify an envelope, or raise EnvelopeError with one of these reason codes:

    bad_format, record_id_mismatch, device_id_mismatch, unknown_bureau_key, decrypt_failed, bad_record,
    record_hash_mismatch, no_signatures, duplicate_signer, signer_unknown, signer_revoked,
    signer_inspector_mismatch, signature_invalid.

    `bureau_keys`: the bureau's sealing key, or all of them (current and rotated-out), chosen by key id.
    `signer_lookup(key_id)`: the registry's view of a device signing key, None if unknown. Whether a key revoked
    after the record was signed still counts is the caller's decision, expressed through `revoked`.
    `expected_*`: what the transport says (the URL, the authenticated device); a mismatch is refused.
    """
    ciphertext = _parse_envelope(envelope)
    record_id, device_id = envelope["record_id"], envelope["device_id"]
    if expected_record_id is not None and record_id != expected_record_id:
        raise EnvelopeError("record_id_mismatch", "封装的检查记录编号与请求不符")
    if expected_device_id is not None and device_id != expected_device_id:
        raise EnvelopeError("device_id_mismatch", "封装的设备编号与发送设备不符")
    bureau_key = _keys_by_id(bureau_keys).get(envelope["bureau_key_id"])
    if bureau_key is None:
        raise EnvelopeError("unknown_bureau_key", "封装使用了本机构未知的密钥，请设备更新机构公钥")
    try:
        plaintext = SUITE.decrypt(ciphertext, bureau_key.hpke_key(), info=_envelope_info(record_id, device_id))
    except (InvalidTag, ValueError):
        raise EnvelopeError("decrypt_failed", "封装无法解密：内容被改动，或被挪用到其他记录或设备") from None
    try:
        bundle = loads_canonical(plaintext)
    except ValueError:
        raise EnvelopeError("bad_record", "封装内容不是规范 JSON") from None
    if not isinstance(bundle, dict) or set(bundle) != {"record", "record_hash", "signatures"}:
        raise EnvelopeError("bad_record", "封装内容字段不正确")
    record = bundle["record"]
    problem = _record_problem(record)
    if problem:
        raise EnvelopeError("bad_record", problem)
    if record["record_id"] != record_id:
        raise EnvelopeError("record_id_mismatch", "封装头与检查记录内的记录编号不符")
    if record["device_id"] != device_id:
        raise EnvelopeError("device_id_mismatch", "封装头与检查记录内的设备编号不符")
    record_hash = content_hash(record)
    if bundle["record_hash"] != record_hash:
        raise EnvelopeError("record_hash_mismatch", "检查记录内容与其哈希不符")
    _check_signatures(record_hash, bundle["signatures"], signer_lookup)
    return OpenedRecord(record_id, device_id, envelope["bureau_key_id"], record, record_hash, bundle["signatures"])


# --- blobs ----------------------------------------------------------------------------------------------------

class SealedBlob(NamedTuple):
    header: dict[str, Any]
    chunks: list[bytes]


def _chunk_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def _blob_key_info(unsealed_header: dict[str, Any]) -> bytes:
    return _BLOB_KEY_INFO + canonical_bytes(unsealed_header)


def _chunk_nonce_and_aad(blob_sha256: str, index: int, count: int, device_id: str) -> tuple[bytes, bytes]:
    aad = _BLOB_CHUNK_AAD + f"{blob_sha256}|{index}|{count}|{device_id}".encode("ascii")
    return index.to_bytes(12, "big"), aad


def seal_blob_chunks(blob_bytes: bytes, bureau_public: SealingPublicKey, blob_sha256: str, device_id: str,
                     chunk_size: int = DEFAULT_CHUNK_SIZE) -> SealedBlob:
    """Seal a blob to the bureau as a JSON-able header plus raw chunks (send chunks as bytes, not base64).

    Header: ``{"format": "yibao-blob-v1", "blob_sha256", "device_id", "bureau_key_id", "size", "chunk_size",
    "chunk_count", "sealed_key_b64"}``; chunk i is AES-256-GCM ciphertext + 16-byte tag.

    Construction: cryptography 50 exposes HPKE only as single-shot `Suite.encrypt/decrypt` (no context to reuse,
    no exporter), and each single-shot seal costs an ML-KEM-768+X25519 encapsulation and 1120 bytes. So the blob
    gets one fresh random 256-bit key, HPKE-sealed once with ``info`` = domain + canonical header (everything but
    the sealed key: blob hash, device, size, chunk size, chunk count), and each chunk is AES-256-GCM under that key
    with nonce = chunk index (96-bit big-endian; the key is never reused, so nonces never repeat) and
    aad = domain + ``blob_sha256|index|count|device_id``. An altered header no longer opens the key; a chunk moved
    to another position or another blob, or a changed count, fails its tag; a dropped chunk is a count mismatch;
    the opened whole must hash to ``blob_sha256``. Confidentiality rests on the hybrid post-quantum HPKE seal of
    the key plus AES-256. Overhead: ~1.6 KB per blob and 16 bytes per chunk.
    """
    if not _is_sha256(blob_sha256) or hashlib.sha256(blob_bytes).hexdigest() != blob_sha256:
        raise ValueError("blob_sha256 does not match the blob (corrupted in the device store?)")
    if not _is_id(device_id):
        raise ValueError("bad device_id")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE or len(blob_bytes) > MAX_BLOB_SIZE:
        raise ValueError("chunk_size or blob size out of range")
    count = _chunk_count(len(blob_bytes), chunk_size)
    if count > MAX_CHUNK_COUNT:
        raise ValueError("too many chunks: use a larger chunk_size")
    header = {"format": BLOB_FORMAT, "blob_sha256": blob_sha256, "device_id": device_id,
              "bureau_key_id": key_id(bureau_public), "size": len(blob_bytes), "chunk_size": chunk_size,
              "chunk_count": count}
    chunk_key = os.urandom(32)
    sealed_key = SUITE.encrypt(chunk_key, bureau_public.hpke_key(), info=_blob_key_info(header))
    aead = AESGCM(chunk_key)
    view = memoryview(blob_bytes)
    chunks = []
    for index in range(count):
        nonce, aad = _chunk_nonce_and_aad(blob_sha256, index, count, device_id)
        chunks.append(aead.encrypt(nonce, view[index * chunk_size:(index + 1) * chunk_size], aad))
    return SealedBlob({**header, "sealed_key_b64": b64encode(sealed_key)}, chunks)


class BlobOpener:
    """An opened blob header: opens the blob's chunks one at a time, e.g. as a resumable upload arrives."""

    def __init__(self, header: dict[str, Any], chunk_key: bytes):
        self.blob_sha256: str = header["blob_sha256"]
        self.device_id: str = header["device_id"]
        self.size: int = header["size"]
        self.chunk_size: int = header["chunk_size"]
        self.chunk_count: int = header["chunk_count"]
        self._aead = AESGCM(chunk_key)

    def open_chunk(self, index: int, chunk: bytes) -> bytes:
        """Plaintext of chunk `index`; raises EnvelopeError("blob_chunk_tampered") unless it is exactly what was
        sealed at that position of this blob."""
        if type(index) is not int or not 0 <= index < self.chunk_count:
            raise EnvelopeError("blob_chunk_tampered", f"附件分块序号 {index} 超出范围")
        last = self.chunk_count - 1
        plain_length = self.chunk_size if index < last else self.size - last * self.chunk_size
        if len(chunk) != plain_length + _GCM_TAG:
            raise EnvelopeError("blob_chunk_tampered", f"附件分块 {index} 长度不符")
        nonce, aad = _chunk_nonce_and_aad(self.blob_sha256, index, self.chunk_count, self.device_id)
        try:
            return self._aead.decrypt(nonce, chunk, aad)
        except InvalidTag:
            raise EnvelopeError("blob_chunk_tampered", f"附件分块 {index} 被改动、调换或来自其他附件") from None


def open_blob_header(header: Any, bureau_keys: SealingPrivateKey | Iterable[SealingPrivateKey]) -> BlobOpener:
    """Check a blob header and unseal its chunk key. Reason codes: blob_bad_format, unknown_bureau_key,
    blob_decrypt_failed (header altered, or sealed to another key)."""
    fields = ("format", "blob_sha256", "device_id", "bureau_key_id", "size", "chunk_size", "chunk_count")
    bad = EnvelopeError("blob_bad_format", "附件封装头格式错误")
    if not isinstance(header, dict) or set(header) != {*fields, "sealed_key_b64"}:
        raise bad
    unsealed = {name: header[name] for name in fields}
    size, chunk_size, count = header["size"], header["chunk_size"], header["chunk_count"]
    if (header["format"] != BLOB_FORMAT or not _is_sha256(header["blob_sha256"]) or not _is_id(header["device_id"])
            or not isinstance(header["bureau_key_id"], str) or not _KEY_ID.fullmatch(header["bureau_key_id"])
            or not all(type(v) is int for v in (size, chunk_size, count))
            or not (0 <= size <= MAX_BLOB_SIZE and 1 <= chunk_size <= MAX_CHUNK_SIZE)
            or count != _chunk_count(size, chunk_size) or count > MAX_CHUNK_COUNT):
        raise bad
    try:
        sealed_key = b64decode_strict(header["sealed_key_b64"])
    except ValueError:
        raise bad from None
    bureau_key = _keys_by_id(bureau_keys).get(header["bureau_key_id"])
    if bureau_key is None:
        raise EnvelopeError("unknown_bureau_key", "附件使用了本机构未知的密钥，请设备更新机构公钥")
    try:
        chunk_key = SUITE.decrypt(sealed_key, bureau_key.hpke_key(), info=_blob_key_info(unsealed))
    except (InvalidTag, ValueError):
        raise EnvelopeError("blob_decrypt_failed", "附件封装头无法解密：内容被改动") from None
    if len(chunk_key) != 32:
        raise EnvelopeError("blob_decrypt_failed", "附件密钥长度不正确")
    return BlobOpener(header, chunk_key)


def open_blob(header: Any, chunks: Sequence[bytes],
              bureau_keys: SealingPrivateKey | Iterable[SealingPrivateKey]) -> bytes:
    """The whole blob, verified chunk by chunk and then against its SHA-256. Reason codes: those of
    `open_blob_header` and `BlobOpener.open_chunk`, plus blob_chunk_count_mismatch and blob_hash_mismatch."""
    opener = open_blob_header(header, bureau_keys)
    if len(chunks) != opener.chunk_count:
        raise EnvelopeError("blob_chunk_count_mismatch",
                            f"附件应有 {opener.chunk_count} 个分块，收到 {len(chunks)} 个")
    blob = b"".join(opener.open_chunk(index, chunk) for index, chunk in enumerate(chunks))
    if hashlib.sha256(blob).hexdigest() != opener.blob_sha256:
        raise EnvelopeError("blob_hash_mismatch", "附件内容与其哈希不符")
    return blob


# --- receipts -------------------------------------------------------------------------------------------------

def log_leaf_hash(record_id: str, record_hash: str) -> bytes:
    """The merkle log leaf for an accepted record (what the bureau appends, and what a receipt proves)."""
    return merkle.leaf_hash(_LOG_ENTRY_DOMAIN + canonical_bytes({"record_hash": record_hash, "record_id": record_id}))


def build_receipt(record_id: str, record_hash: str, log_index: int, inclusion_proof: Sequence[bytes],
                  tree_head: dict[str, Any]) -> dict[str, Any]:
    """``{"record_id", "record_hash", "log_index", "inclusion_proof": [hex], "tree_head": {size, root, timestamp,
    signature}}`` with `tree_head` from `merkle.sign_tree_head` and the proof from `MerkleTree.inclusion_proof`."""
    return {"record_id": record_id, "record_hash": record_hash, "log_index": log_index,
            "inclusion_proof": [node.hex() for node in inclusion_proof], "tree_head": tree_head}


def verify_receipt(receipt: Any, record_hash: str, bureau_signing_public: Ed25519PublicKey, *,
                   record_id: str | None = None) -> None:
    """Raises EnvelopeError unless the bureau signed a log that holds (record id, `record_hash`) at `log_index`.
    Reason codes: receipt_bad_format, receipt_record_mismatch, receipt_signature_invalid, receipt_proof_invalid."""
    bad = EnvelopeError("receipt_bad_format", "回执格式错误")
    if not isinstance(receipt, dict) or set(receipt) != {"record_id", "record_hash", "log_index", "inclusion_proof",
                                                         "tree_head"}:
        raise bad
    index, proof_hex = receipt["log_index"], receipt["inclusion_proof"]
    if (not _is_id(receipt["record_id"]) or not _is_sha256(receipt["record_hash"]) or type(index) is not int
            or not isinstance(proof_hex, list) or len(proof_hex) > 64 or not all(_is_sha256(p) for p in proof_hex)):
        raise bad
    if receipt["record_hash"] != record_hash or (record_id is not None and receipt["record_id"] != record_id):
        raise EnvelopeError("receipt_record_mismatch", "回执对应的不是这份检查记录")
    try:
        size, root_hash = merkle.verify_tree_head(receipt["tree_head"], bureau_signing_public)
    except MerkleProofError as error:
        if error.reason_code == "bad_tree_head":
            raise bad from None
        raise EnvelopeError("receipt_signature_invalid", "回执的日志树头签名无效") from None
    try:
        merkle.verify_inclusion(log_leaf_hash(receipt["record_id"], record_hash), index, size,
                                [bytes.fromhex(p) for p in proof_hex], root_hash)
    except MerkleProofError:
        raise EnvelopeError("receipt_proof_invalid", "回执的日志包含证明无效") from None
