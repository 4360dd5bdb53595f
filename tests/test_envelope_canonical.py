"""sync.canonical: the one canonical JSON form everything is hashed and signed in."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.canonical import canonical_bytes, content_hash, loads_canonical

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def test_known_bytes():
    value = {"b": [1, True, None], "a": "医保 \"x\"", "c": {"z": "12000.50", "y": -3}}
    assert canonical_bytes(value) == '{"a":"医保 \\"x\\"","b":[1,true,null],"c":{"y":-3,"z":"12000.50"}}'.encode()
    assert content_hash(value) == hashlib.sha256(canonical_bytes(value)).hexdigest()


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=8), st.randoms())
def test_key_order_is_irrelevant(value, rng):
    items = list(value.items())
    rng.shuffle(items)
    assert canonical_bytes(dict(items)) == canonical_bytes(value)
    assert content_hash(dict(items)) == content_hash(value)


@given(json_values)
def test_round_trip_through_loads_canonical(value):
    data = canonical_bytes(value)
    assert canonical_bytes(loads_canonical(data)) == data
    assert json.loads(data) == loads_canonical(data)


@given(json_values, st.floats(allow_nan=True, allow_infinity=True), st.randoms())
def test_any_float_anywhere_is_refused_with_its_path(value, number, rng: random.Random):
    container = {"answers": [{"amount": number}], "other": value}
    with pytest.raises(TypeError, match=r"\$\.answers\[0\]\.amount"):
        canonical_bytes(container)
    with pytest.raises(TypeError, match="float"):
        content_hash([value, number] if rng.random() < 0.5 else [number, value])


@pytest.mark.parametrize("value", [{1: "int key"}, {"x": b"bytes"}, {"x": {1, 2}}, {"x": object()}])
def test_other_non_json_types_are_refused(value):
    with pytest.raises(TypeError):
        canonical_bytes(value)


def test_lone_surrogate_is_refused():
    with pytest.raises(ValueError):
        canonical_bytes({"x": "\ud800"})


def test_no_unicode_normalisation():
    assert content_hash("\u00e9") != content_hash("e\u0301")


@pytest.mark.parametrize("data", [
    b'{"b":1,"a":2}',            # unsorted
    b'{"a": 1}',                 # whitespace
    b'{"a":1.0}',                # float
    b'{"a":1e3}',                # exponent is a float too
    b'{"a":NaN}',
    b'{"a":1,"a":1}',            # duplicate key
    b'{"a":"\\u533b"}',          # escaped where UTF-8 is canonical
    b'\xff',                     # not UTF-8
    b'',
])
def test_loads_canonical_refuses_non_canonical_bytes(data):
    with pytest.raises(ValueError):
        loads_canonical(data)
