"""The bureau's keys: encrypted at rest, M-of-N recovery shown once, rotation, and the server refusing to start
without them."""

from __future__ import annotations

import itertools
import stat
import subprocess

import pytest

from bureau import keystore
from bureau.settings import BureauSettings
from sync import keys
from sync.canonical import content_hash
from sync.envelope import (
    KnownSigner,
    build_record,
    open_envelope,
    seal_record,
    sign_record,
)
from tests.support import PASSPHRASE, YIBAO, child_env, run_cli

PASS = PASSPHRASE.encode()


@pytest.fixture
def settings(tmp_path) -> BureauSettings:
    return BureauSettings(tmp_path / "bureau", f"sqlite:///{tmp_path / 'bureau' / 'bureau.db'}")


def test_keys_at_rest_and_recovery_shares(settings):
    kit = keystore.create_keys(settings, PASS, shares=5, threshold=3)
    assert len(kit.shares) == 5 and kit.threshold == 3
    files = sorted(p.name for p in keystore.keys_dir(settings).rglob("*") if p.is_file())
    assert files == ["rotations.json", "sealing.key.json", "signing.key.json"]
    for path in keystore.keys_dir(settings).glob("*.key.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert all(share not in text for pair in kit.shares for share in pair)
    opened = keystore.open_keys(settings, PASS)
    assert keys.key_id(opened.sealing.public_key()) == keys.key_id(kit.public.sealing)
    with pytest.raises(keystore.KeystoreError, match="口令不正确"):
        keystore.open_keys(settings, b"not-the-passphrase")
    with pytest.raises(keystore.KeystoreError, match="不会覆盖"):
        keystore.create_keys(settings, PASS)

    for custodians in itertools.combinations(range(5), 3):  # any three of the five
        lines = [line for number in custodians for line in kit.shares[number]]
        recovered, remaining = keystore.recover_keys(settings, lines, b"a-new-passphrase")
        assert len(recovered) == 2 and remaining == []
    assert keys.key_id(keystore.open_keys(settings, b"a-new-passphrase").sealing.public_key()) == \
        keys.key_id(kit.public.sealing)
    with pytest.raises(keystore.KeystoreError, match="至少需要 3"):
        keystore.recover_keys(settings, [line for number in (0, 1) for line in kit.shares[number]], b"whatever-123")
    with pytest.raises(keystore.KeystoreError):
        keystore.create_keys(BureauSettings(settings.data_dir / "x", settings.database_url), PASS, shares=3,
                             threshold=4)


def test_rotation_is_signed_by_the_old_key_and_old_envelopes_still_open(settings):
    keystore.create_keys(settings, PASS)
    old = keystore.open_keys(settings, PASS)
    device_key = keys.generate_signing_key()
    record = build_record({"record_id": "rec-1", "version": 1, "device_id": "tablet-1", "assignment_id": "a",
                           "institution_code": "P1", "template_id": "t", "template_hash": "0" * 64, "answers": {},
                           "findings": [], "created_at": "2026-01-01"}, [])
    sealed_before = seal_record(record, [sign_record(content_hash(record), device_key, "I0001")],
                                old.sealing.public_key())
    kit = keystore.rotate_keys(settings, PASS, shares=3, threshold=2)
    new = keystore.open_keys(settings, PASS)
    assert len(new.rotations) == 1 and len(new.retired_sealing) == 1
    adopted = keys.verify_key_rotation(old.signing.public_key(), new.rotations[0])
    assert keys.key_id(adopted.sealing) == keys.key_id(kit.public.sealing) == keys.key_id(new.sealing.public_key())
    signer = keys.key_id(device_key.public_key())
    opened = open_envelope(sealed_before, new.all_sealing,
                           lambda kid: KnownSigner(device_key.public_key(), "I0001") if kid == signer else None)
    assert opened.record == record


def test_cli_init_prints_shares_once_and_serve_needs_the_passphrase(tmp_path):
    data = tmp_path / "bureau"
    bad = run_cli("bureau", "init", "--data", str(data), "--shares", "3", "--threshold", "4", check=False)
    assert bad.returncode == 2 and "--threshold" in bad.stderr
    done = run_cli("bureau", "init", "--data", str(data), "--shares", "4", "--threshold", "2")
    shares = [line for line in done.stdout.splitlines() if line.startswith("yibao-share-v1:")]
    assert len(shares) == 8 and done.stdout.count("# 保管人") == 4
    again = run_cli("bureau", "init", "--data", str(data))
    assert "yibao-share" not in again.stdout and "未改动" in again.stderr

    wrong = {**child_env(), keystore.PASSPHRASE_ENV: "wrong-passphrase"}
    served = subprocess.run([*YIBAO, "serve", "--data", str(data), "--port", "1"], env=wrong, capture_output=True,
                            text=True, timeout=60)
    assert served.returncode == 1 and "口令不正确" in served.stderr and "Traceback" not in served.stderr
    assert len(served.stderr.strip().splitlines()) == 1

    share_file = tmp_path / "shares.txt"
    share_file.write_text("\n".join(done.stdout.splitlines()[3:9]))  # custodians 2 and 3, headings included
    recovered = subprocess.run([*YIBAO, "bureau", "recover-keys", str(share_file), "--data", str(data)],
                               env={**child_env(), keystore.PASSPHRASE_ENV: "new-passphrase-2026"},
                               capture_output=True, text=True, timeout=60)
    assert recovered.returncode == 0, recovered.stderr
    keystore.open_keys(BureauSettings(data, f"sqlite:///{data / 'bureau.db'}"), b"new-passphrase-2026")
