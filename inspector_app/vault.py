"""Data at rest on the tablet: PIN-wrapped keys and slot-bound content encryption. Bytes in, bytes out; the store
persists what these functions return.

Key layout (a keyring):

* one random 256-bit **device data key** encrypts all content on the tablet (photos, signature strokes, answers,
  findings) with AES-256-GCM;
* each inspector enrolled on the tablet has one **keyring entry**: the same data key and that inspector's own
  Ed25519 **signing key**, both wrapped (AES-256-GCM) under a key-encryption key derived from the inspector's PIN
  with scrypt. Unlocking is one scrypt run and yields both, so signing always needs the PIN.

Why one shared data key rather than one per inspector: the two inspectors of a team work on the same inspection
on the same tablet and both must open its evidence; separate data keys would lock a record to whoever created it.
What stays personal is the signing key, and so the signature. Removing an inspector from a tablet is deleting their
entry. Enrolling a second inspector needs the data key, i.e. an inspector already enrolled unlocks once (or the
tablet is new and ``new_data_key()`` makes one). Changing a PIN re-wraps only the two keys; content is untouched.

Every wrapped key is bound (as AES-GCM associated data) to the inspector code, its purpose, the KDF parameters and
the signing public key, so entries cannot be swapped between inspectors or purposes. Every content ciphertext is
bound to its **slot** (``photo_slot(sha256)``, ``answer_slot(inspection, item)``, ...), so a ciphertext moved to
another row fails to decrypt instead of showing the wrong evidence.

A 6-digit PIN cannot resist an offline guessing attack on a copied database by itself (scrypt only slows it). Pass a
``device_secret`` held by the platform keystore (Android Keystore via flet-secure-storage) and the PIN-derived key
is additionally keyed with it, so guessing needs the secret too. Counting failed attempts is the store's job.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync.canonical import canonical_bytes
from sync.keys import b64decode_strict, b64encode

KEYRING_FORMAT = "yibao-keyring-v1"
CONTENT_FORMAT = "yibao-vault-v1"
CONTENT_MAGIC = b"YV1"  # leading bytes of every content blob
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # 32 MiB; about 0.07 s on a laptop core, 0.2-0.4 s on a tablet
SCRYPT_MAX_N = 2**20  # refuse stored parameters that would allocate gigabytes
MIN_PIN_LENGTH = 6
_NONCE = 12
_KEY = 32
_SALT = 16
_TAG = 16


class VaultError(Exception):
    """A stable English reason code for logs and a Chinese message for the inspector."""

    def __init__(self, reason_code: str, message_zh: str):
        super().__init__(f"{reason_code}: {message_zh}")
        self.reason_code = reason_code
        self.message_zh = message_zh


class WrongPin(VaultError):
    def __init__(self) -> None:
        super().__init__("wrong_pin", "PIN 不正确")


class WeakPin(VaultError):
    """A new PIN refused by the PIN policy."""


class ContentUnreadable(VaultError):
    """A ciphertext that does not open under this key for this slot: altered, moved or from another device."""

    def __init__(self) -> None:
        super().__init__("content_unreadable", "数据无法解密：内容已被改动、位置不符或不属于本设备")


class BadKeyringEntry(VaultError):
    def __init__(self, detail: str) -> None:
        super().__init__("bad_keyring_entry", f"密钥记录格式错误：{detail}")


@dataclass(frozen=True, repr=False)
class DataKey:
    """The device data key. repr() never shows the secret, so it cannot leak into logs."""

    secret: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != _KEY:
            raise ValueError("a data key is 32 bytes")

    def __repr__(self) -> str:
        return "DataKey(<secret>)"


@dataclass(frozen=True)
class Slot:
    """Where a ciphertext belongs; its canonical form is the AES-GCM associated data."""

    kind: str
    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.kind or not all(isinstance(part, str) and part for part in self.parts):
            raise ValueError(f"slot needs a kind and non-empty string parts: {self.kind!r} {self.parts!r}")

    def aad(self) -> bytes:
        return canonical_bytes({"format": CONTENT_FORMAT, "kind": self.kind, "parts": list(self.parts)})

    def __str__(self) -> str:
        return ":".join((self.kind, *self.parts))


PHOTO_VARIANTS = ("original", "stored", "thumbnail")


def photo_slot(sha256_hex: str, variant: str = "stored") -> Slot:
    """A photo blob by the evidence hash of its stored image; ``variant`` says which of its files this is."""
    if variant not in PHOTO_VARIANTS:
        raise ValueError(f"photo variant must be one of {PHOTO_VARIANTS}")
    return Slot("photo", (sha256_hex, variant))


def answer_slot(inspection_id: str, item_id: str) -> Slot:
    return Slot("answer", (inspection_id, item_id))


def finding_slot(inspection_id: str, finding_id: str) -> Slot:
    return Slot("finding", (inspection_id, finding_id))


def signature_slot(inspection_id: str, role: str) -> Slot:
    return Slot("signature", (inspection_id, role))


@dataclass(frozen=True)
class InspectorKeyEntry:
    """One inspector's wrapped keys on this tablet; persist ``to_dict()`` and read back with ``from_dict()``."""

    inspector_code: str
    signing_public_key: bytes  # raw Ed25519, 32 bytes: shown and registered without the PIN
    scrypt_n: int
    scrypt_r: int
    scrypt_p: int
    salt: bytes
    uses_device_secret: bool
    data_key_nonce: bytes
    wrapped_data_key: bytes
    signing_key_nonce: bytes
    wrapped_signing_key: bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (bytes as base64)."""
        return {
            "format": KEYRING_FORMAT,
            "inspector_code": self.inspector_code,
            "signing_public_key": b64encode(self.signing_public_key),
            "kdf": {"name": "scrypt", "n": self.scrypt_n, "r": self.scrypt_r, "p": self.scrypt_p,
                    "salt": b64encode(self.salt), "device_secret": self.uses_device_secret},
            "data_key": {"nonce": b64encode(self.data_key_nonce), "ciphertext": b64encode(self.wrapped_data_key)},
            "signing_key": {"nonce": b64encode(self.signing_key_nonce),
                            "ciphertext": b64encode(self.wrapped_signing_key)},
        }

    @classmethod
    def from_dict(cls, data: Any) -> InspectorKeyEntry:
        """Raises BadKeyringEntry for anything that is not exactly what ``to_dict`` writes."""
        try:
            if data["format"] != KEYRING_FORMAT or set(data) != {"format", "inspector_code", "signing_public_key",
                                                                 "kdf", "data_key", "signing_key"}:
                raise BadKeyringEntry("未知的格式")
            kdf, wrapped_data, wrapped_signing = data["kdf"], data["data_key"], data["signing_key"]
            if kdf["name"] != "scrypt" or set(kdf) != {"name", "n", "r", "p", "salt", "device_secret"}:
                raise BadKeyringEntry("密钥派生参数不正确")
            if set(wrapped_data) != {"nonce", "ciphertext"} or set(wrapped_signing) != {"nonce", "ciphertext"}:
                raise BadKeyringEntry("加密字段不完整")
            entry = cls(
                inspector_code=data["inspector_code"],
                signing_public_key=b64decode_strict(data["signing_public_key"]),
                scrypt_n=kdf["n"], scrypt_r=kdf["r"], scrypt_p=kdf["p"],
                salt=b64decode_strict(kdf["salt"]),
                uses_device_secret=kdf["device_secret"],
                data_key_nonce=b64decode_strict(wrapped_data["nonce"]),
                wrapped_data_key=b64decode_strict(wrapped_data["ciphertext"]),
                signing_key_nonce=b64decode_strict(wrapped_signing["nonce"]),
                wrapped_signing_key=b64decode_strict(wrapped_signing["ciphertext"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadKeyringEntry("字段缺失或类型错误") from exc
        _check_entry(entry)
        return entry


@dataclass(frozen=True)
class UnlockedInspector:
    inspector_code: str
    data_key: DataKey
    signing_key: Ed25519PrivateKey


def new_data_key() -> DataKey:
    return DataKey(os.urandom(_KEY))


def pin_problem(pin: str) -> str | None:
    """What is wrong with a new PIN, in Chinese; None if acceptable. Existing PINs are never re-checked."""
    if not isinstance(pin, str) or len(pin) < MIN_PIN_LENGTH:
        return f"PIN 至少需要 {MIN_PIN_LENGTH} 位"
    if len(set(pin)) == 1:
        return "PIN 不能由同一个字符重复组成"
    steps = {ord(b) - ord(a) for a, b in zip(pin, pin[1:])}
    if pin.isdigit() and steps in ({1}, {-1}):
        return "PIN 不能是连续数字（如 123456）"
    return None


def enroll_inspector(
    inspector_code: str,
    pin: str,
    *,
    data_key: DataKey,
    signing_key: Ed25519PrivateKey,
    device_secret: bytes = b"",
    scrypt_n: int = SCRYPT_N,
) -> InspectorKeyEntry:
    """A keyring entry wrapping ``data_key`` and ``signing_key`` under ``pin``. Raises WeakPin.

    ``scrypt_n`` is lowered only by tests; a tablet keeps the default.
    """
    if not inspector_code:
        raise ValueError("inspector_code is required")
    problem = pin_problem(pin)
    if problem:
        raise WeakPin("weak_pin", problem)
    public = signing_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = InspectorKeyEntry(
        inspector_code=inspector_code, signing_public_key=public,
        scrypt_n=scrypt_n, scrypt_r=SCRYPT_R, scrypt_p=SCRYPT_P, salt=os.urandom(_SALT),
        uses_device_secret=bool(device_secret),
        data_key_nonce=os.urandom(_NONCE), wrapped_data_key=b"",
        signing_key_nonce=os.urandom(_NONCE), wrapped_signing_key=b"",
    )
    _check_entry(header, wrapped=False)
    aead = AESGCM(_key_encryption_key(header, pin, device_secret))
    private = signing_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    return replace(
        header,
        wrapped_data_key=aead.encrypt(header.data_key_nonce, data_key.secret, _wrap_aad(header, "data-key")),
        wrapped_signing_key=aead.encrypt(header.signing_key_nonce, private, _wrap_aad(header, "signing-key")),
    )


def unlock(entry: InspectorKeyEntry, pin: str, *, device_secret: bytes = b"") -> UnlockedInspector:
    """Both keys of an inspector. Raises WrongPin (wrong PIN, wrong device secret or an altered entry)."""
    _check_entry(entry)
    if entry.uses_device_secret != bool(device_secret):
        raise VaultError("device_secret_mismatch", "本设备的安全密钥不可用，无法解锁（请检查系统密钥库）")
    aead = AESGCM(_key_encryption_key(entry, pin, device_secret))
    try:
        data_key = aead.decrypt(entry.data_key_nonce, entry.wrapped_data_key, _wrap_aad(entry, "data-key"))
        private = aead.decrypt(entry.signing_key_nonce, entry.wrapped_signing_key, _wrap_aad(entry, "signing-key"))
    except InvalidTag:
        raise WrongPin() from None
    signing_key = Ed25519PrivateKey.from_private_bytes(private)
    public = signing_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if public != entry.signing_public_key:  # cannot happen unless the entry was forged with a known PIN
        raise WrongPin()
    return UnlockedInspector(entry.inspector_code, DataKey(data_key), signing_key)


def change_pin(entry: InspectorKeyEntry, old_pin: str, new_pin: str, *, device_secret: bytes = b"",
               scrypt_n: int = SCRYPT_N) -> InspectorKeyEntry:
    """A new entry for the same keys under ``new_pin`` (fresh salt and nonces, current scrypt cost); content
    encrypted under the data key stays as it is. Raises WrongPin or WeakPin."""
    unlocked = unlock(entry, old_pin, device_secret=device_secret)
    return enroll_inspector(entry.inspector_code, new_pin, data_key=unlocked.data_key,
                            signing_key=unlocked.signing_key, device_secret=device_secret, scrypt_n=scrypt_n)


def encrypt_content(data_key: DataKey, plaintext: bytes, slot: Slot) -> bytes:
    """``YV1 || nonce(12) || ciphertext+tag``, bound to ``slot``."""
    nonce = os.urandom(_NONCE)
    return CONTENT_MAGIC + nonce + AESGCM(data_key.secret).encrypt(nonce, plaintext, slot.aad())


def decrypt_content(data_key: DataKey, blob: bytes, slot: Slot) -> bytes:
    """Raises ContentUnreadable if the blob was altered, belongs to another slot or another data key."""
    header = len(CONTENT_MAGIC) + _NONCE
    if len(blob) < header + _TAG or not blob.startswith(CONTENT_MAGIC):
        raise ContentUnreadable()
    try:
        return AESGCM(data_key.secret).decrypt(blob[len(CONTENT_MAGIC):header], blob[header:], slot.aad())
    except InvalidTag:
        raise ContentUnreadable() from None


def _key_encryption_key(entry: InspectorKeyEntry, pin: str, device_secret: bytes) -> bytes:
    # NFC so the same PIN typed with different input methods gives the same bytes.
    pin_bytes = unicodedata.normalize("NFC", pin).encode("utf-8")
    kdf = Scrypt(salt=entry.salt, length=_KEY, n=entry.scrypt_n, r=entry.scrypt_r, p=entry.scrypt_p)
    derived = kdf.derive(pin_bytes)
    if not device_secret:
        return derived
    return hmac.new(device_secret, b"yibao-pin-kek\x00" + derived, hashlib.sha256).digest()


def _wrap_aad(entry: InspectorKeyEntry, purpose: str) -> bytes:
    return canonical_bytes({
        "format": KEYRING_FORMAT, "purpose": purpose, "inspector_code": entry.inspector_code,
        "signing_public_key": b64encode(entry.signing_public_key),
        "kdf": {"name": "scrypt", "n": entry.scrypt_n, "r": entry.scrypt_r, "p": entry.scrypt_p,
                "salt": b64encode(entry.salt), "device_secret": entry.uses_device_secret},
    })


def _check_entry(entry: InspectorKeyEntry, *, wrapped: bool = True) -> None:
    n, r, p = entry.scrypt_n, entry.scrypt_r, entry.scrypt_p
    if not isinstance(entry.inspector_code, str) or not entry.inspector_code:
        raise BadKeyringEntry("缺少检查人员编号")
    if not all(type(v) is int for v in (n, r, p)) or not (2 <= n <= SCRYPT_MAX_N and n & (n - 1) == 0
                                                         and 1 <= r <= 32 and 1 <= p <= 16):
        raise BadKeyringEntry("密钥派生参数超出范围")
    if type(entry.uses_device_secret) is not bool:
        raise BadKeyringEntry("密钥派生参数不正确")
    if len(entry.signing_public_key) != 32 or len(entry.salt) != _SALT:
        raise BadKeyringEntry("公钥或盐长度不正确")
    if len(entry.data_key_nonce) != _NONCE or len(entry.signing_key_nonce) != _NONCE:
        raise BadKeyringEntry("随机数长度不正确")
    if wrapped and (len(entry.wrapped_data_key) != _KEY + _TAG or len(entry.wrapped_signing_key) != 32 + _TAG):
        raise BadKeyringEntry("密文长度不正确")

