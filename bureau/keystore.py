"""The bureau's keys on disk, under `<data>/keys/`.

The signing key (assignments, receipts, tree heads) is kept encrypted under the operator passphrase, which
comes from `YIBAO_BUREAU_PASSPHRASE` or is asked for at the terminal.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bureau.settings import BureauSettings

PASSPHRASE_ENV = "YIBAO_BUREAU_PASSPHRASE"


class KeystoreError(Exception):
    pass


def keys_dir(settings: BureauSettings) -> Path:
    return settings.data_dir / "keys"


def _signing_key_path(settings: BureauSettings) -> Path:
    return keys_dir(settings) / "bureau-signing.pem"


def passphrase_from_env() -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise KeystoreError(f"未提供机构密钥口令：请设置环境变量 {PASSPHRASE_ENV}")
    return value.encode()


def keys_exist(settings: BureauSettings) -> bool:
    return _signing_key_path(settings).exists()


def create_keys(settings: BureauSettings, passphrase: bytes) -> Ed25519PublicKey:
    """Create the bureau keys once; refuse to overwrite existing ones (that would orphan every device)."""
    path = _signing_key_path(settings)
    if path.exists():
        raise KeystoreError(f"密钥已存在：{path}（不会覆盖）")
    if len(passphrase) < 8:
        raise KeystoreError("机构密钥口令至少 8 个字符")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key.public_key()


def open_signing_key(settings: BureauSettings, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    path = _signing_key_path(settings)
    if not path.exists():
        raise KeystoreError(f"机构密钥不存在：{path}（请先运行 yibao bureau init）")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase or passphrase_from_env())
    except ValueError:
        raise KeystoreError("机构密钥口令不正确") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeystoreError(f"{path} 不是 Ed25519 私钥")
    return key
