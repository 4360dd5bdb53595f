"""THE canonical JSON form: what gets hashed and signed everywhere (records, draws, checklists, the device store).

Rules: keys sorted by code point, UTF-8 without escaping (``ensure_ascii=False``), separators ``","`` and ``":"``,
no whitespace. Only dict (with str keys), list, tuple (encoded as a list), str, int, bool and None are accepted.
Floats are refused outright, NaN and infinities included: money is a decimal string (``"12000.50"``) and a float
would make the bytes depend on how a number happened to be parsed. Strings are hashed exactly as given (no Unicode
normalisation): what was shown is what is signed.

The check comes after encoding, which refuses most of what is not JSON by itself: a value of more than `_SMALL` bytes
is cleared from its encoding and a level of the tree at a time with C-level iteration (``set(map(type, …))``), a
fraction of the encoding's cost (see `_cleared`); a small value, or one not cleared that way, is walked node by node,
which names the path of what is refused. Bytes parsed by `loads_canonical` were checked by the parser and are not
checked again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from itertools import chain, compress
from typing import Any

_SCALARS = frozenset({str, int, bool, type(None)})
_SEQUENCES = frozenset({list, tuple})
_DICT = frozenset({dict})
_STR = frozenset({str})
_CONTAINERS = _SEQUENCES | _DICT
_EXACT = _SCALARS | _CONTAINERS
_SMALL = 1024  # bytes of JSON below which the node-by-node walk is the quicker check
# no cycle check while encoding: a circular value fails on the recursion limit instead, and is then walked
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                            check_circular=False)


def _walk(value: Any, path: str) -> None:
    """Node by node: raises TypeError naming the path of the first value that is not canonical JSON."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return
    if isinstance(value, float):
        raise TypeError(f"float at {path}: use a decimal string (money) or an integer")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"non-string key {key!r} at {path}")
            _walk(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]")
        return
    raise TypeError(f"{type(value).__name__} at {path} is not canonical JSON")


def _cleared(value: dict | list | tuple, data: bytes) -> bool:
    """True when `value`, which encoded to `data`, is canonical JSON; False when `_walk` must decide.

    Encoding already refused every type JSON has no form for, NaN and the infinities. What it lets through is a float
    (a number with "." or "e+"/"e-": without those in `data` there is none) and a dict key of another type (written
    as a string). Every dict writes one "{", so once as many exact dicts as `data` has "{" are found, all the keys
    have been seen; otherwise the tree is cleared a level at a time, on exact types, to the leaves.
    """
    floats = b"." in data or b"e+" in data or b"e-" in data
    unseen = data.count(b"{")
    containers: list[Any] = [value]
    kinds = {type(value)}
    while containers:
        dicts = _only(containers, kinds, _DICT)
        if dicts and not set(map(type, chain.from_iterable(dicts))) <= _STR:
            return False
        unseen -= len(dicts)
        if not floats and not unseen:
            return True
        children = [*map(dict.values, dicts), *_only(containers, kinds, _SEQUENCES)] if dicts else containers
        kinds = set(map(type, chain.from_iterable(children)))
        if not kinds <= _EXACT:
            return False
        containers = _only(chain.from_iterable(children), kinds, _CONTAINERS)
    return True


def _only(items: Iterable[Any], kinds: set[type], wanted: frozenset[type]) -> list[Any]:
    """The items of the `wanted` types, given the set of their `kinds`."""
    if kinds <= wanted:
        return list(items)
    if not kinds & wanted:
        return []
    items = list(items)
    return list(compress(items, map(wanted.__contains__, map(type, items))))


def canonical_bytes(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of ``obj``; raises TypeError naming the path (``$.answers[3].amount``) of a float."""
    try:
        text = _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError):  # another type, NaN or infinity, circular: `_walk` names it
        _walk(obj, "$")
        raise
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        _walk(obj, "$")  # a refused value is named first
        raise ValueError("string contains a lone surrogate and has no UTF-8 form") from None
    kind = type(obj)
    if kind not in _SCALARS and not (kind in _CONTAINERS and len(data) > _SMALL and _cleared(obj, data)):
        _walk(obj, "$")
    return data


def _encode(obj: Any) -> bytes:
    """Canonical bytes of a value known to be canonical JSON already (parsed with floats refused)."""
    return _ENCODER.encode(obj).encode("utf-8")


def canonical_object(members: dict[str, bytes]) -> bytes:
    """The canonical bytes of a JSON object given the canonical bytes of each member's value: equal to
    `canonical_bytes` of the object. Encoding a large object member by member confines what a check must look at
    (a decimal string in one small member does not send the others through the level-wise check)."""
    if not set(map(type, members)) <= _STR:
        raise TypeError(f"non-string key in {sorted(map(repr, members))}")
    return b"{" + b",".join(_encode(key) + b":" + members[key] for key in sorted(members)) + b"}"


def content_hash(obj: Any) -> str:
    """SHA-256 hex of the canonical bytes."""
    return hashlib.sha256(canonical_bytes(obj)).hexdigest()


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    return result


def _refuse_number(text: str) -> Any:
    raise ValueError(f"non-integer number {text} in canonical JSON")


def loads_canonical(data: bytes) -> Any:
    """Parse bytes that must already be canonical (floats, duplicate keys, whitespace, escapes all refused).

    Used on bytes received from elsewhere, so one value has exactly one accepted encoding. Raises ValueError.
    """
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                           parse_float=_refuse_number, parse_constant=_refuse_number)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if _encode(value) != data:  # the parser admits no float and no non-string key: nothing left to check
        raise ValueError("JSON is not in canonical form")
    return value
