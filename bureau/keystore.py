"""The bureau's keys on disk, under `<data>/keys/`.

* ``signing.key.json`` — Ed25519: assignments, tree heads, receipts, key rotation statements;
* ``sealing.key.json`` — ML-KEM-768 + X25519 (HPKE): every record and blob a device seals is opened with it;
* ``retired/<kind>-<key id>.key.json`` — keys replaced by a rotation. Retired sealing keys stay usable, so a record
  sealed before the rotation (still in some tablet's outbox, or in the archive for 15+ years) still opens;
* ``rotations.json`` — the rotation statements, oldest first: each is signed by the signing key it replaces, and a
  device accepts new bureau keys only through that chain (`sync.keys.verify_key_rotation`).

Every private key is a `sync.keys.encrypt_private_key` file under the operator passphrase (`YIBAO_BUREAU_PASSPHRASE`
or asked at the terminal). At creation and at each rotation the new keys are also split M-of-N (Shamir) into
recovery shares that are shown once and never stored: any M custodians can rebuild the keys and set a new passphrase
(`recover_keys`), so one forgotten passphrase never loses the evidence sealed to the bureau.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bureau.settings import DEFAULT_SHARES, DEFAULT_THRESHOLD, BureauSettings
from sync import keys as sync_keys
from sync.errors import KeyHandlingError
from sync.keys import BureauPublicKeys, SealingPrivateKey

PASSPHRASE_ENV = "YIBAO_BUREAU_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 8


class KeystoreError(Exception):
    pass


@dataclass(frozen=True)
class BureauKeys:
    """Everything the running bureau holds in memory."""

    signing: Ed25519PrivateKey
    sealing: SealingPrivateKey
    retired_sealing: tuple[SealingPrivateKey, ...]
    rotations: tuple[dict[str, Any], ...]

    @property
    def all_sealing(self) -> tuple[SealingPrivateKey, ...]:
        return (self.sealing, *self.retired_sealing)

    def public(self) -> BureauPublicKeys:
        return BureauPublicKeys(self.signing.public_key(), self.sealing.public_key())


@dataclass(frozen=True)
class RecoveryKit:
    """New keys' public halves and their recovery shares: custodian i keeps ``shares[i]`` (one line per key)."""

    public: BureauPublicKeys
    threshold: int
    shares: list[tuple[str, str]]  # (signing key share, sealing key share) per custodian


def keys_dir(settings: BureauSettings) -> Path:
    return settings.data_dir / "keys"


def _current_path(settings: BureauSettings, role: str) -> Path:
    return keys_dir(settings) / f"{role}.key.json"


def _retired_dir(settings: BureauSettings) -> Path:
    return keys_dir(settings) / "retired"


def _rotations_path(settings: BureauSettings) -> Path:
    return keys_dir(settings) / "rotations.json"


def passphrase_from_env() -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise KeystoreError(f"未提供机构密钥口令：请设置环境变量 {PASSPHRASE_ENV}")
    return value.encode()


def keys_exist(settings: BureauSettings) -> bool:
    return _current_path(settings, "signing").exists()


def _text(passphrase: bytes) -> str:
    text = passphrase.decode("utf-8")
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise KeystoreError(f"机构密钥口令至少 {MIN_PASSPHRASE_LENGTH} 个字符")
    return text


def _write_json(path: Path, data: Any) -> None:
    """Atomic and private: a crash leaves the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"无法读取密钥文件 {path}：{exc}") from None


def _recovery_kit(signing: Ed25519PrivateKey, sealing: SealingPrivateKey, shares: int,
                  threshold: int) -> RecoveryKit:
    if not 2 <= threshold <= shares <= 255:
        raise KeystoreError(f"恢复分片参数不正确：需要 2 ≤ 门限 ≤ 份数 ≤ 255（现为 {threshold}/{shares}）")
    signing_shares = sync_keys.split_private_key(signing, threshold, shares)
    sealing_shares = sync_keys.split_private_key(sealing, threshold, shares)
    return RecoveryKit(BureauPublicKeys(signing.public_key(), sealing.public_key()), threshold,
                       list(zip(signing_shares, sealing_shares)))


def _write_current(settings: BureauSettings, signing: Ed25519PrivateKey, sealing: SealingPrivateKey,
                   passphrase: str) -> None:
    for role, key in (("sealing", sealing), ("signing", signing)):
        path = _current_path(settings, role)
        _write_json(path, sync_keys.encrypt_private_key(key, passphrase))
        _remember(path.read_bytes(), passphrase.encode("utf-8"), key)


# Keys this process has decrypted (or written), by the exact bytes of the key file and the passphrase: scrypt is made
# to be slow (32 MiB, about 0.1 s of a core) and one process opens the same file several times (`yibao serve` checks
# the keys and the log before serving; a command opens the signing key, then every key). The passphrase is in this
# process's environment for its whole life anyway, and the keys are what it decrypts them for; a changed file, or
# another passphrase, is decrypted afresh. Not by path: the same bytes under the same passphrase are the same key
# wherever they lie (a copy of the key directory, as the tests make for each bureau). Bounded: a bureau holds a
# handful of key files.
_OPENED: dict[tuple[bytes, bytes], Any] = {}
_OPENED_MAX = 64
_opened_lock = threading.Lock()


def _remember(content: bytes, passphrase: bytes, key: Any) -> None:
    with _opened_lock:
        if len(_OPENED) >= _OPENED_MAX:
            _OPENED.pop(next(iter(_OPENED)))
        _OPENED[(hashlib.sha256(content).digest(), passphrase)] = key


def create_keys(settings: BureauSettings, passphrase: bytes, *, shares: int = DEFAULT_SHARES,
                threshold: int = DEFAULT_THRESHOLD) -> RecoveryKit:
    """Create the bureau keys once; refuse to overwrite existing ones (that would orphan every device)."""
    if keys_exist(settings):
        raise KeystoreError(f"密钥已存在：{keys_dir(settings)}（不会覆盖）")
    text = _text(passphrase)
    signing, sealing = sync_keys.generate_signing_key(), SealingPrivateKey.generate()
    kit = _recovery_kit(signing, sealing, shares, threshold)
    _write_json(_rotations_path(settings), [])
    _write_current(settings, signing, sealing, text)
    return kit


def _decrypt(path: Path, passphrase: bytes) -> Any:
    if not path.exists():
        raise KeystoreError(f"机构密钥不存在：{path}（请先运行 yibao bureau init）")
    try:
        content = path.read_bytes()
        key_file = json.loads(content)
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"无法读取密钥文件 {path}：{exc}") from None
    with _opened_lock:
        known = _OPENED.get((hashlib.sha256(content).digest(), passphrase))
    if known is not None:
        return known
    try:
        key = sync_keys.decrypt_private_key(key_file, passphrase.decode("utf-8"))
        _remember(content, passphrase, key)
        return key
    except KeyHandlingError as exc:
        if exc.reason_code == "key_decrypt_failed":
            raise KeystoreError(f"机构密钥口令不正确，无法解密 {path.name}（请检查 {PASSPHRASE_ENV}）") from None
        raise KeystoreError(f"密钥文件 {path} 已损坏：{exc.message_zh}") from None


def open_signing_key(settings: BureauSettings, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    key = _decrypt(_current_path(settings, "signing"), passphrase or passphrase_from_env())
    if not isinstance(key, Ed25519PrivateKey):
        raise KeystoreError("signing.key.json 不是 Ed25519 私钥")
    return key


def open_keys(settings: BureauSettings, passphrase: bytes | None = None) -> BureauKeys:
    """Decrypt the current keys and the retired sealing keys; raises KeystoreError with one sentence."""
    passphrase = passphrase or passphrase_from_env()
    signing = open_signing_key(settings, passphrase)
    sealing = _decrypt(_current_path(settings, "sealing"), passphrase)
    if not isinstance(sealing, SealingPrivateKey):
        raise KeystoreError("sealing.key.json 不是封装私钥")
    retired = tuple(key for path in sorted(_retired_dir(settings).glob("sealing-*.key.json"))
                    if isinstance(key := _decrypt(path, passphrase), SealingPrivateKey))
    rotations = _read_json(_rotations_path(settings)) if _rotations_path(settings).exists() else []
    return BureauKeys(signing, sealing, retired, tuple(rotations))


def rotate_keys(settings: BureauSettings, passphrase: bytes, *, shares: int = DEFAULT_SHARES,
                threshold: int = DEFAULT_THRESHOLD) -> RecoveryKit:
    """New signing and sealing keys, introduced by a statement signed with the old signing key; the old keys are
    retired (kept, still encrypted), never deleted."""
    text = _text(passphrase)
    old = open_keys(settings, passphrase)
    signing, sealing = sync_keys.generate_signing_key(), SealingPrivateKey.generate()
    kit = _recovery_kit(signing, sealing, shares, threshold)
    statement = sync_keys.sign_key_rotation(old.signing, kit.public)
    for role, key in (("signing", old.signing), ("sealing", old.sealing)):
        kid = sync_keys.key_id(key.public_key())
        _write_json(_retired_dir(settings) / f"{role}-{kid}.key.json", _read_json(_current_path(settings, role)))
    _write_json(_rotations_path(settings), [*old.rotations, statement])
    _write_current(settings, signing, sealing, text)
    return kit


def recover_keys(settings: BureauSettings, share_lines: Sequence[str],
                 new_passphrase: bytes) -> tuple[list[str], list[str]]:
    """Rebuild keys from recovery shares (lines of several keys may be mixed) and store each one again under
    `new_passphrase`, in the file that holds that key id. Returns (recovered key ids, key files not recovered:
    those still need their own shares, or the old passphrase)."""
    text = _text(new_passphrase)
    by_key: dict[str, list[str]] = {}
    for line in (raw.strip() for raw in share_lines):
        if line:
            parts = line.split(":")
            by_key.setdefault(parts[2] if len(parts) > 2 else line, []).append(line)
    if not by_key:
        raise KeystoreError("未提供恢复分片")
    files = [_current_path(settings, "signing"), _current_path(settings, "sealing"),
             *sorted(_retired_dir(settings).glob("*.key.json"))]
    by_id = {_read_json(path).get("key_id"): path for path in files if path.exists()}
    recovered = []
    for kid, lines in by_key.items():
        try:
            key = sync_keys.recover_private_key(lines)
        except KeyHandlingError as exc:
            raise KeystoreError(f"无法恢复密钥 {kid}：{exc.message_zh}") from None
        if kid not in by_id:
            raise KeystoreError(f"密钥 {kid} 不属于本机构的密钥文件（{keys_dir(settings)}）")
        _write_json(by_id[kid], sync_keys.encrypt_private_key(key, text))
        recovered.append(kid)
    return recovered, sorted(path.name for kid, path in by_id.items() if kid not in recovered)
