"""sync.keys: serialisation, key ids, keys at rest under a passphrase, recovery shares, bureau key rotation."""

from __future__ import annotations

import base64
import copy
import itertools
import random
import unicodedata

import pytest

from sync import keys
from sync.errors import KeyHandlingError

SEALING = keys.SealingPrivateKey.generate()
SIGNING = keys.generate_signing_key()


def test_public_key_serialisation_and_ids():
    sealing_public = SEALING.public_key()
    assert len(sealing_public.raw()) == 1216
    assert keys.sealing_public_from_b64(keys.public_key_to_b64(sealing_public)) == sealing_public
    signing_public = keys.signing_public_from_b64(keys.public_key_to_b64(SIGNING.public_key()))
    assert signing_public.public_bytes_raw() == SIGNING.public_key().public_bytes_raw()
    for public in (sealing_public, SIGNING.public_key()):
        kid = keys.key_id(public)
        assert len(kid) == 32 and int(kid, 16) >= 0
    assert keys.key_id(sealing_public) != keys.key_id(keys.SealingPrivateKey.generate().public_key())


# Parameters are the same in every process (pytest-xdist workers must collect the same tests): a fixed key, not SIGNING.
ED25519_PUBLIC_B64 = keys.public_key_to_b64(keys.private_key_from_bytes("ed25519", bytes(range(32))).public_key())


@pytest.mark.parametrize("text", ["", "AAAA", "not base64", pytest.param(ED25519_PUBLIC_B64, id="ed25519-public")])
def test_sealing_public_from_b64_refuses_anything_else(text):
    with pytest.raises(ValueError):
        keys.sealing_public_from_b64(text)


def test_b64decode_strict_accepts_one_spelling_only():
    assert keys.b64decode_strict("QQ==") == b"A"
    for text in ("QR==", "QQ", "QQ==\n", " QQ==", "Q-==", b"QQ==", None):
        with pytest.raises(ValueError):
            keys.b64decode_strict(text)


def test_private_key_bytes_round_trip_and_still_open_hpke():
    rebuilt = keys.private_key_from_bytes("mlkem768-x25519", keys.private_key_bytes(SEALING))
    assert len(keys.private_key_bytes(SEALING)) == 96
    assert rebuilt.public_key() == SEALING.public_key()
    ciphertext = keys.SUITE.encrypt(b"finding", SEALING.public_key().hpke_key(), info=b"t")
    assert keys.SUITE.decrypt(ciphertext, rebuilt.hpke_key(), info=b"t") == b"finding"
    signing = keys.private_key_from_bytes("ed25519", keys.private_key_bytes(SIGNING))
    assert keys.key_id(signing.public_key()) == keys.key_id(SIGNING.public_key())
    with pytest.raises(ValueError):
        keys.private_key_from_bytes("rsa", b"x")


# --- at rest --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def key_files():
    return {"sealing": keys.encrypt_private_key(SEALING, "机构口令 correct horse"),
            "signing": keys.encrypt_private_key(SIGNING, "机构口令 correct horse")}


def test_key_file_round_trip(key_files):
    doc = key_files["sealing"]
    assert doc["kdf"] == {"name": "scrypt", "n": 2**15, "r": 8, "p": 1, "salt_b64": doc["kdf"]["salt_b64"]}
    assert doc["kind"] == "mlkem768-x25519" and doc["key_id"] == keys.key_id(SEALING.public_key())
    assert keys.decrypt_private_key(doc, "机构口令 correct horse").public_key() == SEALING.public_key()
    signing = keys.decrypt_private_key(key_files["signing"], "机构口令 correct horse")
    assert keys.key_id(signing.public_key()) == keys.key_id(SIGNING.public_key())


def test_passphrase_is_nfc_normalised():
    composed = "caf\u00e9 口令"
    doc = keys.encrypt_private_key(SIGNING, composed)
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert keys.key_id(keys.decrypt_private_key(doc, decomposed).public_key()) == keys.key_id(SIGNING.public_key())


def test_wrong_passphrase(key_files):
    with pytest.raises(KeyHandlingError) as caught:
        keys.decrypt_private_key(key_files["signing"], "机构口令 correct horsE")
    assert caught.value.reason_code == "key_decrypt_failed"
    with pytest.raises(KeyHandlingError) as caught:
        keys.decrypt_private_key(key_files["signing"], "")
    assert caught.value.reason_code == "empty_passphrase"


def flip_b64(text):
    data = bytearray(base64.b64decode(text))
    data[0] ^= 1
    return base64.b64encode(bytes(data)).decode()


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(ciphertext_b64=flip_b64(d["ciphertext_b64"])),
    lambda d: d.update(nonce_b64=flip_b64(d["nonce_b64"])),
    lambda d: d["kdf"].update(salt_b64=flip_b64(d["kdf"]["salt_b64"])),
    lambda d: d["kdf"].update(n=2**14),
    lambda d: d["kdf"].update(r=9),
    lambda d: d.update(key_id="0" * 32),
])
def test_altered_key_file_does_not_open(key_files, mutate):
    doc = copy.deepcopy(key_files["signing"])
    mutate(doc)
    with pytest.raises(KeyHandlingError) as caught:
        keys.decrypt_private_key(doc, "机构口令 correct horse")
    assert caught.value.reason_code == "key_decrypt_failed"


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(format="other"),
    lambda d: d.pop("nonce_b64"),
    lambda d: d.update(extra=1),
    lambda d: d["kdf"].update(n=2**30),
    lambda d: d["kdf"].update(n=1000),
    lambda d: d["kdf"].update(name="pbkdf2"),
    lambda d: d.update(ciphertext_b64="%%"),
])
def test_malformed_key_file(key_files, mutate):
    doc = copy.deepcopy(key_files["signing"])
    mutate(doc)
    with pytest.raises(KeyHandlingError) as caught:
        keys.decrypt_private_key(doc, "机构口令 correct horse")
    assert caught.value.reason_code == "bad_key_file"


# --- recovery shares ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("private_key", [SEALING, SIGNING], ids=["sealing", "signing"])
def test_any_three_of_five_shares_recover_the_key(private_key):
    lines = keys.split_private_key(private_key, 3, 5)
    assert all(line.startswith(f"yibao-share-v1:{lines[0].split(':')[1]}:{keys.key_id(private_key.public_key())}:3:")
               for line in lines)
    for subset in itertools.combinations(lines, 3):
        shuffled = list(subset)
        random.shuffle(shuffled)
        recovered = keys.recover_private_key(shuffled)
        assert keys.key_id(recovered.public_key()) == keys.key_id(private_key.public_key())
    assert keys.key_id(keys.recover_private_key(lines).public_key()) == keys.key_id(private_key.public_key())


def share_error(lines):
    with pytest.raises(KeyHandlingError) as caught:
        keys.recover_private_key(lines)
    return caught.value.reason_code


def test_two_of_three_shares_are_not_enough():
    lines = keys.split_private_key(SIGNING, 3, 5)
    for subset in itertools.combinations(lines, 2):
        assert share_error(list(subset)) == "not_enough_shares"
    assert share_error([]) == "not_enough_shares"


def test_bad_mixed_and_duplicate_shares():
    lines = keys.split_private_key(SIGNING, 2, 3)
    others = keys.split_private_key(keys.generate_signing_key(), 2, 3)
    assert share_error([lines[0], others[1]]) == "mixed_shares"
    assert share_error([lines[0], lines[0]]) == "bad_share"
    assert share_error([lines[0], "garbage"]) == "bad_share"
    prefix, value = lines[1].rsplit(":", 1)
    assert share_error([lines[0], f"{prefix}:{flip_b64(value)}"]) == "bad_share"
    forged_x = lines[1].split(":")
    forged_x[4] = "7"
    assert share_error([lines[0], ":".join(forged_x)]) == "bad_share"


# --- rotation -------------------------------------------------------------------------------------------------

def new_bureau_keys():
    signing = keys.generate_signing_key()
    return signing, keys.BureauPublicKeys(signing.public_key(), keys.SealingPrivateKey.generate().public_key())


def rotation_error(pinned, statement):
    with pytest.raises(KeyHandlingError) as caught:
        keys.verify_key_rotation(pinned, statement)
    return caught.value.reason_code


def test_rotation_chain():
    old = SIGNING
    for _ in range(3):
        new_signing, new_public = new_bureau_keys()
        statement = keys.sign_key_rotation(old, new_public)
        accepted = keys.verify_key_rotation(old.public_key(), statement)
        assert accepted.sealing == new_public.sealing
        assert keys.key_id(accepted.signing) == keys.key_id(new_signing.public_key())
        old = new_signing


def test_rotation_not_signed_by_the_pinned_key_is_refused():
    attacker, attacker_public = new_bureau_keys()
    statement = keys.sign_key_rotation(attacker, attacker_public)
    assert rotation_error(SIGNING.public_key(), statement) == "rotation_wrong_key"
    forged = keys.sign_key_rotation(attacker, attacker_public)
    forged["old_signing_key_id"] = keys.key_id(SIGNING.public_key())
    assert rotation_error(SIGNING.public_key(), forged) == "rotation_signature_invalid"


def test_old_rotation_replayed_after_moving_on_is_refused():
    next_signing, next_public = new_bureau_keys()
    first = keys.sign_key_rotation(SIGNING, next_public)
    keys.verify_key_rotation(SIGNING.public_key(), first)
    assert rotation_error(next_signing.public_key(), first) == "rotation_wrong_key"


def test_altered_rotation_is_refused():
    _, new_public = new_bureau_keys()
    _, other_public = new_bureau_keys()
    statement = keys.sign_key_rotation(SIGNING, new_public)
    swapped = {**statement, "new_sealing_public_b64": keys.public_key_to_b64(other_public.sealing)}
    assert rotation_error(SIGNING.public_key(), swapped) == "rotation_signature_invalid"
    swapped = {**statement, "new_signing_public_b64": keys.public_key_to_b64(other_public.signing)}
    assert rotation_error(SIGNING.public_key(), swapped) == "rotation_signature_invalid"
    flipped = {**statement, "signature_b64": flip_b64(statement["signature_b64"])}
    assert rotation_error(SIGNING.public_key(), flipped) == "rotation_signature_invalid"
    for malformed in ({**statement, "format": "v0"}, {**statement, "extra": 1}, {"format": statement["format"]},
                      {**statement, "new_sealing_public_b64": "AAAA"}):
        assert rotation_error(SIGNING.public_key(), malformed) == "bad_rotation"
