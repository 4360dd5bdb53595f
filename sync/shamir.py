"""Shamir secret sharing over GF(2^8), byte by byte (the field of AES: x^8 + x^4 + x^3 + x + 1).

Each byte of the secret is the constant term of its own random polynomial of degree threshold-1; share x holds the
polynomial values at x (1..255). Any `threshold` shares give the secret back by Lagrange interpolation at 0; fewer
give no information about it. Table lookups are not constant-time: meant for an offline key ceremony, not a server.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Sequence

_EXP = [0] * 510
_LOG = [0] * 256


def _build_tables() -> None:
    value = 1
    for power in range(255):
        _EXP[power] = value
        _LOG[value] = power
        doubled = value << 1  # value * 3 = value * 2 + value; 3 generates the multiplicative group
        if doubled & 0x100:
            doubled ^= 0x11B
        value ^= doubled
    for power in range(255, 510):
        _EXP[power] = _EXP[power - 255]


_build_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    if a == 0:
        return 0
    return _EXP[_LOG[a] - _LOG[b] + 255]


@dataclass(frozen=True)
class Share:
    x: int  # 1..255, the point the polynomials were evaluated at
    threshold: int
    value: bytes  # one byte per secret byte


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """Horner's rule; coefficients[0] is the constant term."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def split_secret(secret: bytes, threshold: int, count: int) -> list[Share]:
    """`count` shares of which any `threshold` recover `secret`."""
    if not 2 <= threshold <= count <= 255:
        raise ValueError("need 2 <= threshold <= count <= 255")
    if not secret:
        raise ValueError("empty secret")
    polynomials = [[byte, *secrets.token_bytes(threshold - 1)] for byte in secret]
    return [Share(x, threshold, bytes(_evaluate(p, x) for p in polynomials)) for x in range(1, count + 1)]


def interpolate_at_zero(points: Sequence[tuple[int, bytes]]) -> bytes:
    """Lagrange interpolation at x=0 of the polynomials through `points` (x, values), byte by byte."""
    xs = [x for x, _ in points]
    weights = []
    for i, xi in enumerate(xs):
        weight = 1
        for j, xj in enumerate(xs):
            if i != j:
                weight = _mul(weight, _div(xj, xj ^ xi))  # (0 - xj) / (xi - xj); minus is xor in GF(2^8)
        weights.append(weight)
    length = len(points[0][1])
    out = bytearray(length)
    for weight, (_, values) in zip(weights, points):
        for k in range(length):
            out[k] ^= _mul(weight, values[k])
    return bytes(out)


def combine_shares(shares: Sequence[Share]) -> bytes:
    """The secret from at least `threshold` shares; raises ValueError on too few, mixed or duplicate shares."""
    if not shares:
        raise ValueError("no shares")
    threshold = shares[0].threshold
    if any(s.threshold != threshold or len(s.value) != len(shares[0].value) for s in shares):
        raise ValueError("shares come from different splits")
    if len({s.x for s in shares}) != len(shares):
        raise ValueError("duplicate share")
    if any(not 1 <= s.x <= 255 for s in shares):
        raise ValueError("share index out of range")
    if len(shares) < threshold:
        raise ValueError(f"need {threshold} shares, got {len(shares)}")
    return interpolate_at_zero([(s.x, s.value) for s in shares[:threshold]])
