"""PINs on the tablet: each inspector's PIN unwraps the shared device data key and their own signing key
(`inspector_app.vault`); this module keeps the wrapped entries in the store and counts wrong PINs.

An unlocked inspector (`Unlocked`) exists only in memory: in the app, in the browser session's `AppState`; in a
headless command, for the length of the command. Reading sealed content takes the data key as an argument; only
`device.signing_key`, which signs the sync run's requests for an identity, finds an unlocked key in the current
`session(...)`: a context variable, so two browser sessions of one app process never see each other's keys.

An identity enrolled without a PIN (a headless `yibao device enroll`) keeps its signing key in the store until a PIN
is set (`set_pin`); the app asks for one before anything else.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inspector_app import vault
from inspector_app.store import Identity, KeyringEntry, utcnow
from sync.keys import key_id

MAX_ATTEMPTS = 5  # wrong PINs in a row before the entry is locked for a while
LOCKOUT = timedelta(minutes=5)  # doubled for every further wrong PIN


class PinError(Exception):
    """Something the inspector must be told about their PIN, in Chinese."""


@dataclass(frozen=True)
class Unlocked:
    identity: Identity
    data_key: vault.DataKey
    signing_key: Ed25519PrivateKey

    @property
    def inspector_code(self) -> str:
        return self.identity.inspector_code


def has_entries(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(KeyringEntry)).first() is not None


def has_pin(engine: Engine, inspector_code: str) -> bool:
    with Session(engine) as session:
        return session.get(KeyringEntry, inspector_code) is not None


def protect(session: Session, identity: Identity, signing_key: Ed25519PrivateKey, pin: str,
            data_key: vault.DataKey | None, *, scrypt_n: int = vault.SCRYPT_N) -> vault.DataKey:
    """Wrap the keys of `identity` under `pin` and drop its plain signing key (the caller commits). The first
    inspector of a tablet gets a new data key; any later one must bring the existing key (someone unlocked).
    Raises PinError for a weak PIN or a missing data key. `scrypt_n` is lowered only by tests."""
    if data_key is None:
        if session.exec(select(KeyringEntry)).first() is not None:
            raise PinError("本机已有检查人员：请先由其输入 PIN 解锁，再添加新的检查人员")
        data_key = vault.new_data_key()
    try:
        entry = vault.enroll_inspector(identity.inspector_code, pin, data_key=data_key, signing_key=signing_key,
                                       scrypt_n=scrypt_n)
    except vault.WeakPin as exc:
        raise PinError(exc.message_zh) from None
    session.merge(KeyringEntry(inspector_code=identity.inspector_code, entry=entry.to_dict()))
    identity.private_key = b""
    session.add(identity)
    return data_key


def _forget_plain_pages(engine: Engine) -> None:
    """Move the WAL into the database (secure_delete has zeroed the replaced key there) and truncate it."""
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def set_pin(engine: Engine, identity: Identity, pin: str, data_key: vault.DataKey | None = None) -> Unlocked:
    """Give an identity enrolled without a PIN its PIN; returns it unlocked."""
    if not identity.private_key:
        raise PinError("该检查人员已设置 PIN")
    signing_key = Ed25519PrivateKey.from_private_bytes(identity.private_key)
    with Session(engine) as session:
        stored = session.get(Identity, identity.key_id)
        assert stored is not None  # `identity` was read from this store; identities are never deleted
        data_key = protect(session, stored, signing_key, pin, data_key)
        session.commit()
        session.refresh(stored)
    _forget_plain_pages(engine)
    return Unlocked(stored, data_key, signing_key)


def _identity_with_key(session: Session, inspector_code: str, public_raw: bytes) -> Identity:
    wanted = key_id(Ed25519PublicKey.from_public_bytes(public_raw))
    found = session.get(Identity, wanted)
    if found is None or found.inspector_code != inspector_code:
        raise PinError("本机没有与该 PIN 对应的检查人员身份，请重新注册")
    return found


def unlock(engine: Engine, inspector_code: str, pin: str, now: datetime | None = None) -> Unlocked:
    """The inspector's keys, or PinError (wrong PIN, with the attempts left; or locked out for a while)."""
    now = now or utcnow()
    with Session(engine) as session:
        row = session.get(KeyringEntry, inspector_code)
        if row is None:
            raise PinError(f"检查人员 {inspector_code} 尚未在本机设置 PIN")
        locked_until = row.locked_until and row.locked_until.replace(tzinfo=row.locked_until.tzinfo or timezone.utc)
        if locked_until and locked_until > now:
            minutes = max(1, round((locked_until - now).total_seconds() / 60))
            raise PinError(f"PIN 连续错误次数过多，请 {minutes} 分钟后再试")
        entry = vault.InspectorKeyEntry.from_dict(row.entry)
        try:
            opened = vault.unlock(entry, pin)
        except vault.WrongPin:
            row.failed_attempts += 1
            over = row.failed_attempts - MAX_ATTEMPTS
            if over >= 0:
                row.locked_until = now + LOCKOUT * 2 ** min(over, 8)
            session.add(row)
            session.commit()
            left = MAX_ATTEMPTS - row.failed_attempts
            raise PinError(f"PIN 不正确，还可尝试 {left} 次" if left > 0 else
                           f"PIN 不正确，已锁定 {round(LOCKOUT.total_seconds() / 60) * 2 ** min(over, 8)} 分钟") from None
        if row.failed_attempts or row.locked_until:
            row.failed_attempts, row.locked_until = 0, None
            session.add(row)
            session.commit()
        identity = _identity_with_key(session, inspector_code, entry.signing_public_key)
    return Unlocked(identity, opened.data_key, opened.signing_key)


def change_pin(engine: Engine, inspector_code: str, old_pin: str, new_pin: str) -> None:
    """Re-wrap the inspector's two keys under a new PIN; nothing encrypted under the data key changes."""
    unlock(engine, inspector_code, old_pin)  # counts a wrong old PIN like any other
    with Session(engine) as session:
        row = session.get(KeyringEntry, inspector_code)
        if row is None:  # unlock() above has found it; kept for the type checker
            raise PinError(f"检查人员 {inspector_code} 尚未在本机设置 PIN")
        try:
            entry = vault.change_pin(vault.InspectorKeyEntry.from_dict(row.entry), old_pin, new_pin)
        except vault.WeakPin as exc:
            raise PinError(exc.message_zh) from None
        row.entry, row.updated_at = entry.to_dict(), utcnow()
        session.add(row)
        session.commit()


# --- the session: keys available to device operations that do not take them as arguments ---

_session: ContextVar[tuple[Unlocked, ...]] = ContextVar("yibao_unlocked", default=())


@contextmanager
def session(unlocked: Iterable[Unlocked]) -> Iterator[None]:
    token = _session.set(tuple(unlocked))
    try:
        yield
    finally:
        _session.reset(token)


def in_session(inspector_code: str) -> Unlocked | None:
    return next((u for u in _session.get() if u.inspector_code == inspector_code), None)
