"""Checks every bureau route gets before it runs: a NUL character anywhere a database would store it is refused
with a reason (PostgreSQL cannot store one; schemathesis found the 500 it caused), while binary bodies pass."""

from __future__ import annotations

from tests.support import STAFF_PASSWORD
from tests.test_roles_matrix import api  # noqa: F401  (the fixture: a bureau app on SQLite and PostgreSQL)


def test_nul_characters_are_refused_at_the_door_and_binary_bodies_pass(api):  # noqa: F811
    _app, client, _engine = api
    for attempt in (
        lambda: client.post("/v1/staff/login", json={"username": "zhu\x00ren", "password": STAFF_PASSWORD}),
        lambda: client.post("/v1/staff/login", json={"username": "zhuren", "password": "x", "\x00": 1}),
        lambda: client.get("/v1/review/queue?status=%00"),
        lambda: client.get("/v1/review/records/abc%00def"),
    ):
        answer = attempt()
        assert answer.status_code == 422 and answer.json()["detail"]["reason"] == "nul_character", answer.text
        assert "空字符" in answer.json()["detail"]["message"]

    assert client.post("/v1/staff/login", json={"username": "zhuren", "password": STAFF_PASSWORD}).status_code == 200
    literal = client.post("/v1/staff/login", json={"username": "zhuren\\u0000", "password": STAFF_PASSWORD})
    assert literal.status_code == 401  # a backslash and "u0000" typed as text is no NUL
    token = client.post("/v1/staff/login", json={"username": "zhuren", "password": STAFF_PASSWORD}).json()["token"]
    upload = client.post("/v1/registry/institutions?filename=x.xlsx&dry_run=true", content=b"PK\x03\x04\x00\x00junk",
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    assert upload.status_code == 200 and upload.json()["errors"], upload.text  # checked as a file, found unreadable
