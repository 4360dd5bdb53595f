"""sync.shamir: GF(256) arithmetic and M-of-N secret sharing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import shamir

field = st.integers(min_value=0, max_value=255)
nonzero = st.integers(min_value=1, max_value=255)


def slow_mul(a, b):
    """Shift-and-add multiplication modulo the AES polynomial, independent of the log tables."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def test_tables_agree_with_shift_and_add_everywhere():
    for a in range(256):
        for b in range(256):
            assert shamir._mul(a, b) == slow_mul(a, b)
    assert slow_mul(0x57, 0x83) == 0xC1  # FIPS 197 §4.2 example


@given(field, nonzero)
def test_division_inverts_multiplication(a, b):
    assert shamir._div(shamir._mul(a, b), b) == a


@settings(max_examples=60)
@given(st.binary(min_size=1, max_size=96), st.integers(min_value=2, max_value=6), st.integers(0, 4), st.randoms())
def test_any_threshold_shares_recover_and_fewer_do_not(secret, threshold, extra, rng):
    count = threshold + extra
    shares = shamir.split_secret(secret, threshold, count)
    assert len(shares) == count and {s.x for s in shares} == set(range(1, count + 1))
    chosen = rng.sample(shares, threshold)
    assert shamir.combine_shares(chosen) == secret
    assert shamir.combine_shares(rng.sample(shares, rng.randint(threshold, count))) == secret
    with pytest.raises(ValueError):
        shamir.combine_shares(chosen[:-1])
    if len(secret) >= 16:  # the lower-degree interpolation gives another value (except with probability 2^-128)
        assert shamir.interpolate_at_zero([(s.x, s.value) for s in chosen[:-1]]) != secret


def test_every_subset_of_a_three_of_five_split():
    secret = bytes(range(32))
    shares = shamir.split_secret(secret, 3, 5)
    for size in range(1, 6):
        for subset in itertools.combinations(shares, size):
            if size >= 3:
                assert shamir.combine_shares(list(subset)) == secret
            else:
                with pytest.raises(ValueError):
                    shamir.combine_shares(list(subset))


def enumerate_coefficients(monkeypatch, coefficients):
    monkeypatch.setattr(shamir.secrets, "token_bytes", lambda n: bytes(coefficients[:n]))


@pytest.mark.parametrize("secret_byte", [0x00, 0x5A, 0xFF])
def test_one_share_of_two_is_uniform_whatever_the_secret(monkeypatch, secret_byte):
    """Perfect secrecy, exhaustively: over all random coefficients, share x=2 takes every value exactly once."""
    seen = []
    for a in range(256):
        enumerate_coefficients(monkeypatch, [a])
        seen.append(shamir.split_secret(bytes([secret_byte]), 2, 3)[1].value[0])
    assert sorted(seen) == list(range(256))


def test_two_shares_of_three_are_uniform_whatever_the_secret(monkeypatch):
    for secret_byte in (0x00, 0xA7):
        seen = set()
        for a1, a2 in itertools.product(range(256), repeat=2):
            enumerate_coefficients(monkeypatch, [a1, a2])
            shares = shamir.split_secret(bytes([secret_byte]), 3, 5)
            seen.add((shares[1].value[0], shares[4].value[0]))
        assert len(seen) == 65536


@pytest.mark.parametrize("threshold, count", [(1, 3), (4, 3), (2, 256), (0, 0)])
def test_split_refuses_bad_parameters(threshold, count):
    with pytest.raises(ValueError):
        shamir.split_secret(b"secret", threshold, count)


def test_combine_refuses_mixed_and_duplicate_shares():
    a = shamir.split_secret(b"secret one", 2, 3)
    b = shamir.split_secret(b"secret two", 3, 3)
    for bad in ([a[0], a[0]], [a[0], b[1]], [], [shamir.Share(0, 2, a[0].value), a[1]],
                [a[0], shamir.Share(2, 2, b"short")]):
        with pytest.raises(ValueError):
            shamir.combine_shares(bad)
