"""Opening the bureau: settings → writable data dir → database → keys → ASGI app. Each failure is one sentence."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine

from bureau import keystore
from bureau.db import DatabaseUnavailable, create_schema, make_engine
from bureau.settings import BureauSettings

# Tablets pause between requests (sealing, fsync) and reuse their connection; a server that closes idle connections
# after uvicorn's default 5 s races them (the request is written as the socket closes). Far above any such pause.
KEEP_ALIVE_SECONDS = 75


class BureauStartError(Exception):
    pass


@dataclass
class Bureau:
    settings: BureauSettings
    engine: Engine


def ensure_writable_data_dir(settings: BureauSettings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise BureauStartError(f"数据目录不可写：{settings.data_dir}（{exc.strerror or exc}）") from None


def open_bureau(settings: BureauSettings) -> Bureau:
    ensure_writable_data_dir(settings)
    try:
        engine = make_engine(settings.database_url)
        create_schema(engine)
    except DatabaseUnavailable as exc:
        raise BureauStartError(str(exc)) from None
    return Bureau(settings=settings, engine=engine)


def open_signing_key(settings: BureauSettings) -> Ed25519PrivateKey:
    try:
        return keystore.open_signing_key(settings)
    except keystore.KeystoreError as exc:
        raise BureauStartError(str(exc)) from None


def open_keys(settings: BureauSettings) -> keystore.BureauKeys:
    """All the bureau's keys, decrypted with the operator passphrase; the server cannot open a record without them."""
    try:
        return keystore.open_keys(settings)
    except keystore.KeystoreError as exc:
        raise BureauStartError(str(exc)) from None


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BureauStartError(f"端口 {port} 已被占用（{host}）") from None
            raise BureauStartError(f"无法监听 {host}:{port}：{exc.strerror or exc}") from None
