"""Fuzzing ingest through the real API, on SQLite and PostgreSQL: mutations of a valid record (a value of the wrong
type, a required field deleted, a field added, a huge string or number, deep nesting, Unicode look-alikes and
invisible characters in ids, codes, hashes, money and times, control characters anywhere), each signed with the
team's real device keys and sealed like a tablet's, are all refused with a 4xx; nothing is stored, no request
answers 5xx, and the review queue answers throughout. Derandomized: the same examples on every run."""

from __future__ import annotations

import copy
from typing import Any, Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import record_schema
from tests.record_support import sender

EXAMPLES = 120  # per backend; about 20 s each beside the tablet's setup on a loaded machine

# fields with a default: deleting one leaves a valid record, and adding one where it is absent may too
OPTIONAL = {name for model in (record_schema.Answer, record_schema.Photo, record_schema.Gps, record_schema.RecordV1,
                               record_schema.CheckIn, record_schema.Representative, record_schema.Refusal)
            for name, field in model.model_fields.items() if not field.is_required()}
KNOWN = {name for model in record_schema._Strict.__subclasses__() for name in model.model_fields}
# free text: any Unicode is fine there (what was written on site), so only control characters are mutations
FREE_TEXT = {"name", "address", "place", "gps_note", "role", "phone", "title", "category_title", "legal_basis",
             "description", "note", "na_reason", "caption", "reason", "witness_name", "media_note", "signer_name",
             "correction_reason", "source_format", "value", "badge_no",
             "text", "basis", "question", "answer", "detail", "quantity", "approved_by"}  # the 笔录's (issue #15)
ODD_CHARACTERS = ["\u200b", "\u202e", "\ufeff", "\u0301", "\u00a0", "😀", "٣", "𝟙", "İ", "\u2028"]
CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f"]

SCALARS = st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6), st.booleans(), st.none())
BY_KIND = {
    str: st.text(max_size=20), int: st.integers(-10**6, 10**6), bool: st.booleans(), type(None): st.none(),
    list: st.lists(SCALARS, max_size=3), dict: st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
}
NOT_AS = {str: {str, type(None)}, int: {int, type(None)}, bool: {bool}, type(None): {type(None), str},
          list: {list, type(None)}, dict: {dict, type(None)}}  # replacements that could still be valid


def locations(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place in the record (a signature's strokes: only the first point of the first stroke)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if path and path[-1] == "strokes" and key != 0 or len(path) > 1 and path[-2] == "strokes" and key != 0:
            continue
        yield (*path, key)
        yield from locations(child, (*path, key))


def parent_of(record: Any, path: tuple) -> Any:
    for key in path[:-1]:
        record = record[key]
    return record


def field_name(path: tuple) -> str:
    """The name of the field a value belongs to (a list element: its list's)."""
    return next((key for key in reversed(path) if isinstance(key, str)), "")


def nested(depth: int, leaf: Any, as_dict: bool) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf} if as_dict else [leaf]
    return leaf


@st.composite
def mutations(draw, record: dict[str, Any], places: list[tuple]) -> tuple[str, dict[str, Any]]:
    """(what was done, the mutated record): never a record the schema and the bureau's checks may accept."""
    record = copy.deepcopy(record)
    kind = draw(st.sampled_from(["type", "delete", "add", "huge_text", "huge_number", "nested", "unicode",
                                 "control"]))
    if kind == "add":
        dicts = [()] + [p for p in places if isinstance(parent_of(record, (*p, 0)), dict)]
        path = draw(st.sampled_from(dicts))
        key = draw(st.text(min_size=1, max_size=16).filter(lambda k: k not in KNOWN))
        target = parent_of(record, (*path, key))
        if key in target:
            kind = "type"  # an item id that is there already: change its answer's type instead
        else:
            target[key] = draw(SCALARS)
            return f"add {path}+{key!r}", record
    candidates = {
        "type": places,
        "delete": [p for p in places if isinstance(p[-1], str) and p[-1] not in OPTIONAL],
        "huge_text": [p for p in places if isinstance(parent_of(record, p)[p[-1]], str)],
        "huge_number": [p for p in places if type(parent_of(record, p)[p[-1]]) is int],
        "nested": places,
        "unicode": [p for p in places if isinstance(parent_of(record, p)[p[-1]], str) and parent_of(record, p)[p[-1]]
                    and field_name(p) not in FREE_TEXT],
        "control": [p for p in places if isinstance(parent_of(record, p)[p[-1]], str)],
    }[kind]
    path = draw(st.sampled_from(candidates))
    parent, key = parent_of(record, path), path[-1]
    old = parent[key]
    if kind == "type":
        new_kind = draw(st.sampled_from([k for k in BY_KIND if k not in NOT_AS[type(old)]]))
        parent[key] = draw(BY_KIND[new_kind])
    elif kind == "delete":
        del parent[key]
    elif kind == "huge_text":
        parent[key] = draw(st.sampled_from(["长", "a", "0", " "])) * draw(st.integers(10_001, 60_000))
    elif kind == "huge_number":
        parent[key] = draw(st.one_of(st.integers(max_value=-1, min_value=-(10**300)),
                                     st.integers(min_value=2**31, max_value=10**300)))
    elif kind == "nested":
        parent[key] = nested(draw(st.integers(5, 400)), "x", as_dict=isinstance(old, dict) or
                             (not isinstance(old, list) and draw(st.booleans())))
    else:
        odd = draw(st.sampled_from(ODD_CHARACTERS if kind == "unicode" else CONTROL))
        at = draw(st.integers(0, len(old)))
        replace = kind == "unicode" and at < len(old) and draw(st.booleans())
        parent[key] = old[:at] + odd + old[at + (1 if replace else 0):]
    return f"{kind} {path}", record


def test_mutated_records_are_refused_and_nothing_is_stored(running_bureau, tmp_path):
    s = sender(running_bureau, tmp_path / "tablet")
    places = list(locations(s.record))
    seen: list[tuple[str, int, str]] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(mutations(s.record, places))
    def refused(mutation: tuple[str, dict[str, Any]]) -> None:
        what, record = mutation
        record_id = s.record["record_id"]
        if record.get("record_id") == record_id:  # each under an id of its own: none is a replay of another
            record_id = record["record_id"] = f"fuzz-{len(seen):04d}"
        status, reason, message = s.send(record, record_id)
        seen.append((what, status, reason))
        assert 400 <= status < 500, (what, status, reason, message)

    refused()
    assert s.stored() == [] and s.queue() == []
    assert len(seen) >= EXAMPLES // 2 and not [entry for entry in seen if entry[1] >= 500]
    assert len({reason for _what, _status, reason in seen}) >= 5  # the mutations reach many different checks
