"""Data at rest: PIN-wrapped keyring entries and slot-bound content encryption."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from inspector_app.vault import (
    SCRYPT_N,
    BadKeyringEntry,
    ContentUnreadable,
    DataKey,
    InspectorKeyEntry,
    Slot,
    VaultError,
    WeakPin,
    WrongPin,
    answer_slot,
    change_pin,
    decrypt_content,
    encrypt_content,
    enroll_inspector,
    finding_slot,
    new_data_key,
    photo_slot,
    pin_problem,
    signature_slot,
    unlock,
)
from tests.support import FAST_SCRYPT_N

PHOTO_SHA = "ab" * 32


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def enroll(code="I001", pin="480913", data_key=None, signing_key=None, **options) -> InspectorKeyEntry:
    return enroll_inspector(code, pin, data_key=data_key or new_data_key(),
                            signing_key=signing_key or Ed25519PrivateKey.generate(), scrypt_n=FAST_SCRYPT_N, **options)


def test_right_pin_unlocks_both_keys_and_signing_works():
    data_key, signing_key = new_data_key(), Ed25519PrivateKey.generate()
    entry = enroll(data_key=data_key, signing_key=signing_key)
    unlocked = unlock(entry, "480913")
    assert unlocked.inspector_code == "I001"
    assert unlocked.data_key == data_key
    signature = unlocked.signing_key.sign(b"record")
    signing_key.public_key().verify(signature, b"record")
    assert entry.signing_public_key == raw_public(signing_key)


def test_wrong_pin_cannot_read():
    data_key = new_data_key()
    entry = enroll(data_key=data_key)
    blob = encrypt_content(data_key, b"finding", answer_slot("insp-1", "R-BL-03"))
    with pytest.raises(WrongPin) as caught:
        unlock(entry, "480914")
    assert caught.value.message_zh == "PIN 不正确"
    assert data_key.secret not in json.dumps(entry.to_dict()).encode()
    assert b"finding" not in blob


def test_pin_change_keeps_content_readable_and_retires_the_old_pin():
    data_key, signing_key = new_data_key(), Ed25519PrivateKey.generate()
    entry = enroll(data_key=data_key, signing_key=signing_key)
    blob = encrypt_content(data_key, b"photo bytes", photo_slot(PHOTO_SHA))
    changed = change_pin(entry, "480913", "735102")
    assert changed.scrypt_n == SCRYPT_N  # a PIN change also brings the cost up to the current default
    assert changed.salt != entry.salt and changed.wrapped_data_key != entry.wrapped_data_key
    unlocked = unlock(changed, "735102")
    assert decrypt_content(unlocked.data_key, blob, photo_slot(PHOTO_SHA)) == b"photo bytes"
    assert raw_public(unlocked.signing_key) == raw_public(signing_key)
    with pytest.raises(WrongPin):
        unlock(changed, "480913")


def test_pin_change_needs_the_old_pin_and_a_good_new_one():
    entry = enroll()
    with pytest.raises(WrongPin):
        change_pin(entry, "000001", "735102")
    with pytest.raises(WeakPin):
        change_pin(entry, "480913", "123456")


def test_two_inspectors_share_the_data_key_but_not_the_signing_key():
    data_key = new_data_key()
    first = enroll("I001", "480913", data_key=data_key)
    second = enroll("I002", "915264", data_key=unlock(first, "480913").data_key)
    one, two = unlock(first, "480913"), unlock(second, "915264")
    blob = encrypt_content(one.data_key, b"shared evidence", finding_slot("insp-1", "f-1"))
    assert decrypt_content(two.data_key, blob, finding_slot("insp-1", "f-1")) == b"shared evidence"
    assert raw_public(one.signing_key) != raw_public(two.signing_key)
    with pytest.raises(WrongPin):
        unlock(second, "480913")


def test_entries_cannot_be_moved_to_another_inspector():
    entry = enroll("I001")
    with pytest.raises(WrongPin):
        unlock(replace(entry, inspector_code="I002"), "480913")
    other_key = raw_public(Ed25519PrivateKey.generate())
    with pytest.raises(WrongPin):
        unlock(replace(entry, signing_public_key=other_key), "480913")


def test_wrapped_keys_cannot_swap_purpose():
    entry = enroll()
    swapped = replace(entry, wrapped_data_key=entry.wrapped_signing_key, data_key_nonce=entry.signing_key_nonce,
                      wrapped_signing_key=entry.wrapped_data_key, signing_key_nonce=entry.data_key_nonce)
    with pytest.raises(WrongPin):
        unlock(swapped, "480913")


def test_entry_round_trips_through_json():
    entry = enroll()
    restored = InspectorKeyEntry.from_dict(json.loads(json.dumps(entry.to_dict())))
    assert restored == entry
    assert unlock(restored, "480913").inspector_code == "I001"


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(format="other"),
    lambda d: d.pop("signing_key"),
    lambda d: d["kdf"].update(n=2**21),
    lambda d: d["kdf"].update(n=1000),
    lambda d: d["kdf"].update(n=True),
    lambda d: d["kdf"].update(salt="not base64!"),
    lambda d: d["kdf"].update(device_secret="yes"),
    lambda d: d["data_key"].update(nonce="AAAA"),
    lambda d: d.update(inspector_code=""),
    lambda d: d.update(extra=1),
])
def test_malformed_entry_is_refused(mutate):
    data = enroll().to_dict()
    mutate(data)
    with pytest.raises(BadKeyringEntry):
        InspectorKeyEntry.from_dict(data)


def test_default_scrypt_cost_is_recorded_in_the_entry():
    entry = enroll_inspector("I001", "480913", data_key=new_data_key(), signing_key=Ed25519PrivateKey.generate())
    assert (entry.scrypt_n, entry.scrypt_r, entry.scrypt_p) == (SCRYPT_N, 8, 1)
    assert SCRYPT_N >= 2**14
    assert unlock(entry, "480913").inspector_code == "I001"


def test_device_secret_is_needed_when_used():
    entry = enroll(device_secret=b"k" * 32)
    assert entry.uses_device_secret
    assert unlock(entry, "480913", device_secret=b"k" * 32).inspector_code == "I001"
    with pytest.raises(WrongPin):
        unlock(entry, "480913", device_secret=b"x" * 32)
    with pytest.raises(VaultError) as caught:
        unlock(entry, "480913")
    assert caught.value.reason_code == "device_secret_mismatch"


@pytest.mark.parametrize("pin, problem", [
    ("12345", "至少"), ("111111", "同一个字符"), ("123456", "连续"), ("987654", "连续"),
])
def test_weak_pins_are_refused(pin, problem):
    assert problem in pin_problem(pin)
    with pytest.raises(WeakPin, match=problem):
        enroll(pin=pin)


def test_acceptable_pins():
    for pin in ("480913", "112358", "口令测试abc"):
        assert pin_problem(pin) is None


def test_pin_is_unicode_normalised():
    entry = enroll(pin="cafe\u0301-pin")  # e + combining accent
    assert unlock(entry, "caf\u00e9-pin").inspector_code == "I001"  # precomposed é


def test_data_key_repr_hides_the_secret():
    key = new_data_key()
    assert key.secret.hex() not in repr(key) and "secret" in repr(key)
    with pytest.raises(ValueError):
        DataKey(b"short")


# --- content -------------------------------------------------------------------------------------------------


def test_slot_mismatch_fails():
    key = new_data_key()
    blob = encrypt_content(key, b"answer A", answer_slot("insp-1", "item-1"))
    for wrong in (answer_slot("insp-1", "item-2"), answer_slot("insp-2", "item-1"), finding_slot("insp-1", "item-1"),
                  photo_slot(PHOTO_SHA), photo_slot(PHOTO_SHA, "original")):
        with pytest.raises(ContentUnreadable):
            decrypt_content(key, blob, wrong)


def test_slot_parts_cannot_be_regrouped():
    # with a naive "kind:a:b" string these two would be the same associated data
    assert Slot("answer", ("a:b", "c")).aad() != Slot("answer", ("a", "b:c")).aad()
    with pytest.raises(ValueError):
        Slot("answer", ("",))
    with pytest.raises(ValueError):
        photo_slot(PHOTO_SHA, "cropped")


def test_other_data_key_fails():
    blob = encrypt_content(new_data_key(), b"x", signature_slot("insp-1", "representative"))
    with pytest.raises(ContentUnreadable) as caught:
        decrypt_content(new_data_key(), blob, signature_slot("insp-1", "representative"))
    assert "无法解密" in caught.value.message_zh


def test_same_plaintext_encrypts_differently():
    key = new_data_key()
    slot = photo_slot(PHOTO_SHA)
    assert encrypt_content(key, b"same", slot) != encrypt_content(key, b"same", slot)


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=2048), inspection=st.text(min_size=1, max_size=20),
       item=st.text(min_size=1, max_size=20))
def test_round_trip_property(plaintext, inspection, item):
    key = new_data_key()
    slot = answer_slot(inspection, item)
    blob = encrypt_content(key, plaintext, slot)
    assert decrypt_content(key, blob, slot) == plaintext
    assert len(blob) == len(plaintext) + 3 + 12 + 16


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=512), data=st.data())
def test_any_single_byte_change_is_detected(plaintext, data):
    key = new_data_key()
    slot = photo_slot(PHOTO_SHA)
    blob = bytearray(encrypt_content(key, plaintext, slot))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ContentUnreadable):
        decrypt_content(key, bytes(blob), slot)


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=256), cut=st.integers(1, 40))
def test_truncated_blob_is_detected(plaintext, cut):
    key = new_data_key()
    blob = encrypt_content(key, plaintext, photo_slot(PHOTO_SHA))
    with pytest.raises(ContentUnreadable):
        decrypt_content(key, blob[:-cut], photo_slot(PHOTO_SHA))


@settings(max_examples=15, deadline=None)
@given(pin=st.text(min_size=6, max_size=16).filter(lambda p: pin_problem(p) is None),
       other=st.text(min_size=1, max_size=16))
def test_only_the_enrolled_pin_unlocks(pin, other):
    assume(unicodedata.normalize("NFC", other) != unicodedata.normalize("NFC", pin))
    entry = enroll(pin=pin)
    assert unlock(entry, pin).inspector_code == "I001"
    with pytest.raises(WrongPin):
        unlock(entry, other)


@settings(max_examples=30, deadline=None)
@given(position=st.integers(0, 47), flip=st.integers(1, 255), which=st.sampled_from(["data", "signing"]))
def test_tampered_wrapped_key_is_refused(position, flip, which):
    entry = enroll()
    field = "wrapped_data_key" if which == "data" else "wrapped_signing_key"
    tampered = bytearray(getattr(entry, field))
    tampered[position] ^= flip
    with pytest.raises(WrongPin):
        unlock(replace(entry, **{field: bytes(tampered)}), "480913")
