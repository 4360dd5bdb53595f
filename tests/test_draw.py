"""The pure draw: RFC 3797 key string and selection, strata, teams, follow-ups, commitments, verification."""

from __future__ import annotations

import copy
import hashlib
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bureau.draw import (
    DrawError,
    PlanError,
    Selector,
    WeightTree,
    encode_transcript,
    key_string,
    make_commitment,
    run_draw,
    selection_value,
    source_numbers,
    transcript_hash,
    validate_plan,
    verify_transcript,
)
from sync.canonical import canonical_bytes

KINDS = ("hospital", "primary", "private", "pharmacy")


def make_snapshot(counts: dict[str, int], inspectors: int = 12, conflicts: list[tuple[str, str]] = (),
                  followups: list[str] = (), risk: dict[str, int | None] | None = None) -> dict[str, list]:
    """A registry snapshot with `counts[kind]` institutions per kind (codes H…/P… + region 350102 + sequence)."""
    institutions = []
    for kind in KINDS:
        prefix = "P" if kind == "pharmacy" else "H"
        base = KINDS.index(kind) * 10_000
        for n in range(counts.get(kind, 0)):
            code = f"{prefix}350102{base + n:05d}"
            institutions.append([code, kind, "350102", (risk or {}).get(code)])
    return {
        "institutions": sorted(institutions),
        "inspectors": [[f"I{n:04d}", "350102"] for n in range(1, inspectors + 1)],
        "conflicts": sorted([list(pair) + ["配偶在该机构任职"] for pair in conflicts]),
        "followups": sorted(followups),
    }


def make_plan(**overrides) -> dict:
    plan = {
        "plan_id": "2026-test",
        "strata": [{"kind": "hospital", "ratio": "0.25"}, {"kind": "pharmacy", "count": 3}],
        "team_size": 2,
        "max_assignments_per_inspector": 4,
        "risk_weighted": False,
        "include_followups": True,
        "public_random": ["03 07 12 19 25 33 + 09", "3421.57"],
    }
    plan.update(overrides)
    return plan


def codes_of(snapshot: dict, kind: str) -> list[str]:
    return [row[0] for row in snapshot["institutions"] if row[1] == kind]


# ---- RFC 3797 ------------------------------------------------------------------------------------------------


def test_key_string_is_rfc3797_canonical_form():
    # The sources of the IETF 2013 NomCom selection, as printed by the RFC 3797 reference code.
    sources = [[46, 7, 8, 11, 17, 19, 25], 8285182, "60115701", "42 33 32 26 18 3 2"]
    assert key_string(sources) == "7.8.11.17.19.25.46./8285182./60115701./2.3.18.26.32.33.42./"


def test_selection_reproduces_the_rfc3797_reference_output_when_given_md5():
    """Same procedure as RFC 3797's reference code: pool of 154, 12 selections, 1-based numbers it printed."""
    key = "7.8.11.17.19.25.46./8285182./60115701./2.3.18.26.32.33.42./"
    selector = Selector(key, digest=hashlib.md5)
    tree = WeightTree([1] * 154)
    pool = [str(n) for n in range(1, 155)]
    picked = [int(pool[selector.pick(tree, pool, "stratum", "rfc")]) for _ in range(12)]
    assert picked == [138, 151, 89, 112, 117, 145, 118, 143, 144, 122, 95, 139]
    assert selector.steps[0]["hash"] == "d31d1c4ac453ca37989e9920b4e9bc03"
    assert [s["pool"] for s in selector.steps] == list(range(154, 142, -1))


def test_source_numbers_are_canonicalised_and_sorted():
    assert source_numbers("双色球 03 07 12 19 25 33 + 09") == ["3.", "7.", "9.", "12.", "19.", "25.", "33."]
    assert source_numbers("０３，１２") == ["3.", "12."]  # full-width digits and comma
    assert source_numbers("3421.570") == ["3421.57"]
    assert source_numbers("7.00") == ["7."]
    assert source_numbers([12, "3", 0]) == ["0.", "3.", "12."]
    with pytest.raises(ValueError, match="未找到数字"):
        source_numbers("今日无开奖")
    with pytest.raises(ValueError):
        source_numbers(1.5)


def test_sources_keep_the_announced_order():
    assert key_string(["1 2", "3"]) == "1.2./3./"
    assert key_string(["3", "1 2"]) == "3./1.2./"


def test_selection_counter_is_two_bytes_then_grows():
    key = b"1./"
    assert selection_value(1, key) == hashlib.sha256(b"\x00\x01" + key + b"\x00\x01").digest()
    assert selection_value(65536, key) == hashlib.sha256(b"\x01\x00\x00" + key + b"\x01\x00\x00").digest()


@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.data())
def test_weight_tree_find_matches_a_linear_walk(weights, data):
    tree = WeightTree(weights)
    live = list(weights)
    while sum(live):
        index = data.draw(st.integers(0, sum(live) - 1))
        cumulative, expected = 0, None
        for position, weight in enumerate(live):
            if cumulative <= index < cumulative + weight:
                expected = position
                break
            cumulative += weight
        assert tree.find(index) == expected
        assert tree.total == sum(live) and tree.count == sum(1 for w in live if w)
        tree.set_weight(expected, 0)
        live[expected] = 0


# ---- strata, teams, follow-ups ---------------------------------------------------------------------------------


def test_strata_counts_are_exact_ceilings_of_the_ratio():
    snapshot = make_snapshot({"hospital": 9, "primary": 21, "private": 10, "pharmacy": 40})
    plan = make_plan(strata=[{"kind": "hospital", "ratio": "0.25"}, {"kind": "primary", "ratio": "0.10"},
                             {"kind": "private", "ratio": "1"}, {"kind": "pharmacy", "count": 7}],
                     max_assignments_per_inspector=None)
    transcript = run_draw(plan, snapshot)
    drawn = {kind: [s["institution"] for s in transcript["selected"] if s["stratum"] == kind] for kind in KINDS}
    assert {k: len(v) for k, v in drawn.items()} == {"hospital": 3, "primary": 3, "private": 10, "pharmacy": 7}
    assert [s["quota"] for s in transcript["strata"]] == [3, 3, 10, 7]
    for kind, codes in drawn.items():
        assert len(set(codes)) == len(codes)
        assert set(codes) <= set(codes_of(snapshot, kind))


def test_teams_have_distinct_members_no_conflicts_and_respect_the_cap():
    snapshot = make_snapshot({"hospital": 12, "pharmacy": 30}, inspectors=10)
    everyone = [row[0] for row in snapshot["inspectors"]]
    # I0001 and I0002 may not inspect any pharmacy, I0003 not the first three hospitals
    conflicts = [(i, c) for i in ("I0001", "I0002") for c in codes_of(snapshot, "pharmacy")]
    conflicts += [("I0003", c) for c in codes_of(snapshot, "hospital")[:3]]
    snapshot = make_snapshot({"hospital": 12, "pharmacy": 30}, inspectors=10, conflicts=conflicts)
    plan = make_plan(strata=[{"kind": "hospital", "ratio": "1"}, {"kind": "pharmacy", "ratio": "0.3"}],
                     team_size=3, max_assignments_per_inspector=8)
    transcript = run_draw(plan, snapshot)
    forbidden = set(conflicts)
    load = dict.fromkeys(everyone, 0)
    for item in transcript["selected"]:
        assert len(item["team"]) == 3 and len(set(item["team"])) == 3
        for person in item["team"]:
            assert (person, item["institution"]) not in forbidden
            load[person] += 1
    assert max(load.values()) <= 8
    recused = {(r["inspector"], r["institution"]) for r in transcript["recusals"]}
    selected = {item["institution"] for item in transcript["selected"]}
    assert recused == {pair for pair in forbidden if pair[1] in selected}
    assert all(r["reason"] == "配偶在该机构任职" for r in transcript["recusals"])


def test_the_cap_binds_when_capacity_is_nearly_used_up():
    snapshot = make_snapshot({"pharmacy": 10}, inspectors=6)
    transcript = run_draw(make_plan(strata=[{"kind": "pharmacy", "count": 10}], max_assignments_per_inspector=4),
                          snapshot)
    load: dict[str, int] = {}
    for item in transcript["selected"]:
        for person in item["team"]:
            load[person] = load.get(person, 0) + 1
    assert sum(load.values()) == 20 and max(load.values()) == 4


def test_followups_come_first_outside_the_quota_and_not_drawn_again():
    snapshot = make_snapshot({"hospital": 8, "pharmacy": 10})
    followups = [codes_of(snapshot, "pharmacy")[2], codes_of(snapshot, "hospital")[5]]
    snapshot = make_snapshot({"hospital": 8, "pharmacy": 10}, followups=followups)
    transcript = run_draw(make_plan(strata=[{"kind": "pharmacy", "ratio": "0.5"}]), snapshot)
    selected = transcript["selected"]
    assert [s["institution"] for s in selected[:2]] == sorted(followups)
    assert all(s["reason"] == "followup" for s in selected[:2])
    assert selected[1]["stratum"] == "pharmacy" and selected[0]["stratum"] == "hospital"
    random_part = [s["institution"] for s in selected[2:]]
    assert len(random_part) == 5 and all(s["reason"] == "random" for s in selected[2:])
    assert not set(random_part) & set(followups)
    assert transcript["strata"][0] == {"kind": "pharmacy", "ratio": "0.5", "active": 10, "followups": 1, "pool": 9,
                                       "quota": 5}
    assert all(len(s["team"]) == 2 for s in selected)

    without = run_draw(make_plan(strata=[{"kind": "pharmacy", "ratio": "0.5"}], include_followups=False), snapshot)
    assert all(s["reason"] == "random" for s in without["selected"]) and len(without["selected"]) == 5


def test_same_inputs_give_the_same_bytes_and_other_random_values_do_not():
    snapshot = make_snapshot({"hospital": 20, "pharmacy": 50}, inspectors=15)
    first = run_draw(make_plan(), snapshot)
    again = run_draw(copy.deepcopy(make_plan()), copy.deepcopy(snapshot))
    assert canonical_bytes(first) == canonical_bytes(again)
    other = run_draw(make_plan(public_random=["03 07 12 19 25 33 + 10", "3421.57"]), snapshot)
    assert other["key_string"] != first["key_string"]
    assert other["selected"] != first["selected"]


def test_steps_replay_the_selection():
    snapshot = make_snapshot({"hospital": 20, "pharmacy": 50}, inspectors=15)
    transcript = run_draw(make_plan(), snapshot)
    key = transcript["key_string"].encode()
    for step in transcript["steps"]:
        digest = selection_value(step["i"], key)
        assert step["hash"] == digest.hex()
        assert step["index"] == int.from_bytes(digest, "big") % step["modulus"]
    assert [s["i"] for s in transcript["steps"]] == list(range(len(transcript["steps"])))
    picks = [s["picked"] for s in transcript["steps"] if s["purpose"] == "stratum"]
    assert picks == [s["institution"] for s in transcript["selected"]]


def test_risk_weighting_uses_one_plus_risk_as_weight():
    risk = {"P35010230000": 100, "P35010230001": 0, "P35010230002": None}
    snapshot = make_snapshot({"pharmacy": 3}, risk=risk)
    transcript = run_draw(make_plan(strata=[{"kind": "pharmacy", "count": 1}], risk_weighted=True), snapshot)
    assert transcript["steps"][0]["modulus"] == 101 + 1 + 51
    assert transcript["steps"][0]["pool"] == 3


# ---- rules that cannot be met ----------------------------------------------------------------------------------


def test_too_few_eligible_inspectors_fails_and_names_the_institution():
    snapshot = make_snapshot({"pharmacy": 1}, inspectors=3)
    code = codes_of(snapshot, "pharmacy")[0]
    snapshot = make_snapshot({"pharmacy": 1}, inspectors=3, conflicts=[("I0001", code), ("I0002", code)])
    with pytest.raises(DrawError, match=f"无法为机构 {code} 组成 2 人检查组.*回避 2 人.*可选仅 1 人"):
        run_draw(make_plan(strata=[{"kind": "pharmacy", "count": 1}]), snapshot)


def test_the_cap_is_never_relaxed():
    snapshot = make_snapshot({"pharmacy": 5}, inspectors=4)
    with pytest.raises(DrawError, match="总承担能力不足"):
        run_draw(make_plan(strata=[{"kind": "pharmacy", "count": 5}], max_assignments_per_inspector=2), snapshot)
    # capacity suffices in total, but the conflicts leave too few below the cap for the last institution
    codes = codes_of(snapshot, "pharmacy")
    conflicts = [(person, code) for code in codes[:4] for person in ("I0003", "I0004")]
    tight = make_snapshot({"pharmacy": 5}, inspectors=4, conflicts=conflicts)
    with pytest.raises(DrawError, match="已达每人 4 次上限"):
        run_draw(make_plan(strata=[{"kind": "pharmacy", "count": 5}], max_assignments_per_inspector=4), tight)


def test_a_stratum_larger_than_its_pool_fails():
    snapshot = make_snapshot({"hospital": 3})
    with pytest.raises(DrawError, match="需抽取 4 家，可抽机构仅 3 家"):
        run_draw(make_plan(strata=[{"kind": "hospital", "count": 4}]), snapshot)


# ---- plan validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"strata": [{"kind": "hospital", "ratio": 0.1}]}, "strata[0].ratio", "0 到 1 之间的小数"),
    ({"strata": [{"kind": "hospital", "ratio": "0.1"}, {"kind": "pharmacy", "ratio": "1.5"}]}, "strata[1].ratio",
     '应为 0 到 1 之间的小数，如 "0.10"'),
    ({"strata": [{"kind": "hospital", "ratio": "0"}]}, "strata[0].ratio", "0 到 1"),
    ({"strata": [{"kind": "clinic", "count": 2}]}, "strata[0].kind", "pharmacy"),
    ({"strata": [{"kind": "hospital", "count": 2}, {"kind": "hospital", "count": 1}]}, "strata[1].kind", "重复"),
    ({"strata": [{"kind": "hospital", "count": 2, "ratio": "0.1"}]}, "strata[0]", "只能给出一个"),
    ({"strata": [{"kind": "hospital", "count": 0}]}, "strata[0].count", "正整数"),
    ({"strata": []}, "strata", "非空数组"),
    ({"team_size": 1}, "team_size", "第二十九条"),
    ({"max_assignments_per_inspector": 0}, "max_assignments_per_inspector", "正整数"),
    ({"risk_weighted": "yes"}, "risk_weighted", "true 或 false"),
    ({"public_random": []}, "public_random", "必填"),
    ({"public_random": ["abc"]}, "public_random[0]", "未找到数字"),
    ({"random_sources": ["双色球", "上证指数", "深证成指"]}, "public_random", "一一对应"),
    ({"plan_id": ""}, "plan_id", "必填"),
    ({"ratio": "0.1"}, "ratio", "未知字段"),
])
def test_plan_errors_name_the_field(change, field, message):
    errors = validate_plan(make_plan(**change))
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    with pytest.raises(PlanError):
        run_draw(make_plan(**change), make_snapshot({"hospital": 4, "pharmacy": 4}))


def test_a_valid_plan_has_no_errors_and_commit_time_ignores_public_random():
    assert validate_plan(make_plan()) == []
    at_commit = {k: v for k, v in make_plan().items() if k != "public_random"}
    assert validate_plan(at_commit, require_public_random=False) == []
    assert validate_plan(at_commit)[0]["field"] == "public_random"


# ---- commitments -----------------------------------------------------------------------------------------------


def test_commitment_binds_plan_and_registry_but_not_public_random():
    snapshot = make_snapshot({"hospital": 8, "pharmacy": 12})
    plan = make_plan()
    commitment = make_commitment({k: v for k, v in plan.items() if k != "public_random"}, snapshot)
    assert commitment == make_commitment(plan, copy.deepcopy(snapshot))
    transcript = run_draw(plan, snapshot, {**commitment, "committed_at": "2026-11-20T08:00:00Z"})
    assert transcript["committed"] is True and transcript["warnings"] == []
    assert transcript["commitment"]["commitment_hash"] == commitment["commitment_hash"]

    changed = copy.deepcopy(snapshot)
    changed["institutions"][0][3] = 90
    with pytest.raises(DrawError, match="名录库自承诺后已变更"):
        run_draw(plan, changed, commitment)
    with pytest.raises(DrawError, match="计划自承诺后已被修改"):
        run_draw(make_plan(team_size=3), snapshot, commitment)


def test_an_uncommitted_draw_says_so():
    transcript = run_draw(make_plan(), make_snapshot({"hospital": 8, "pharmacy": 12}))
    assert transcript["committed"] is False and transcript["commitment"] is None
    assert "未经事先承诺" in transcript["warnings"][0]


# ---- verification ----------------------------------------------------------------------------------------------


@pytest.fixture
def transcript() -> dict:
    snapshot = make_snapshot({"hospital": 10, "pharmacy": 20}, inspectors=10,
                             conflicts=[("I0001", "P35010230003"), ("I0004", "H35010200002")],
                             followups=["P35010230007"])
    commitment = make_commitment(make_plan(), snapshot)
    return run_draw(make_plan(), snapshot, {**commitment, "committed_at": "2026-11-20T08:00:00Z"})


def test_an_untouched_transcript_verifies_even_after_a_json_round_trip(transcript):
    import json

    assert verify_transcript(transcript) == []
    assert verify_transcript(json.loads(json.dumps({**transcript, "drawn_at": "2026-11-25T09:00:00Z"}))) == []


def test_a_transcript_is_written_as_canonical_json_and_its_hash_covers_all_but_drawn_at(transcript):
    drawn = {**transcript, "drawn_at": "2026-11-25T09:00:00Z"}
    data, digest = encode_transcript(drawn)
    assert data == canonical_bytes(drawn)
    assert digest == transcript_hash(drawn) == hashlib.sha256(canonical_bytes(transcript)).hexdigest()
    assert transcript_hash({**drawn, "plan_hash": "0" * 64}) != digest


def _swap_institution(t):
    t["selected"][1]["institution"] = next(row[0] for row in t["registry"]["institutions"]
                                           if row[0] not in {s["institution"] for s in t["selected"]})


def _change_team(t):
    t["selected"][0]["team"][0] = next(row[0] for row in t["registry"]["inspectors"]
                                       if row[0] not in t["selected"][0]["team"])


def _alter_registry_row(t):
    t["registry"]["institutions"][4][3] = 77


def _alter_registry_row_and_rehash(t):
    from bureau.draw import registry_hashes

    t["registry"]["inspectors"][2][1] = "350111"
    t["registry"].update(registry_hashes(t["registry"]))


def _drop_a_conflict(t):
    t["registry"]["conflicts"].pop()


def _edit_public_random(t):
    t["plan"]["public_random"][1] = "3421.58"


def _edit_ratio(t):
    t["plan"]["strata"][0]["ratio"] = "0.30"


def _drop_recusal(t):
    t["recusals"].pop()


def _edit_step(t):
    t["steps"][3]["index"] += 1


def _mark_committed_false(t):
    t["commitment"] = None


@pytest.mark.parametrize(("tamper", "mentions"), [
    (_swap_institution, "selected[1].institution"),
    (_change_team, "selected[0].team[0]"),
    (_alter_registry_row, "registry.institutions"),
    (_alter_registry_row_and_rehash, "commitment.registry_hash"),
    (_drop_a_conflict, "registry.conflicts"),
    (_edit_public_random, "key_string"),
    (_edit_ratio, "plan"),
    (_drop_recusal, "recusals"),
    (_edit_step, "steps[3].index"),
    (_mark_committed_false, "committed"),
])
def test_any_edit_makes_verification_fail_and_say_what_differs(transcript, tamper, mentions):
    tampered = copy.deepcopy(transcript)
    tamper(tampered)
    differences = verify_transcript(tampered)
    assert differences, "a tampered transcript verified"
    assert any(mentions in d for d in differences), differences


def test_a_non_transcript_is_refused():
    assert "format" in verify_transcript({"hello": 1})[0]
    assert verify_transcript([]) != []


# ---- properties ------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.fixed_dictionaries({kind: st.integers(0, 25) for kind in KINDS}),
    inspectors=st.integers(2, 15),
    team_size=st.integers(2, 4),
    cap=st.one_of(st.none(), st.integers(1, 6)),
    ratios=st.lists(st.sampled_from(["0.05", "0.1", "0.33", "0.5", "1"]), min_size=4, max_size=4),
    conflict_seed=st.lists(st.tuples(st.integers(1, 15), st.integers(0, 99)), max_size=30),
    weighted=st.booleans(),
    lottery=st.lists(st.integers(0, 99), min_size=1, max_size=7),
)
def test_any_successful_draw_keeps_every_rule_and_verifies(counts, inspectors, team_size, cap, ratios, conflict_seed,
                                                          weighted, lottery):
    base = make_snapshot(counts, inspectors=inspectors)
    all_codes = [row[0] for row in base["institutions"]]
    conflicts = sorted({(f"I{p:04d}", all_codes[n % len(all_codes)]) for p, n in conflict_seed
                        if all_codes and p <= inspectors})
    snapshot = make_snapshot(counts, inspectors=inspectors, conflicts=conflicts)
    plan = make_plan(strata=[{"kind": kind, "ratio": ratio} for kind, ratio in zip(KINDS, ratios)],
                     team_size=team_size, max_assignments_per_inspector=cap, risk_weighted=weighted,
                     public_random=[lottery])
    try:
        transcript = run_draw(plan, snapshot)
    except DrawError:
        return
    for kind, ratio in zip(KINDS, ratios):
        drawn = [s for s in transcript["selected"] if s["stratum"] == kind]
        assert len(drawn) == math.ceil(float(ratio) * counts[kind] - 1e-9)
    load: dict[str, int] = {}
    for item in transcript["selected"]:
        assert len(set(item["team"])) == team_size
        for person in item["team"]:
            assert (person, item["institution"]) not in set(conflicts)
            load[person] = load.get(person, 0) + 1
    assert cap is None or max(load.values(), default=0) <= cap
    assert verify_transcript(transcript) == []
