"""Keys of the sealed-sync protocol.

* Ed25519 signing keys, for devices (record signatures) and the bureau (tree heads, key rotation).
* The bureau's sealing key for HPKE (RFC 9180) with the hybrid post-quantum KEM ML-KEM-768 + X25519. cryptography 50
  builds `hpke.MLKEM768X25519PrivateKey` from its two component keys and offers no way to serialise or take apart the
  composite, so `SealingPrivateKey` / `SealingPublicKey` keep the components and build the composite when needed.
  Raw forms: public = ML-KEM-768 public key (1184 bytes) || X25519 public key (32); private = ML-KEM-768 seed (64)
  || X25519 private key (32).
* Key id: the first 32 hex digits of SHA-256 over the raw public key (the same rule as device enrollment).
* A private key at rest under an operator passphrase (scrypt -> AES-256-GCM), M-of-N recovery shares (Shamir), and
  bureau key rotation statements signed by the key being replaced.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence, Union

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync import shamir
from sync.canonical import canonical_bytes
from sync.errors import KeyHandlingError

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

_MLKEM768_PUBLIC_LEN = 1184
_MLKEM768_SEED_LEN = 64
_X25519_LEN = 32


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: Any) -> bytes:
    """Standard base64 with padding, and only its one canonical spelling (no ignored trailing bits): ValueError."""
    if not isinstance(text, str):
        raise ValueError("base64 value must be a string")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("invalid base64") from None
    if b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


@dataclass(frozen=True, eq=False)
class SealingPublicKey:
    mlkem: mlkem.MLKEM768PublicKey
    x25519: x25519.X25519PublicKey

    def raw(self) -> bytes:
        return self.mlkem.public_bytes_raw() + self.x25519.public_bytes_raw()

    @classmethod
    def from_raw(cls, data: bytes) -> SealingPublicKey:
        if len(data) != _MLKEM768_PUBLIC_LEN + _X25519_LEN:
            raise ValueError("sealing public key must be 1216 bytes")
        return cls(mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM768_PUBLIC_LEN]),
                   x25519.X25519PublicKey.from_public_bytes(data[_MLKEM768_PUBLIC_LEN:]))

    def hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(self.mlkem, self.x25519)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealingPublicKey) and self.raw() == other.raw()

    def __hash__(self) -> int:
        return hash(self.raw())


@dataclass(frozen=True, eq=False)
class SealingPrivateKey:
    mlkem: mlkem.MLKEM768PrivateKey
    x25519: x25519.X25519PrivateKey

    @classmethod
    def generate(cls) -> SealingPrivateKey:
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    def public_key(self) -> SealingPublicKey:
        return SealingPublicKey(self.mlkem.public_key(), self.x25519.public_key())

    def hpke_key(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(self.mlkem, self.x25519)


PublicKey = Union[Ed25519PublicKey, SealingPublicKey]
PrivateKey = Union[Ed25519PrivateKey, SealingPrivateKey]

_KIND_SIGNING = "ed25519"
_KIND_SEALING = "mlkem768-x25519"


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_raw(public_key: PublicKey) -> bytes:
    if isinstance(public_key, SealingPublicKey):
        return public_key.raw()
    return public_key.public_bytes_raw()


def key_id(public_key: PublicKey) -> str:
    return hashlib.sha256(public_key_raw(public_key)).hexdigest()[:32]


def public_key_to_b64(public_key: PublicKey) -> str:
    return b64encode(public_key_raw(public_key))


def signing_public_from_b64(text: str) -> Ed25519PublicKey:
    """Raises ValueError on anything but a base64 raw Ed25519 public key."""
    return Ed25519PublicKey.from_public_bytes(b64decode_strict(text))


def sealing_public_from_b64(text: str) -> SealingPublicKey:
    """Raises ValueError on anything but a base64 raw ML-KEM-768 + X25519 public key."""
    return SealingPublicKey.from_raw(b64decode_strict(text))


def _kind(private_key: PrivateKey) -> str:
    return _KIND_SEALING if isinstance(private_key, SealingPrivateKey) else _KIND_SIGNING


def private_key_bytes(private_key: PrivateKey) -> bytes:
    """Raw private key: 32 bytes (Ed25519) or 96 bytes (ML-KEM-768 seed || X25519). Handle with care."""
    if isinstance(private_key, SealingPrivateKey):
        return private_key.mlkem.private_bytes_raw() + private_key.x25519.private_bytes_raw()
    return private_key.private_bytes_raw()


def private_key_from_bytes(kind: str, data: bytes) -> PrivateKey:
    """Inverse of `private_key_bytes`; `kind` is "ed25519" or "mlkem768-x25519". Raises ValueError."""
    if kind == _KIND_SIGNING:
        return Ed25519PrivateKey.from_private_bytes(data)
    if kind == _KIND_SEALING:
        if len(data) != _MLKEM768_SEED_LEN + _X25519_LEN:
            raise ValueError("sealing private key must be 96 bytes")
        return SealingPrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(data[:_MLKEM768_SEED_LEN]),
                                 x25519.X25519PrivateKey.from_private_bytes(data[_MLKEM768_SEED_LEN:]))
    raise ValueError(f"unknown key kind {kind!r}")


# --- private keys at rest -------------------------------------------------------------------------------------

KEY_FILE_FORMAT = "yibao-private-key-v1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAX_N = 2**20  # refuse files that would make us allocate gigabytes


def _passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise KeyHandlingError("empty_passphrase", "口令不能为空")
    # NFC so the same passphrase typed on different keyboards or input methods gives the same bytes.
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))


def encrypt_private_key(private_key: PrivateKey, passphrase: str) -> dict[str, Any]:
    """A JSON-able key file. Every field but the ciphertext is AES-GCM associated data, so the KDF parameters,
    kind and key id cannot be altered without the file failing to open."""
    salt, nonce = os.urandom(16), os.urandom(12)
    public = private_key.public_key()
    header = {"format": KEY_FILE_FORMAT, "kind": _kind(private_key), "key_id": key_id(public),
              "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt_b64": b64encode(salt)},
              "nonce_b64": b64encode(nonce)}
    key = _passphrase_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, private_key_bytes(private_key), canonical_bytes(header))
    return {**header, "ciphertext_b64": b64encode(ciphertext)}


def decrypt_private_key(key_file: dict[str, Any], passphrase: str) -> PrivateKey:
    """Raises KeyHandlingError: bad_key_file, or key_decrypt_failed (wrong passphrase or altered file)."""
    bad = KeyHandlingError("bad_key_file", "密钥文件格式错误")
    try:
        header = {k: key_file[k] for k in ("format", "kind", "key_id", "kdf", "nonce_b64")}
        kdf = header["kdf"]
        n, r, p = kdf["n"], kdf["r"], kdf["p"]
        if (header["format"] != KEY_FILE_FORMAT or set(key_file) != {*header, "ciphertext_b64"}
                or kdf["name"] != "scrypt" or set(kdf) != {"name", "n", "r", "p", "salt_b64"}
                or not all(type(v) is int for v in (n, r, p))
                or not (2 <= n <= _SCRYPT_MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16)):
            raise bad
        salt = b64decode_strict(kdf["salt_b64"])
        nonce = b64decode_strict(header["nonce_b64"])
        ciphertext = b64decode_strict(key_file["ciphertext_b64"])
        aad = canonical_bytes(header)
    except (KeyError, TypeError, ValueError):
        raise bad from None
    try:
        raw = AESGCM(_passphrase_key(passphrase, salt, n, r, p)).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise KeyHandlingError("key_decrypt_failed", "口令不正确，或密钥文件已被改动") from None
    private_key = private_key_from_bytes(header["kind"], raw)
    if key_id(private_key.public_key()) != header["key_id"]:
        raise KeyHandlingError("key_decrypt_failed", "口令不正确，或密钥文件已被改动")
    return private_key


# --- M-of-N recovery ------------------------------------------------------------------------------------------

SHARE_PREFIX = "yibao-share-v1"
_SHARE_PATTERN = re.compile(
    r"yibao-share-v1:(?P<kind>ed25519|mlkem768-x25519):(?P<key_id>[0-9a-f]{32}):"
    r"(?P<threshold>[1-9][0-9]{0,2}):(?P<x>[1-9][0-9]{0,2}):(?P<value>[A-Za-z0-9+/=]+)")


def split_private_key(private_key: PrivateKey, threshold: int, count: int) -> list[str]:
    """`count` recovery shares as text lines (for paper or QR), any `threshold` of which rebuild the key:
    ``yibao-share-v1:<kind>:<key id>:<threshold>:<x>:<base64>``. The key id tells shares of different keys apart
    and checks the recovered key."""
    kind, kid = _kind(private_key), key_id(private_key.public_key())
    return [f"{SHARE_PREFIX}:{kind}:{kid}:{s.threshold}:{s.x}:{b64encode(s.value)}"
            for s in shamir.split_secret(private_key_bytes(private_key), threshold, count)]


def recover_private_key(share_lines: Sequence[str]) -> PrivateKey:
    """Rebuild a key from at least `threshold` shares of the same key. Raises KeyHandlingError."""
    parsed = []
    for line in share_lines:
        match = _SHARE_PATTERN.fullmatch(line.strip())
        if not match:
            raise KeyHandlingError("bad_share", f"恢复分片格式错误：{line[:40]}")
        try:
            value = b64decode_strict(match["value"])
        except ValueError:
            raise KeyHandlingError("bad_share", f"恢复分片格式错误：{line[:40]}") from None
        parsed.append((match["kind"], match["key_id"], shamir.Share(int(match["x"]), int(match["threshold"]), value)))
    if not parsed:
        raise KeyHandlingError("not_enough_shares", "未提供恢复分片")
    if len({(kind, kid) for kind, kid, _ in parsed}) != 1:
        raise KeyHandlingError("mixed_shares", "恢复分片来自不同的密钥")
    kind, kid, _ = parsed[0]
    shares = [share for _, _, share in parsed]
    if len(shares) < shares[0].threshold:
        raise KeyHandlingError("not_enough_shares", f"至少需要 {shares[0].threshold} 个恢复分片，只提供了 {len(shares)} 个")
    try:
        private_key = private_key_from_bytes(kind, shamir.combine_shares(shares))
    except ValueError:
        raise KeyHandlingError("bad_share", "恢复分片不一致或重复，无法恢复密钥") from None
    if key_id(private_key.public_key()) != kid:
        raise KeyHandlingError("bad_share", "恢复出的密钥与密钥标识不符：分片有误")
    return private_key


# --- bureau key rotation --------------------------------------------------------------------------------------

ROTATION_FORMAT = "yibao-key-rotation-v1"
_ROTATION_DOMAIN = b"yibao-key-rotation-v1\n"


@dataclass(frozen=True)
class BureauPublicKeys:
    """What a device pins: the bureau's signing key (tree heads, rotations) and sealing key (envelopes)."""
    signing: Ed25519PublicKey
    sealing: SealingPublicKey


def sign_key_rotation(old_signing_key: Ed25519PrivateKey, new_public_keys: BureauPublicKeys) -> dict[str, Any]:
    """A statement, signed by the bureau signing key being replaced, that introduces the new bureau keys."""
    statement = {
        "format": ROTATION_FORMAT,
        "old_signing_key_id": key_id(old_signing_key.public_key()),
        "new_signing_public_b64": public_key_to_b64(new_public_keys.signing),
        "new_sealing_public_b64": public_key_to_b64(new_public_keys.sealing),
    }
    signature = old_signing_key.sign(_ROTATION_DOMAIN + canonical_bytes(statement))
    return {**statement, "signature_b64": b64encode(signature)}


def verify_key_rotation(pinned_old_public: Ed25519PublicKey, statement: dict[str, Any]) -> BureauPublicKeys:
    """The new bureau keys, only if `statement` is signed by the pinned key. Raises KeyHandlingError."""
    try:
        signed = {k: statement[k] for k in ("format", "old_signing_key_id", "new_signing_public_b64",
                                           "new_sealing_public_b64")}
        if signed["format"] != ROTATION_FORMAT or set(statement) != {*signed, "signature_b64"}:
            raise ValueError
        signature = b64decode_strict(statement["signature_b64"])
        new_keys = BureauPublicKeys(signing_public_from_b64(signed["new_signing_public_b64"]),
                                    sealing_public_from_b64(signed["new_sealing_public_b64"]))
        message = _ROTATION_DOMAIN + canonical_bytes(signed)
    except (KeyError, TypeError, ValueError):
        raise KeyHandlingError("bad_rotation", "密钥轮换声明格式错误") from None
    if signed["old_signing_key_id"] != key_id(pinned_old_public):
        raise KeyHandlingError("rotation_wrong_key", "密钥轮换声明不是由当前信任的机构密钥签发的")
    try:
        pinned_old_public.verify(signature, message)
    except InvalidSignature:
        raise KeyHandlingError("rotation_signature_invalid", "密钥轮换声明签名无效") from None
    return new_keys
