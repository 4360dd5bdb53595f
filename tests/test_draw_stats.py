"""Statistical checks of the draw over many public random values (deterministic: the values are fixed).

Chi-square statistics are computed here and compared with tabulated critical values at p = 0.001.
"""

from __future__ import annotations

from collections import Counter

from bureau.draw import run_draw
from tests.test_draw import codes_of, make_plan, make_snapshot

# χ² critical values at p = 0.001 by degrees of freedom (standard tables)
CHI2_CRITICAL_0_001 = {4: 18.467, 9: 27.877, 19: 43.820}


def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def draws(plan_changes: dict, snapshot: dict, runs: int) -> list[dict]:
    return [run_draw(make_plan(public_random=[str(n), "2026 11 24"], max_assignments_per_inspector=None,
                               **plan_changes), snapshot)
            for n in range(runs)]


def test_institutions_are_selected_uniformly_within_a_stratum():
    snapshot = make_snapshot({"hospital": 6, "pharmacy": 20})
    runs = 1000
    counts = Counter(s["institution"] for t in draws({"strata": [{"kind": "hospital", "count": 2},
                                                                 {"kind": "pharmacy", "count": 5}]}, snapshot, runs)
                     for s in t["selected"] if s["stratum"] == "pharmacy")
    pharmacies = codes_of(snapshot, "pharmacy")
    observed = [counts[code] for code in pharmacies]
    assert sum(observed) == runs * 5
    assert chi_square(observed, [runs * 5 / 20] * 20) < CHI2_CRITICAL_0_001[19]


def test_inspectors_are_drawn_uniformly_into_teams():
    snapshot = make_snapshot({"hospital": 1}, inspectors=10)
    runs = 1000
    counts = Counter(person for t in draws({"strata": [{"kind": "hospital", "count": 1}]}, snapshot, runs)
                     for person in t["selected"][0]["team"])
    observed = [counts[f"I{n:04d}"] for n in range(1, 11)]
    assert sum(observed) == runs * 2
    assert chi_square(observed, [runs * 2 / 10] * 10) < CHI2_CRITICAL_0_001[9]


def test_a_single_risk_weighted_pick_is_proportional_to_one_plus_risk():
    risks = [0, 25, 50, 75, 100]
    snapshot = make_snapshot({"pharmacy": 5})
    codes = codes_of(snapshot, "pharmacy")
    snapshot = make_snapshot({"pharmacy": 5}, risk=dict(zip(codes, risks)))
    runs = 3000
    plan = {"strata": [{"kind": "pharmacy", "count": 1}], "risk_weighted": True}
    counts = Counter(t["selected"][0]["institution"] for t in draws(plan, snapshot, runs))
    observed = [counts[code] for code in codes]
    weights = [1 + r for r in risks]
    assert chi_square(observed, [runs * w / sum(weights) for w in weights]) < CHI2_CRITICAL_0_001[4]
    assert observed == sorted(observed) and len(set(observed)) == len(observed)


def test_risk_weighting_raises_the_chance_of_selection_monotonically():
    """Several picks without replacement: higher 风险分 levels are selected more often, lower ones less."""
    levels = [0, 30, 60, 90]
    snapshot = make_snapshot({"pharmacy": 12})
    codes = codes_of(snapshot, "pharmacy")
    level_of = {code: levels[n % 4] for n, code in enumerate(codes)}
    snapshot = make_snapshot({"pharmacy": 12}, risk=level_of)
    runs = 2000
    weighted = Counter(level_of[s["institution"]]
                       for t in draws({"strata": [{"kind": "pharmacy", "count": 3}], "risk_weighted": True},
                                      snapshot, runs)
                       for s in t["selected"])
    per_level = [weighted[level] for level in levels]
    assert per_level == sorted(per_level) and len(set(per_level)) == 4
    assert per_level[-1] > 2 * per_level[1] > 10 * per_level[0]  # weights 91, 31 and 1: far apart, not proportional

    uniform = Counter(level_of[s["institution"]]
                      for t in draws({"strata": [{"kind": "pharmacy", "count": 3}]}, snapshot, runs)
                      for s in t["selected"])
    assert chi_square([uniform[level] for level in levels], [runs * 3 / 4] * 4) < 16.266  # df 3, p = 0.001
