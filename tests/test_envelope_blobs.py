"""sync.envelope blobs: chunked sealing of photos; chunks cannot be altered, reordered, dropped or swapped."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import keys
from sync.canonical import canonical_bytes
from sync.envelope import open_blob, open_blob_header, seal_blob_chunks
from sync.errors import EnvelopeError

BUREAU = keys.SealingPrivateKey.generate()
OTHER_BUREAU = keys.SealingPrivateKey.generate()


def sealed(data: bytes, chunk_size: int = 64, device_id: str = "tablet-07"):
    return seal_blob_chunks(data, BUREAU.public_key(), hashlib.sha256(data).hexdigest(), device_id, chunk_size)


def reason_of(header, chunks, bureau=BUREAU) -> str:
    with pytest.raises(EnvelopeError) as caught:
        open_blob(header, chunks, bureau)
    assert caught.value.message_zh
    return caught.value.reason_code


@settings(max_examples=60)
@given(st.binary(max_size=700), st.integers(min_value=1, max_value=300))
def test_round_trip(data, chunk_size):
    header, chunks = sealed(data, chunk_size)
    assert header["chunk_count"] == len(chunks) == max(1, -(-len(data) // chunk_size))
    assert all(len(chunk) <= chunk_size + 16 for chunk in chunks)
    assert open_blob(header, chunks, BUREAU) == data


def test_header_shape_and_chunk_by_chunk_opening():
    data = os.urandom(200)
    header, chunks = sealed(data)
    assert set(header) == {"format", "blob_sha256", "device_id", "bureau_key_id", "size", "chunk_size",
                           "chunk_count", "sealed_key_b64"}
    assert header["format"] == "yibao-blob-v1" and header["size"] == 200 and header["chunk_count"] == 4
    opener = open_blob_header(header, [OTHER_BUREAU, BUREAU])
    assert b"".join(opener.open_chunk(i, chunk) for i, chunk in enumerate(chunks)) == data


def test_seal_refuses_a_blob_that_does_not_match_its_hash():
    with pytest.raises(ValueError):
        seal_blob_chunks(b"photo", BUREAU.public_key(), hashlib.sha256(b"other").hexdigest(), "tablet-07")


def test_every_flipped_bit_of_every_chunk_is_refused():
    header, chunks = sealed(os.urandom(150))
    accepted = 0
    for index, chunk in enumerate(chunks):
        for position in range(len(chunk)):
            altered = bytearray(chunk)
            altered[position] ^= 0x04
            try:
                open_blob(header, [*chunks[:index], bytes(altered), *chunks[index + 1:]], BUREAU)
                accepted += 1
            except EnvelopeError as error:
                assert error.reason_code == "blob_chunk_tampered"
    assert accepted == 0


def test_every_flipped_bit_of_the_sealed_key_is_refused():
    header, chunks = sealed(os.urandom(100))
    sealed_key = base64.b64decode(header["sealed_key_b64"])
    for position in range(len(sealed_key)):
        altered = bytearray(sealed_key)
        altered[position] ^= 0x20
        tampered = {**header, "sealed_key_b64": base64.b64encode(bytes(altered)).decode()}
        assert reason_of(tampered, chunks) == "blob_decrypt_failed"


@pytest.mark.parametrize("field, value", [
    ("blob_sha256", hashlib.sha256(b"another photo").hexdigest()),
    ("device_id", "tablet-08"),
])
def test_altered_header_fields_are_refused(field, value):
    header, chunks = sealed(os.urandom(100))
    assert reason_of({**header, field: value}, chunks) == "blob_decrypt_failed"


def test_altered_sizes_are_refused():
    header, chunks = sealed(os.urandom(100))
    # Consistent with each other, so they pass the format check and must fail on the sealed key.
    assert reason_of({**header, "size": 127, "chunk_count": 2}, chunks[:2]) == "blob_decrypt_failed"
    assert reason_of({**header, "chunk_size": 50, "chunk_count": 2}, chunks) == "blob_decrypt_failed"
    # Inconsistent ones never get that far.
    assert reason_of({**header, "size": 129}, chunks) == "blob_bad_format"
    assert reason_of({**header, "chunk_count": 3}, chunks) == "blob_bad_format"


def test_reordered_dropped_and_truncated_chunks_are_refused():
    header, chunks = sealed(os.urandom(64 * 3))
    assert reason_of(header, [chunks[1], chunks[0], chunks[2]]) == "blob_chunk_tampered"
    assert reason_of(header, chunks[:2]) == "blob_chunk_count_mismatch"
    assert reason_of(header, [*chunks, chunks[2]]) == "blob_chunk_count_mismatch"
    assert reason_of(header, [chunks[0], chunks[1], chunks[2][:-1]]) == "blob_chunk_tampered"
    assert reason_of(header, [chunks[0], chunks[1], chunks[2] + b"\x00"]) == "blob_chunk_tampered"
    assert reason_of(header, [chunks[0], chunks[0], chunks[2]]) == "blob_chunk_tampered"


def test_chunks_and_headers_swapped_between_blobs_are_refused():
    header_a, chunks_a = sealed(os.urandom(128))
    header_b, chunks_b = sealed(os.urandom(128))
    assert reason_of(header_a, [chunks_a[0], chunks_b[1]]) == "blob_chunk_tampered"
    assert reason_of(header_b, chunks_a) == "blob_chunk_tampered"
    # The same photo sealed twice still gets two unrelated keys.
    data = os.urandom(128)
    first, second = sealed(data), sealed(data)
    assert reason_of(first.header, [first.chunks[0], second.chunks[1]]) == "blob_chunk_tampered"


def test_a_blob_whose_content_does_not_match_its_claimed_hash_is_refused():
    """Anyone with the bureau's public key can seal; the content must still hash to what the header claims."""
    content, claimed = b"not the photo", hashlib.sha256(b"the photo").hexdigest()
    header = {"format": "yibao-blob-v1", "blob_sha256": claimed, "device_id": "tablet-07",
              "bureau_key_id": keys.key_id(BUREAU.public_key()), "size": len(content), "chunk_size": 64,
              "chunk_count": 1}
    chunk_key = os.urandom(32)
    sealed_key = keys.SUITE.encrypt(chunk_key, BUREAU.public_key().hpke_key(),
                                    info=b"yibao-blob-key-v1|" + canonical_bytes(header))
    chunk = AESGCM(chunk_key).encrypt((0).to_bytes(12, "big"), content,
                                      f"yibao-blob-chunk-v1|{claimed}|0|1|tablet-07".encode())
    header["sealed_key_b64"] = base64.b64encode(sealed_key).decode()
    assert reason_of(header, [chunk]) == "blob_hash_mismatch"


def test_unknown_bureau_key_and_bad_format():
    header, chunks = sealed(os.urandom(10))
    assert reason_of(header, chunks, OTHER_BUREAU) == "unknown_bureau_key"
    for bad in ({**header, "format": "v0"}, {**header, "extra": 1}, {**header, "size": "10"},
                {**header, "sealed_key_b64": "%%%"}, {**header, "device_id": "a|b"}, "header"):
        assert reason_of(bad, chunks) == "blob_bad_format"


def test_open_chunk_refuses_an_index_out_of_range():
    header, chunks = sealed(os.urandom(10))
    opener = open_blob_header(header, BUREAU)
    with pytest.raises(EnvelopeError) as caught:
        opener.open_chunk(1, chunks[0])
    assert caught.value.reason_code == "blob_chunk_tampered"


@pytest.mark.parametrize("size", [300 * 1024, 1024 * 1024, 2 * 1024 * 1024])
def test_photo_overhead_is_at_most_three_percent(size):
    data = os.urandom(size)
    header, chunks = seal_blob_chunks(data, BUREAU.public_key(), hashlib.sha256(data).hexdigest(), "tablet-07")
    wire = len(canonical_bytes(header)) + sum(len(chunk) for chunk in chunks)
    assert wire / size <= 1.03
    assert wire - size < 2048 + 16 * len(chunks)
