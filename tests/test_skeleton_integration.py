"""One inspection travels from the bureau to a device and back, through a real `yibao serve` on loopback."""

from __future__ import annotations

import base64

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

from bureau.db import make_engine
from bureau.models import ReceivedRecord
from checklists import template_for_kind
from inspector_app import device, outbox
from inspector_app.store import open_store
from sync.bureau_http import BureauRefused
from sync.canonical import content_hash
from sync.envelope import build_record, seal_record, sign_record
from sync.keys import sealing_public_from_b64
from tests.support import run_cli


def enroll_device(bureau, home, inspector="I0001"):
    token = bureau.cli("bureau", "enroll-token", "--inspector", inspector).stdout.strip().splitlines()[-1]
    engine = open_store(home)
    return engine, device.enroll(engine, bureau.url, token)


def test_health_and_openapi(running_bureau):
    health = requests.get(running_bureau.url + "/v1/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    spec = requests.get(running_bureau.url + "/openapi.json", timeout=5).json()
    assert "/v1/assignments" in spec["paths"] and "/v1/devices/enroll" in spec["paths"]


def test_assignment_round_trip(running_bureau, tmp_path):
    engine, identity = enroll_device(running_bureau, tmp_path / "tablet")
    pulled = device.pull_assignments(engine, identity)
    assert pulled.received == 2 and pulled.refused == 0
    assigned = {a.id for a in device.assignments(engine, "I0001")}

    # The whole trip through the command line: a finished, signed inspection is sealed, sent and acknowledged.
    home = str(tmp_path / "tablet")
    run_cli("device", "demo-inspections", "--home", home, "--n", "1", "--photos", "1")
    run_cli("device", "sync", "--home", home, "--timeout", "60")
    bureau_engine = make_engine(running_bureau.settings.database_url)
    with Session(bureau_engine) as session:
        received = session.exec(select(ReceivedRecord)).all()
    bureau_engine.dispose()
    assert len(received) == 1 and received[0].assignment_id in assigned and "I0001" in received[0].signers

    # A second pull brings nothing new: the cursor moved on.
    assert device.pull_assignments(engine, identity).received == 0


def test_unsigned_requests_and_foreign_assignments_are_refused(running_bureau, tmp_path):
    assert requests.get(running_bureau.url + "/v1/assignments", timeout=5).status_code == 401
    engine, identity = enroll_device(running_bureau, tmp_path / "tablet-3", inspector="I0003")
    assert device.pull_assignments(engine, identity).received == 0  # I0003 is on no team
    other_engine, other = enroll_device(running_bureau, tmp_path / "tablet-1")
    device.pull_assignments(other_engine, other)
    foreign = device.assignments(other_engine, "I0001")[0]
    template = template_for_kind(foreign.institution_kind)
    record = build_record({
        "record_id": "rec-foreign-0001", "version": 1, "device_id": identity.device_id, "assignment_id": foreign.id,
        "institution_code": foreign.institution_code, "template_id": template.id, "template_hash": template.hash,
        "answers": {item.id: {"result": "pass"} for item in template.items}, "findings": [],
        "created_at": "2026-01-01T00:00:00+00:00"}, [])
    signature = sign_record(content_hash(record), device.signing_key(identity), "I0003")
    with Session(engine) as session:
        bureau_key = session.get(outbox.BureauPin, 1).sealing_public
    envelope = seal_record(record, [signature], sealing_public_from_b64(bureau_key))
    with pytest.raises(BureauRefused) as refused:
        device.client_for(identity).put_record("rec-foreign-0001", envelope)
    assert refused.value.reason == "not_your_assignment"


def test_enrollment_token_is_single_use_but_retry_safe(running_bureau, tmp_path):
    token = running_bureau.cli("bureau", "enroll-token", "--inspector", "I0002").stdout.strip().splitlines()[-1]
    public = base64.b64encode(b"\x01" * 32).decode()
    body = {"token": token, "device_id": "device-aaaa", "public_key": public}
    first = requests.post(running_bureau.url + "/v1/devices/enroll", json=body, timeout=5)
    retry = requests.post(running_bureau.url + "/v1/devices/enroll", json=body, timeout=5)
    assert first.status_code == retry.status_code == 200 and first.json() == retry.json()
    other_key = {**body, "public_key": base64.b64encode(b"\x02" * 32).decode()}
    spent = requests.post(running_bureau.url + "/v1/devices/enroll", json=other_key, timeout=5)
    assert spent.status_code == 403 and spent.json()["detail"]["reason"] == "token_spent"
    second = running_bureau.cli("bureau", "enroll-token", "--inspector", "I0001").stdout.strip().splitlines()[-1]
    reused = requests.post(running_bureau.url + "/v1/devices/enroll", json={**body, "token": second}, timeout=5)
    assert reused.status_code == 409 and reused.json()["detail"]["reason"] == "key_already_enrolled"


def test_tampered_assignment_is_refused_by_the_device(running_bureau, tmp_path):
    engine, identity = enroll_device(running_bureau, tmp_path / "tablet")
    answer = device.client_for(identity).pull_assignments(0)
    assignment = answer["assignments"][0]
    from sync.assignments import assignment_signature_valid

    assert assignment_signature_valid(assignment, device.pinned_bureau_key(identity))
    assert not assignment_signature_valid({**assignment, "team": ["I0001", "I0003"]}, device.pinned_bureau_key(identity))
    assert not assignment_signature_valid({**assignment, "signature": ""}, device.pinned_bureau_key(identity))


def test_assignments_name_their_members_from_the_registry_under_the_signature(running_bureau, tmp_path):
    """The team's names and 执法证号 come signed from the registry; altering or dropping them breaks the signature,
    and an assignment signed before assignments named members (v1) still verifies."""
    from sync.assignments import assignment_signature_valid, members_problem, sign_assignment

    engine, identity = enroll_device(running_bureau, tmp_path / "tablet")
    assignment = device.client_for(identity).pull_assignments(0)["assignments"][0]
    bureau_key = device.pinned_bureau_key(identity)
    assert assignment["members"] == [
        {"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001"},
        {"inspector_code": "I0002", "name": "陈晓燕", "badge_no": "闽榕医保执 0002"}]
    assert assignment_signature_valid(assignment, bureau_key) and members_problem(assignment) is None
    renamed = [{**assignment["members"][0], "name": "张三"}, assignment["members"][1]]
    assert not assignment_signature_valid({**assignment, "members": renamed}, bureau_key)
    assert not assignment_signature_valid({k: v for k, v in assignment.items() if k != "members"}, bureau_key)
    assert members_problem({**assignment, "members": assignment["members"][::-1]})
    assert members_problem({**assignment, "members": [{**renamed[0], "badge_no": ""}, renamed[1]]})

    key = Ed25519PrivateKey.generate()
    older = {k: v for k, v in assignment.items() if k != "members"}
    older["signature"] = sign_assignment(older, key)
    assert assignment_signature_valid(older, key.public_key()) and members_problem(older) is None
    assert device.pull_assignments(engine, identity).received == 2


def test_serve_bad_inputs_exit_1_with_one_sentence(tmp_path):
    bad_url = run_cli("serve", "--db", "nonsense://", "--data", str(tmp_path / "d"), check=False)
    assert bad_url.returncode == 1 and "数据库" in bad_url.stderr and "Traceback" not in bad_url.stderr
    unreachable = run_cli("serve", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--data",
                          str(tmp_path / "d"), check=False)
    assert unreachable.returncode == 1 and "无法连接数据库" in unreachable.stderr
    (tmp_path / "a-file").write_text("x")  # a directory cannot be made below a regular file, even by root
    unwritable = run_cli("serve", "--data", str(tmp_path / "a-file" / "sub"), check=False)
    assert unwritable.returncode == 1 and "数据目录不可写" in unwritable.stderr


def test_serve_port_in_use(seeded_bureau):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = run_cli("serve", "--db", seeded_bureau.database_url, "--data", str(seeded_bureau.data_dir),
                       "--port", str(port), check=False)
    assert busy.returncode == 1 and "已被占用" in busy.stderr
