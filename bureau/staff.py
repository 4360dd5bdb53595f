"""Bureau staff accounts: roles, password hashing (argon2id), sessions that expire, lockout after repeated failures."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, or_
from sqlmodel import Session, col, select, update

from bureau.models import StaffAccount, StaffSession

ROLES = {"supervisor": "科室负责人", "reviewer": "审核人员", "admin": "管理员"}
SESSION_LIFETIME = timedelta(hours=8)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()


class StaffError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_account(session: Session, username: str, name: str, role: str, password: str,
                inspector_code: str | None = None, *, hasher: PasswordHasher = _hasher) -> StaffAccount:
    """`hasher` is cheaper only in tests whose subject is not the password hash (a login checks a password with the
    parameters its hash records)."""
    if role not in ROLES:
        raise StaffError("bad_role", f"未知角色 {role}（应为 {', '.join(ROLES)}）")
    if len(password) < 10:
        raise StaffError("weak_password", "密码至少 10 个字符")
    if session.get(StaffAccount, username) is not None:
        raise StaffError("exists", f"账号 {username} 已存在")
    account = StaffAccount(username=username, name=name, role=role, password_hash=hasher.hash(password),
                           inspector_code=inspector_code)
    session.add(account)
    return account


def login(session: Session, username: str, password: str, now: datetime) -> str:
    """A session token for correct credentials; the same refusal for unknown user and wrong password.

    Every attempt is counted before its password is checked (`_count_attempt`), so however many guesses arrive
    at once, at most MAX_FAILURES of them are ever checked before the account locks."""
    account = session.get(StaffAccount, username)
    refused = StaffError("bad_credentials", "账号或密码错误")
    if account is None or not account.active:
        raise refused
    password_hash = account.password_hash
    if not _count_attempt(session, username, now):
        raise StaffError("locked", "连续登录失败次数过多，账号已临时锁定，请 15 分钟后再试")
    session.commit()  # the attempt counts for parallel ones while its password is being checked
    try:
        _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    account.failed_logins, account.locked_until = 0, None
    token = secrets.token_urlsafe(32)
    session.add(account)
    session.add(StaffSession(token_hash=_token_hash(token), username=username, expires_at=now + SESSION_LIFETIME))
    session.commit()
    return token


def _count_attempt(session: Session, username: str, now: datetime) -> bool:
    """Count one attempt against an unlocked account in one atomic UPDATE; False while it is locked. The attempt
    that reaches MAX_FAILURES locks the account in that same statement (counter back to 0), so no parallel attempt
    sees the count without the lock; a correct password then clears both. A crash mid-check costs one attempt."""
    failures = col(StaffAccount.failed_logins) + 1
    locks = failures >= MAX_FAILURES
    counted = session.exec(update(StaffAccount)
                           .where(col(StaffAccount.username) == username,
                                  or_(col(StaffAccount.locked_until).is_(None), col(StaffAccount.locked_until) <= now))
                           .values(failed_logins=case((locks, 0), else_=failures),
                                   locked_until=case((locks, now + LOCKOUT), else_=None))
                           .returning(col(StaffAccount.failed_logins))
                           .execution_options(synchronize_session=False))
    return counted.first() is not None


def account_for_token(session: Session, token: str, now: datetime) -> StaffAccount:
    found = session.get(StaffSession, _token_hash(token))
    if found is None or _aware(found.expires_at) <= now:
        raise StaffError("session_expired", "登录已过期，请重新登录")
    account = session.get(StaffAccount, found.username)
    if account is None or not account.active:
        raise StaffError("session_expired", "登录已过期，请重新登录")
    return account


def logout(session: Session, token: str) -> None:
    found = session.get(StaffSession, _token_hash(token))
    if found is not None:
        session.delete(found)
        session.commit()


def accounts(session: Session) -> list[StaffAccount]:
    return list(session.exec(select(StaffAccount).order_by(StaffAccount.username)))
