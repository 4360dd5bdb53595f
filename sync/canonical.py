"""THE canonical JSON form: what gets hashed and signed everywhere (records, draws, checklists, the device store).

Rules: keys sorted by code point, UTF-8 without escaping (``ensure_ascii=False``), separators ``","`` and ``":"``,
no whitespace. Only dict (with str keys), list, tuple (encoded as a list), str, int, bool and None are accepted.
Floats are refused outright, NaN and infinities included: money is a decimal string (``"12000.50"``) and a float
would make the bytes depend on how a number happened to be parsed. Strings are hashed exactly as given (no Unicode
normalisation): what was shown is what is signed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return
    if isinstance(value, float):
        raise TypeError(f"float at {path}: use a decimal string (money) or an integer")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"non-string key {key!r} at {path}")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise TypeError(f"{type(value).__name__} at {path} is not canonical JSON")


def canonical_bytes(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of ``obj``; raises TypeError naming the path (``$.answers[3].amount``) of a float."""
    _check(obj, "$")
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains a lone surrogate and has no UTF-8 form") from None


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
    if canonical_bytes(value) != data:
        raise ValueError("JSON is not in canonical form")
    return value
