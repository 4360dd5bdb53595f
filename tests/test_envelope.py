"""sync.envelope: building, signing, sealing and opening inspection records; every tampering is refused."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from sync import keys
from sync.canonical import canonical_bytes, content_hash
from sync.envelope import (
    KnownSigner,
    build_record,
    open_envelope,
    seal_record,
    sign_record,
)
from sync.errors import EnvelopeError

BUREAU = keys.SealingPrivateKey.generate()
OTHER_BUREAU = keys.SealingPrivateKey.generate()
ALICE = keys.generate_signing_key()
BOB = keys.generate_signing_key()
MALLORY = keys.generate_signing_key()
PHOTO = {"sha256": "ab" * 32, "size": 1234, "media_type": "image/jpeg"}


def fields(**overrides):
    base = {"record_id": "rec-2025-0001", "version": 1, "device_id": "tablet-07", "assignment_id": "asg-17",
            "institution_code": "H51010400001", "template_id": "pharmacy", "template_hash": "cd" * 32,
            "answers": {"P-01": {"value": "no", "note": "未按规定留存处方", "amount": "12000.50"}},
            "findings": [{"item": "P-01", "category": "38.3"}],
            "signatures_meta": {"representative": "refused", "witness": "王五"},
            "created_at": "2025-03-01T10:20:00+08:00"}
    base.update(overrides)
    return base


def registry(*extra):
    entries = {keys.key_id(ALICE.public_key()): KnownSigner(ALICE.public_key(), "INS-ALICE"),
               keys.key_id(BOB.public_key()): KnownSigner(BOB.public_key(), "INS-BOB")}
    for key, inspector, revoked in extra:
        entries[keys.key_id(key.public_key())] = KnownSigner(key.public_key(), inspector, revoked)
    return entries.get


def signed_record(**overrides):
    record = build_record(fields(**overrides), [PHOTO])
    record_hash = content_hash(record)
    return record, [sign_record(record_hash, ALICE, "INS-ALICE"), sign_record(record_hash, BOB, "INS-BOB")]


def sealed(**overrides):
    record, signatures = signed_record(**overrides)
    return seal_record(record, signatures, BUREAU.public_key())


def reseal(bundle, record_id="rec-2025-0001", device_id="tablet-07", plaintext=None):
    """What anyone holding the bureau's public key can do: seal a bundle of their choice under any header."""
    data = plaintext if plaintext is not None else canonical_bytes(bundle)
    info = b"yibao-envelope-v1|" + record_id.encode() + b"|" + device_id.encode()
    ciphertext = keys.SUITE.encrypt(data, BUREAU.public_key().hpke_key(), info=info)
    return {"format": "yibao-envelope-v1", "record_id": record_id, "device_id": device_id,
            "bureau_key_id": keys.key_id(BUREAU.public_key()), "ciphertext_b64": base64.b64encode(ciphertext).decode()}


def reason(envelope, lookup=None, **kwargs):
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(envelope, BUREAU, lookup or registry(), **kwargs)
    assert caught.value.message_zh
    return caught.value.reason_code


# --- the happy path -------------------------------------------------------------------------------------------

def test_seal_and_open():
    record, signatures = signed_record()
    envelope = seal_record(record, signatures, BUREAU.public_key())
    assert json.loads(json.dumps(envelope)) == envelope
    assert set(envelope) == {"format", "record_id", "device_id", "bureau_key_id", "ciphertext_b64"}
    assert "未按规定" not in json.dumps(envelope, ensure_ascii=False)
    opened = open_envelope(envelope, [OTHER_BUREAU, BUREAU], registry(),
                           expected_record_id="rec-2025-0001", expected_device_id="tablet-07")
    assert opened.record == record
    assert opened.record_hash == content_hash(record)
    assert opened.signatures == signatures
    assert (opened.record_id, opened.device_id) == ("rec-2025-0001", "tablet-07")
    assert opened.bureau_key_id == keys.key_id(BUREAU.public_key())


def test_signature_covers_domain_and_record_hash():
    record, _ = signed_record()
    signature = sign_record(content_hash(record), ALICE, "INS-ALICE")
    ALICE.public_key().verify(base64.b64decode(signature["signature_b64"]),
                              b"yibao-record-v1\n" + content_hash(record).encode())


def test_correction_version_links_previous_hash():
    record, _ = signed_record()
    correction = build_record(fields(version=2, previous_hash=content_hash(record)), [PHOTO])
    assert correction["previous_hash"] == content_hash(record)
    with pytest.raises(ValueError):
        build_record(fields(version=2), [PHOTO])
    with pytest.raises(ValueError):
        build_record(fields(previous_hash=content_hash(record)), [PHOTO])


@pytest.mark.parametrize("bad", [
    {"version": 0}, {"version": "1"}, {"record_id": "a|b"}, {"device_id": ""}, {"template_hash": ""},
    {"record_id": "x" * 129}, {"blobs": []},
])
def test_build_record_refuses_what_the_bureau_would_refuse(bad):
    with pytest.raises(ValueError):
        build_record(fields(**bad), [])


@pytest.mark.parametrize("blob", [
    {"sha256": "AB" * 32, "size": 1, "media_type": "image/jpeg"},
    {"sha256": "ab" * 32, "size": -1, "media_type": "image/jpeg"},
    {"sha256": "ab" * 32, "size": 1, "media_type": "jpeg"},
    {"sha256": "ab" * 32, "size": 1},
])
def test_build_record_refuses_a_bad_manifest(blob):
    with pytest.raises(ValueError):
        build_record(fields(), [blob])


def test_build_record_refuses_duplicate_blobs_and_floats():
    with pytest.raises(ValueError):
        build_record(fields(), [PHOTO, PHOTO])
    with pytest.raises(TypeError, match=r"\$\.answers\.P-01\.amount"):
        build_record(fields(answers={"P-01": {"amount": 12000.5}}), [])


# --- tampering and replay -------------------------------------------------------------------------------------

def test_every_flipped_bit_of_the_ciphertext_is_refused():
    envelope = sealed()
    ciphertext = base64.b64decode(envelope["ciphertext_b64"])
    accepted = 0
    for position in range(len(ciphertext)):
        for bit in (0x01, 0x80):
            altered = bytearray(ciphertext)
            altered[position] ^= bit
            tampered = {**envelope, "ciphertext_b64": base64.b64encode(bytes(altered)).decode()}
            try:
                open_envelope(tampered, BUREAU, registry())
                accepted += 1
            except EnvelopeError as error:
                assert error.reason_code == "decrypt_failed"
    assert accepted == 0


def test_every_flipped_bit_of_the_wire_form_is_refused():
    """The envelope as sent (JSON bytes): every single-bit change is refused, by the JSON parser or by us."""
    wire = json.dumps(sealed()).encode()
    accepted = 0
    for position in range(len(wire)):
        altered = bytearray(wire)
        altered[position] ^= 0x01
        try:
            candidate = json.loads(bytes(altered))
        except ValueError:
            continue
        try:
            open_envelope(candidate, BUREAU, registry())
            accepted += 1
        except EnvelopeError as error:
            assert error.reason_code in {"bad_format", "decrypt_failed", "unknown_bureau_key"}
    assert accepted == 0


def test_non_canonical_base64_is_refused():
    envelope = sealed()
    text = envelope["ciphertext_b64"]
    assert reason({**envelope, "ciphertext_b64": text + "\n"}) == "bad_format"
    assert reason({**envelope, "ciphertext_b64": text.rstrip("=") if "=" in text else text[:-1]}) == "bad_format"


def test_replay_under_another_record_id_or_device_is_refused():
    envelope = sealed()
    assert reason({**envelope, "record_id": "rec-2025-0002"}) == "decrypt_failed"
    assert reason({**envelope, "device_id": "tablet-08"}) == "decrypt_failed"
    assert reason(envelope, expected_record_id="rec-2025-0002") == "record_id_mismatch"
    assert reason(envelope, expected_device_id="tablet-08") == "device_id_mismatch"


def test_resealing_a_signed_record_under_another_header_is_refused():
    record, signatures = signed_record()
    bundle = {"record": record, "record_hash": content_hash(record), "signatures": signatures}
    assert reason(reseal(bundle, record_id="rec-2025-0002")) == "record_id_mismatch"
    assert reason(reseal(bundle, device_id="tablet-08")) == "device_id_mismatch"
    # Changing the ids inside the record too changes its hash: the inspectors' signatures no longer match.
    moved = {**record, "record_id": "rec-2025-0002"}
    assert reason(reseal({**bundle, "record": moved, "record_hash": content_hash(moved)},
                         record_id="rec-2025-0002")) == "signature_invalid"


def test_a_record_that_does_not_match_its_hash_is_refused():
    record, signatures = signed_record()
    altered = copy.deepcopy(record)
    altered["answers"]["P-01"]["amount"] = "120.50"
    assert reason(reseal({"record": altered, "record_hash": content_hash(record),
                          "signatures": signatures})) == "record_hash_mismatch"


def test_unknown_bureau_key():
    envelope = sealed()
    with pytest.raises(EnvelopeError) as caught:
        open_envelope(envelope, OTHER_BUREAU, registry())
    assert caught.value.reason_code == "unknown_bureau_key"
    sealed_elsewhere = seal_record(*signed_record(), OTHER_BUREAU.public_key())
    forged_key_id = {**sealed_elsewhere, "bureau_key_id": keys.key_id(BUREAU.public_key())}
    assert reason(forged_key_id) == "decrypt_failed"


@pytest.mark.parametrize("mutate", [
    lambda e: e.pop("format"),
    lambda e: e.update(format="yibao-envelope-v2"),
    lambda e: e.update(extra=1),
    lambda e: e.update(record_id="rec|2025"),
    lambda e: e.update(bureau_key_id="XYZ"),
    lambda e: e.update(ciphertext_b64="not base64!"),
    lambda e: e.update(ciphertext_b64=None),
])
def test_bad_format(mutate):
    envelope = sealed()
    mutate(envelope)
    assert reason(envelope) == "bad_format"


def test_not_a_dict_is_bad_format():
    assert reason(["yibao-envelope-v1"]) == "bad_format"


@pytest.mark.parametrize("bundle_bytes", [
    b"not json",
    b'{"record": 1}',
    b'{"record":{},"record_hash":"","signatures":[]}',
])
def test_bad_bundles_are_refused(bundle_bytes):
    assert reason(reseal(None, plaintext=bundle_bytes)) == "bad_record"


# --- who signed -----------------------------------------------------------------------------------------------

def bundle_signed_by(*signers):
    record = build_record(fields(), [PHOTO])
    record_hash = content_hash(record)
    return {"record": record, "record_hash": record_hash,
            "signatures": [sign_record(record_hash, key, inspector) for key, inspector in signers]}


def test_unknown_signer():
    assert reason(reseal(bundle_signed_by((ALICE, "INS-ALICE"), (MALLORY, "INS-MALLORY")))) == "signer_unknown"


def test_revoked_signer():
    lookup = registry((MALLORY, "INS-MALLORY", True))
    assert reason(reseal(bundle_signed_by((ALICE, "INS-ALICE"), (MALLORY, "INS-MALLORY"))), lookup) == "signer_revoked"


def test_signer_claiming_another_inspector():
    assert reason(reseal(bundle_signed_by((ALICE, "INS-BOB")))) == "signer_inspector_mismatch"


def test_signature_by_another_key_under_a_known_key_id():
    bundle = bundle_signed_by((MALLORY, "INS-ALICE"))
    bundle["signatures"][0]["key_id"] = keys.key_id(ALICE.public_key())
    assert reason(reseal(bundle)) == "signature_invalid"


def test_signature_over_another_record():
    bundle = bundle_signed_by((ALICE, "INS-ALICE"))
    bundle["signatures"] = [sign_record("00" * 32, ALICE, "INS-ALICE")]
    assert reason(reseal(bundle)) == "signature_invalid"


def test_no_signatures_and_duplicate_signers():
    assert reason(reseal(bundle_signed_by())) == "no_signatures"
    assert reason(reseal(bundle_signed_by((ALICE, "INS-ALICE"), (ALICE, "INS-ALICE")))) == "duplicate_signer"


def test_seal_record_refuses_unsigned_or_invalid_records():
    record, _ = signed_record()
    with pytest.raises(ValueError):
        seal_record(record, [], BUREAU.public_key())
    with pytest.raises(ValueError):
        seal_record({**record, "version": 0}, [sign_record(content_hash(record), ALICE, "INS-ALICE")],
                    BUREAU.public_key())
