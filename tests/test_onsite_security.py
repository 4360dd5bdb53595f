"""Data at rest on the tablet: everything sensitive is ciphertext on disk, a wrong PIN reads nothing (and is
counted), a PIN change re-encrypts nothing, two inspectors share the data key but not their signing keys, and keys
live only in memory for the session that unlocked them."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from inspector_app import device, keyring, onsite, vault
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import CheckIn, Identity, KeyringEntry, open_store, utcnow
from tests.test_onsite import CHECKIN, ready, sign_all
from tests.test_onsite_support import (
    ASSIGNMENT_ID,
    PIN,
    StandInBureau,
    make_tablet,
    signing_key_raw,
)


@pytest.fixture
def tablet(tmp_path):
    return make_tablet(tmp_path / "tablet")


def disk_bytes(home) -> bytes:
    """Every byte the tablet keeps: database, its WAL, evidence files."""
    return b"".join(path.read_bytes() for path in sorted(home.rglob("*")) if path.is_file())


def test_nothing_sensitive_is_readable_on_disk(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = ready(t)
    onsite.save_staff_codes(t.engine, key, inspection.id, "R-RX-01", "Y350102000017")
    sign_all(t, inspection.id)
    raw = disk_bytes(t.home)
    for secret in ("R-FEE-02 现场发现问题", "1200.50", "Y350102000017", "张丽", "0591-87654321", "林建华",
                   "闽榕医保执 0001", "26.0823000", "签名人"):
        assert secret.encode() not in raw, secret
    assert signing_key_raw(t.first) not in raw and signing_key_raw(t.second) not in raw
    assert t.first.data_key.secret not in raw
    for path in store.root.rglob("*"):
        if path.is_file():
            assert path.read_bytes().startswith(vault.CONTENT_MAGIC) and b"\xff\xd8\xff" not in path.read_bytes()[:64]


def test_a_wrong_pin_reads_nothing_and_is_counted(tablet):
    t = tablet
    with pytest.raises(keyring.PinError, match="还可尝试 4 次"):
        keyring.unlock(t.engine, "I0001", "000000")
    for _ in range(3):
        with pytest.raises(keyring.PinError):
            keyring.unlock(t.engine, "I0001", "999999")
    with pytest.raises(keyring.PinError, match="已锁定 5 分钟"):
        keyring.unlock(t.engine, "I0001", "999999")
    with pytest.raises(keyring.PinError, match="分钟后再试"):
        keyring.unlock(t.engine, "I0001", PIN["I0001"])  # even the right PIN, for a while
    later = utcnow() + timedelta(minutes=6)
    assert keyring.unlock(t.engine, "I0001", PIN["I0001"], now=later).data_key == t.first.data_key
    with Session(t.engine) as session:
        assert session.get(KeyringEntry, "I0001").failed_attempts == 0


def test_content_opens_only_under_this_tablets_key(tablet, tmp_path):
    t = tablet
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, CHECKIN)
    other = make_tablet(tmp_path / "other")
    with pytest.raises(vault.ContentUnreadable):
        onsite.facts(t.engine, other.first.data_key, inspection.id)
    with pytest.raises(device.DeviceError, match="PIN"):
        onsite.facts(t.engine, None, inspection.id)
    with Session(t.engine) as session:  # a ciphertext moved to another row does not open there either
        sealed = session.get(CheckIn, inspection.id).sealed
    with pytest.raises(vault.ContentUnreadable):
        vault.decrypt_content(t.first.data_key, sealed, vault.Slot("checkin", ("another",)))


def test_changing_a_pin_reencrypts_nothing(tablet):
    t = tablet
    inspection = ready(t)
    before = {path: path.read_bytes() for path in EvidenceStore(t.home).root.rglob("*") if path.is_file()}
    with Session(t.engine) as session:
        sealed_before = session.get(CheckIn, inspection.id).sealed
    with pytest.raises(keyring.PinError, match="连续"):
        keyring.change_pin(t.engine, "I0001", PIN["I0001"], "123456")
    keyring.change_pin(t.engine, "I0001", PIN["I0001"], "864209")
    with pytest.raises(keyring.PinError):
        keyring.unlock(t.engine, "I0001", PIN["I0001"])
    reopened = keyring.unlock(t.engine, "I0001", "864209")
    assert reopened.data_key == t.first.data_key and signing_key_raw(reopened) == signing_key_raw(t.first)
    assert {path: path.read_bytes() for path in before} == before
    with Session(t.engine) as session:
        assert session.get(CheckIn, inspection.id).sealed == sealed_before
    assert onsite.facts(t.engine, reopened.data_key, inspection.id).checkin["officers"][0]["name"] == "林建华"


def test_two_inspectors_share_the_evidence_not_their_signing_keys(tablet):
    t = tablet
    assert t.second.data_key == t.first.data_key
    assert signing_key_raw(t.second) != signing_key_raw(t.first)
    inspection = ready(t)
    assert onsite.facts(t.engine, t.second.data_key, inspection.id).checkin is not None
    with pytest.raises(device.DeviceError, match="先由其输入 PIN 解锁"):  # a third one needs someone unlocked
        device.enroll(t.engine, "http://127.0.0.1:9", "I0003", client=StandInBureau(), pin="192837")
    with pytest.raises(device.DeviceError, match="连续"):  # refused before the token is spent
        device.enroll(t.engine, "http://127.0.0.1:9", "I0003", client=None, pin="654321",
                      data_key=t.first.data_key)


def test_keys_exist_only_inside_the_session_that_unlocked_them(tablet):
    t = tablet
    inspection = ready(t)
    identity = t.first.identity
    with pytest.raises(device.DeviceError, match="PIN"):
        device.signing_key(identity)
    with pytest.raises(device.DeviceError, match="PIN"):
        device.client_for(identity)
    with keyring.session([t.first]):
        assert signing_key_raw(t.first) == signing_key_raw(
            keyring.Unlocked(identity, t.first.data_key, device.signing_key(identity)))
        with pytest.raises(device.DeviceError):
            device.signing_key(t.second.identity)  # I0002 did not unlock in this session
    known = onsite.facts(t.engine, t.first.data_key, inspection.id)
    assert onsite.record_of(known, (), utcnow())["checkin"]["place"] == CHECKIN["place"]
    with pytest.raises(device.DeviceError, match="PIN"):
        onsite.facts(t.engine, None, inspection.id)  # the check-in is sealed: no record without a data key


def test_a_pin_set_after_a_headless_enrollment_replaces_the_stored_key(tmp_path):
    home = tmp_path / "headless"
    engine = open_store(home)
    identity = device.enroll(engine, "http://127.0.0.1:9", "I0001", client=StandInBureau())
    raw = identity.private_key
    assert raw and raw in disk_bytes(home) and not keyring.has_pin(engine, "I0001")
    with pytest.raises(keyring.PinError, match="同一个字符"):
        keyring.set_pin(engine, identity, "111111")
    unlocked = keyring.set_pin(engine, identity, "246813")
    assert signing_key_raw(unlocked) == raw and keyring.has_pin(engine, "I0001")
    with Session(engine) as session:
        assert session.exec(select(Identity)).one().private_key == b""
    engine.dispose()
    assert raw not in disk_bytes(home)


@pytest.mark.parametrize("pin_at", ["enrollment", "after a headless enrollment"])
def test_a_pin_is_derived_at_the_default_scrypt_cost(tmp_path, pin_at):
    """The test tablets elsewhere lower the cost (FAST_SCRYPT_N); a PIN set with no cost given, as the app and the CLI
    set it, at enrollment or after it (keyring.set_pin), keeps the tablet's."""
    engine = open_store(tmp_path / "tablet")
    if pin_at == "enrollment":
        device.enroll(engine, "http://127.0.0.1:9", "I0001", client=StandInBureau(), pin=PIN["I0001"])
    else:
        keyring.set_pin(engine, device.enroll(engine, "http://127.0.0.1:9", "I0001", client=StandInBureau()),
                        PIN["I0001"])
    with Session(engine) as session:
        entry = vault.InspectorKeyEntry.from_dict(session.exec(select(KeyringEntry)).one().entry)
    assert (entry.scrypt_n, entry.scrypt_r, entry.scrypt_p) == (vault.SCRYPT_N, vault.SCRYPT_R, vault.SCRYPT_P)
    assert keyring.unlock(engine, "I0001", PIN["I0001"]).inspector_code == "I0001"


def test_a_store_from_before_gains_the_new_columns(tmp_path):
    home = tmp_path / "old"
    home.mkdir()
    with sqlite3.connect(home / "device.db") as old:
        old.execute("CREATE TABLE inspection (id VARCHAR PRIMARY KEY, assignment_id VARCHAR, inspector_code VARCHAR,"
                    " template_id VARCHAR, template_hash VARCHAR, status VARCHAR, created_at DATETIME,"
                    " updated_at DATETIME, sent_at DATETIME)")
        old.execute("INSERT INTO inspection VALUES ('x', 'a', 'I0001', 'pharmacy', 'h', 'draft', '2026-01-01',"
                    " '2026-01-01', NULL)")
        old.execute("CREATE TABLE answer (inspection_id VARCHAR, item_id VARCHAR, result VARCHAR, note VARCHAR,"
                    " amount_yuan VARCHAR, updated_at DATETIME, PRIMARY KEY (inspection_id, item_id))")
    engine = open_store(home)
    with sqlite3.connect(home / "device.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(inspection)")}
        assert {"record_id", "version", "previous_hash", "correction_reason"} <= columns
        assert db.execute("SELECT version, correction_reason FROM inspection").fetchone() == (1, "")
        assert "sealed" in {row[1] for row in db.execute("PRAGMA table_info(answer)")}
    engine.dispose()
