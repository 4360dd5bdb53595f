"""Opening the bureau: settings → writable data dir → database (its schema at the installed revision,
`bureau.migrations`) → keys → a log that adds up → ASGI app. Each failure is one sentence.

Several bureau processes (`yibao serve --workers N`, several `yibao serve`) may share one database: the merkle log
serialises its appenders in the database (`bureau.transparency`), and everything else lives there too. Blobs are
files under `<data>/`, so the processes must be given the same data directory; servers on several machines need
PostgreSQL and that directory on a shared filesystem.
"""

from __future__ import annotations

import errno
import json
import socket
import tempfile
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bureau import keystore, migrations, transparency
from bureau.db import DatabaseUnavailable, make_engine
from bureau.settings import BureauSettings
from sync.errors import KeyHandlingError
from sync.keys import decrypt_private_key

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
        # a private file: several nodes starting at once on one data directory must not delete each other's probe
        with tempfile.TemporaryFile(dir=settings.data_dir, prefix=".write-probe-") as probe:
            probe.write(b"ok")
    except OSError as exc:
        raise BureauStartError(f"数据目录不可写：{settings.data_dir}（{exc.strerror or exc}）") from None


def open_bureau(settings: BureauSettings) -> Bureau:
    """The bureau's database, refused unless its schema is the installed one (an empty database is given it)."""
    ensure_writable_data_dir(settings)
    try:
        engine = make_engine(settings.database_url)
        migrations.require_current(engine)
    except (DatabaseUnavailable, migrations.SchemaError) as exc:
        raise BureauStartError(str(exc)) from None
    return Bureau(settings=settings, engine=engine)


def upgrade_bureau(settings: BureauSettings) -> tuple[migrations.SchemaState, migrations.SchemaState]:
    """Bring the database's schema to the installed head (`yibao bureau upgrade`); where it stood before and after."""
    ensure_writable_data_dir(settings)
    try:
        engine = make_engine(settings.database_url)
    except DatabaseUnavailable as exc:
        raise BureauStartError(str(exc)) from None
    try:
        return migrations.upgrade(engine)
    except migrations.SchemaError as exc:
        raise BureauStartError(str(exc)) from None
    except SQLAlchemyError as exc:  # a revision that cannot run on this database: nothing of it is kept on PostgreSQL
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise BureauStartError(f"数据库结构升级失败：{reason}") from None
    finally:
        engine.dispose()


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


def signing_public_keys(settings: BureauSettings) -> tuple[Ed25519PublicKey, ...]:
    """The public halves of every signing key the bureau has held, the current one first (tree heads signed before a
    rotation still verify); the retired ones are decrypted with the operator passphrase to learn them."""
    current = open_signing_key(settings).public_key()  # and so the passphrase is set and right
    passphrase = keystore.passphrase_from_env().decode()
    retired = []
    for path in sorted((keystore.keys_dir(settings) / "retired").glob("signing-*.key.json")):
        try:
            key = decrypt_private_key(json.loads(path.read_text(encoding="utf-8")), passphrase)
        except KeyHandlingError as exc:
            raise BureauStartError(f"无法打开已轮换的签名密钥 {path.name}：{exc.message_zh}") from None
        except (OSError, ValueError) as exc:
            raise BureauStartError(f"无法读取已轮换的签名密钥 {path}：{exc}") from None
        if isinstance(key, Ed25519PrivateKey):
            retired.append(key.public_key())
    return (current, *retired)


def log_report(bureau: Bureau) -> transparency.LogReport:
    """The merkle log recomputed from the database and checked against every signed tree head and record."""
    keys = signing_public_keys(bureau.settings)
    with Session(bureau.engine) as session:
        return transparency.check(session, keys)


def check_log(bureau: Bureau) -> None:
    """Start only on a log that adds up; else one sentence naming the first bad index."""
    report = log_report(bureau)
    if not report.ok:
        raise BureauStartError(f"{report.summary()}。局端服务未启动；详情见 yibao bureau verify-log")


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BureauStartError(f"端口 {port} 已被占用（{host}）") from None
            raise BureauStartError(f"无法监听 {host}:{port}：{exc.strerror or exc}") from None
