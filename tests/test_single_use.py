"""Single use under concurrency, against a real server on SQLite and on PostgreSQL: one enrollment token enrolls one
device however many requests race for it; of parallel wrong passwords at most MAX_FAILURES are checked before the
account locks; a signed device request is accepted once (its replay is refused, a tablet's re-signed retry is not)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from argon2 import PasswordHasher
from sqlmodel import Session, select

from bureau import staff
from bureau.db import make_engine
from bureau.models import DeviceKey, EnrollToken, StaffAccount
from inspector_app import device, sync_protocol
from sync.keys import generate_signing_key, key_id, public_key_to_b64
from sync.request_auth import sign_request
from tests.support import STAFF_PASSWORD, add_staff
from tests.sync_support import enroll_tablet, fill_inspection, issue_token

MAX_FAILURES = 5  # bureau.staff.MAX_FAILURES, the configured lockout threshold
LOCKED = "连续登录失败次数过多，账号已临时锁定，请 15 分钟后再试"


def at_once(n: int, call: Callable[[requests.Session, int], requests.Response], url: str) -> list[requests.Response]:
    """`call(http, i)` for i in range(n), from n threads released together, each on a connection already open to
    the bureau at `url` (so the requests reach it as close together as the threads can send them)."""
    start = threading.Barrier(n)

    def one(i: int) -> requests.Response:
        with requests.Session() as http:
            http.get(url + "/v1/health", timeout=60)
            start.wait()
            return call(http, i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def reasons(answers: list[requests.Response]) -> Counter:
    return Counter((a.status_code, a.json().get("detail", {}).get("reason") if a.status_code >= 400 else None)
                   for a in answers)


def holding(settings, query: Callable[[Session], Any]) -> Any:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return query(session)
    finally:
        engine.dispose()


def race_for_one_token(bureau, inspector: str) -> dict[str, str]:
    """20 devices enroll at once with one token: exactly one is enrolled. Returns the winner's request."""
    url = bureau.url + "/v1/devices/enroll"
    token = issue_token(bureau.settings, inspector)
    keys = [generate_signing_key() for _ in range(20)]
    bodies = [{"token": token, "device_id": f"race-{inspector}-{i:02d}",
               "public_key": public_key_to_b64(k.public_key())} for i, k in enumerate(keys)]
    answers = at_once(20, lambda http, i: http.post(url, json=bodies[i], timeout=60), bureau.url)
    assert reasons(answers) == {(200, None): 1, (403, "token_spent"): 19}, (inspector, reasons(answers))
    assert {a.json()["detail"]["message"] for a in answers if a.status_code == 403} == {"注册码已被使用"}
    winner = next(i for i, a in enumerate(answers) if a.status_code == 200)
    enrolled = holding(bureau.settings, lambda s: (
        [k.key_id for k in s.exec(select(DeviceKey).where(DeviceKey.inspector_code == inspector))],
        s.get(EnrollToken, hashlib.sha256(token.encode()).hexdigest()).used_by_key_id))
    assert enrolled == ([key_id(keys[winner].public_key())], key_id(keys[winner].public_key()))
    again = requests.post(url, json=bodies[winner], timeout=60)  # the winner's retry after a lost answer
    assert again.status_code == 200 and again.json() == answers[winner].json()
    return bodies[winner]


def test_one_token_enrolls_one_device_however_many_race(running_bureau):
    # three races: a race lost only by luck (one of the ways a check-then-write bug hides) would prove little
    winner = [race_for_one_token(running_bureau, inspector) for inspector in ("I0001", "I0002", "I0003")][-1]

    # a registration that fails does not spend the token: it stays good for another key
    url = running_bureau.url + "/v1/devices/enroll"
    second = issue_token(running_bureau.settings, "I0003")
    taken = requests.post(url, json={**winner, "token": second}, timeout=60)
    assert taken.status_code == 409 and taken.json()["detail"]["reason"] == "key_already_enrolled"
    fresh = {**winner, "token": second, "public_key": public_key_to_b64(generate_signing_key().public_key())}
    assert requests.post(url, json=fresh, timeout=60).status_code == 200


def test_parallel_wrong_passwords_get_at_most_five_checks_then_the_lock_holds(running_bureau):
    # argon2's real cost: the guesses race while a password is being checked
    add_staff(running_bureau.settings, "zhuren", "supervisor", hasher=PasswordHasher())
    url = running_bureau.url + "/v1/staff/login"
    guesses = at_once(50, lambda http, i: http.post(url, json={"username": "zhuren", "password": f"guess-{i:02d}"},
                                                     timeout=120), running_bureau.url)
    assert reasons(guesses) == {(401, "bad_credentials"): MAX_FAILURES, (429, "locked"): 50 - MAX_FAILURES}
    assert {a.json()["detail"]["message"] for a in guesses if a.status_code == 429} == {LOCKED}
    account = holding(running_bureau.settings, lambda s: s.get(StaffAccount, "zhuren"))
    locked_until = account.locked_until.replace(tzinfo=account.locked_until.tzinfo or timezone.utc)
    assert account.failed_logins == 0 and locked_until > datetime.now(timezone.utc) + timedelta(minutes=14)

    right = requests.post(url, json={"username": "zhuren", "password": STAFF_PASSWORD}, timeout=60)
    assert right.status_code == 429 and right.json()["detail"] == {"reason": "locked", "message": LOCKED}
    more = at_once(20, lambda http, i: http.post(url, json={"username": "zhuren", "password": f"more-{i:02d}"},
                                                  timeout=120), running_bureau.url)
    assert reasons(more) == {(429, "locked"): 20}
    after = holding(running_bureau.settings, lambda s: s.get(StaffAccount, "zhuren"))
    assert (after.failed_logins, after.locked_until) == (0, account.locked_until)  # the lock holds, unmoved


def test_a_staff_password_is_hashed_at_argon2s_default_cost(running_bureau):
    """The test accounts elsewhere are hashed cheaply (support.FAST_PASSWORD_HASHER); an account made with no cost
    given, as the CLI and the demo make them, is not, and its password opens a session."""
    def add(session: Session) -> str:
        account = staff.add_account(session, "shenhe", "审核员", "reviewer", STAFF_PASSWORD)
        session.commit()
        return account.password_hash

    password_hash = holding(running_bureau.settings, add)
    assert password_hash.startswith("$argon2id$") and not PasswordHasher().check_needs_rehash(password_hash)
    login = requests.post(running_bureau.url + "/v1/staff/login", json={"username": "shenhe", "password": STAFF_PASSWORD},
                          timeout=60)
    assert login.status_code == 200 and login.json()["token"]


class Wire(requests.Session):
    """The tablet's HTTP session: keeps every request as sent, and loses the answer to the first record upload
    (the bureau has taken the record; the tablet does not know)."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, int]] = []
        self.answer_lost = False

    def send(self, request, **kwargs):
        answer = super().send(request, **kwargs)
        self.sent.append((request.copy(), answer.status_code))
        if request.method == "PUT" and "/v1/records/" in request.url and not self.answer_lost:
            self.answer_lost = True
            raise requests.ConnectionError("连接中断（回答丢失）")
        return answer


def test_a_signed_request_is_accepted_once_and_a_retry_is_signed_anew(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    fill_inspection(tablet)
    client = device.client_for(tablet.identities[0])
    wire = client.http = Wire()
    report = sync_protocol.run(tablet.engine, client, timeout=60,
                               policy=sync_protocol.RetryPolicy(base=0.01, cap=0.05))
    assert report.error is None and report.records_sent == 1 and report.duplicates == 1  # the retry got its receipt
    nonces = [request.headers["X-Yibao-Nonce"] for request, _ in wire.sent]
    assert len(nonces) == len(set(nonces)) > 2  # every send, the retry included, signed anew

    original, status = next((r, s) for r, s in wire.sent if r.method == "PUT" and "/v1/records/" in r.url)
    assert status == 200
    replayed = requests.Session().send(original.copy(), timeout=60)
    assert replayed.status_code == 429 and replayed.json()["detail"]["reason"] == "replayed_request"
    assert "重放" in replayed.json()["detail"]["message"]

    # copies of one signed request racing each other: one is served, every other copy is a replay
    identity = tablet.identities[0]
    headers = sign_request(device.signing_key(identity), identity.key_id, "GET", "/v1/assignments?since=0", b"")
    copies = at_once(10, lambda http, _i: http.get(running_bureau.url + "/v1/assignments?since=0", headers=headers,
                                                   timeout=60), running_bureau.url)
    assert reasons(copies) == {(200, None): 1, (429, "replayed_request"): 9}
