"""sync.canonical: the one canonical JSON form everything is hashed and signed in."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.canonical import canonical_bytes, canonical_object, content_hash, loads_canonical

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


# Values of more than a kilobyte are checked from their encoding and a level at a time (`sync.canonical._cleared`);
# the same guarantees hold for them: the cases below are padded past that size.
PAD = "填充" * 600


def big(value):
    return {"pad": PAD, "rows": [[f"H{n:011d}", "pharmacy", n % 101, None] for n in range(50)], "value": value}


@given(json_values, st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 49), st.randoms())
def test_a_float_deep_in_a_big_value_is_refused_with_its_path(value, number, row, rng: random.Random):
    container = big(value)
    container["rows"][row][rng.choice([2, 3])] = number
    with pytest.raises(TypeError, match=rf"float at \$\.rows\[{row}\]\[[23]\]"):
        canonical_bytes(container)
    with pytest.raises(TypeError, match="float"):
        canonical_bytes({"key": [value, {"x": [number]}], "pad": PAD})


@pytest.mark.parametrize("number", [1e16, -1e-07, 5e-324, 1e300, 0.5, 3.0])
def test_every_way_a_float_is_written_is_caught_in_a_big_value(number):
    assert "." not in json.dumps(big(None), ensure_ascii=False)  # the float's own text is all there is to see
    with pytest.raises(TypeError, match=r"float at \$\.value\.x"):
        canonical_bytes(big({"x": number}))


@pytest.mark.parametrize("key", [1, True, None, 1.5, 10**20, (1, 2)])
@pytest.mark.parametrize("brace_in_a_string", [False, True])
def test_a_non_string_key_anywhere_in_a_big_value_is_refused(key, brace_in_a_string):
    nested = big([{"a": 1}, {"b": [{"c": {key: "x"}}]}])
    if brace_in_a_string:  # more "{" in the bytes than dicts in the value
        nested["note"] = "{{{"
    with pytest.raises(TypeError, match=r"non-string key .* at \$\.value\[1\]\.b\[0\]\.c"):
        canonical_bytes(nested)


@given(json_values)
def test_big_values_encode_as_json_does(value):
    container = big(value)
    assert canonical_bytes(container) == json.dumps(
        container, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def test_subclasses_of_the_json_types_and_shared_parts_are_accepted_as_their_base_types():
    from collections import OrderedDict
    from enum import IntEnum

    class Code(str):
        pass

    class Level(IntEnum):
        HIGH = 3

    shared = ["a", 1]
    for pad in ("", PAD):
        value = {"pad": pad, "d": OrderedDict(b=Code("x"), a=Level.HIGH), "t": (1, shared), "again": shared}
        plain = {"pad": pad, "d": {"a": 3, "b": "x"}, "t": [1, ["a", 1]], "again": ["a", 1]}
        assert canonical_bytes(value) == canonical_bytes(plain)


def test_circular_values_are_refused():
    loop: list = [PAD]
    loop.append(loop)
    with pytest.raises(RecursionError):
        canonical_bytes({"loop": loop})


def test_a_lone_surrogate_in_a_big_value_is_refused_after_a_float():
    with pytest.raises(ValueError, match="surrogate"):
        canonical_bytes(big("\ud800"))
    with pytest.raises(TypeError, match="float"):
        canonical_bytes({**big("\ud800"), "amount": 1.5})


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=8))
def test_an_object_assembled_from_its_members_bytes_is_the_object_s_bytes(value):
    assert canonical_object({key: canonical_bytes(item) for key, item in value.items()}) == canonical_bytes(value)
    assert canonical_object({key: canonical_bytes(item) for key, item in big(value).items()}) == canonical_bytes(
        big(value))
    with pytest.raises(TypeError):
        canonical_object({1: b"1"})  # type: ignore[dict-item]
