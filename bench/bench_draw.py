"""Benchmark of the 双随机 draw at city-wide scale: 100,000 institutions, 5,000 inspectors, 20,000 conflict pairs, 5 %.

Prints the seconds for the draw and for the verification, and their ratio to the floor measured in the same run:
hashing the registry snapshot once (canonical JSON + SHA-256), the least any verifiable draw must do.

    .venv/bin/python bench/bench_draw.py [--institutions N] [--inspectors N] [--conflicts N] [--ratio 0.05]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from bureau.draw import run_draw, verify_transcript
from sync.canonical import content_hash

KINDS = ("hospital", "primary", "private", "pharmacy")
REGIONS = ("350102", "350103", "350104", "350105", "350111", "350121", "350122", "350181")


def synthetic_snapshot(institutions: int, inspectors: int, conflicts: int, seed: int = 7) -> dict[str, list]:
    rng = random.Random(seed)
    rows = []
    for n in range(institutions):
        kind = rng.choices(KINDS, weights=(5, 30, 25, 40))[0]
        prefix = "P" if kind == "pharmacy" else "H"
        rows.append([f"{prefix}{rng.choice(REGIONS)}{n:05d}"[:12], kind, rng.choice(REGIONS), rng.randint(0, 100)])
    rows = sorted({row[0]: row for row in rows}.values())
    people = [[f"I{n:05d}", rng.choice(REGIONS)] for n in range(inspectors)]
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < conflicts:
        pairs.add((rng.choice(people)[0], rng.choice(rows)[0]))
    return {
        "institutions": rows,
        "inspectors": people,
        "conflicts": [[a, b, "利益冲突"] for a, b in sorted(pairs)],
        "followups": sorted(rng.sample([row[0] for row in rows], 50)),
    }


def best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--institutions", type=int, default=100_000)
    parser.add_argument("--inspectors", type=int, default=5_000)
    parser.add_argument("--conflicts", type=int, default=20_000)
    parser.add_argument("--ratio", default="0.05")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    snapshot = synthetic_snapshot(args.institutions, args.inspectors, args.conflicts)
    plan = {
        "plan_id": "bench", "strata": [{"kind": kind, "ratio": args.ratio} for kind in KINDS],
        "team_size": 2, "max_assignments_per_inspector": 4, "risk_weighted": False, "include_followups": True,
        "public_random": ["03 07 12 19 25 33 09", "3421.57", "18 22 31"],
    }
    floor, _ = best_of(args.repeat, lambda: content_hash(snapshot))
    draw_s, transcript = best_of(args.repeat, lambda: run_draw(plan, snapshot))
    weighted_s, _ = best_of(args.repeat, lambda: run_draw({**plan, "risk_weighted": True}, snapshot))
    text = json.dumps(transcript, ensure_ascii=False, separators=(",", ":"))
    parse_s, loaded = best_of(args.repeat, lambda: json.loads(text))
    verify_s, differences = best_of(args.repeat, lambda: verify_transcript(loaded))
    assert differences == [], differences

    print(f"registry: {len(snapshot['institutions'])} institutions, {len(snapshot['inspectors'])} inspectors, "
          f"{len(snapshot['conflicts'])} conflicts, {len(snapshot['followups'])} follow-ups; ratio {args.ratio}")
    print(f"selected {len(transcript['selected'])} institutions in {len(transcript['steps'])} selection steps; "
          f"transcript {len(text) / 1e6:.1f} MB")
    print(f"floor  hash registry once      {floor:7.3f} s")
    print(f"draw   uniform                 {draw_s:7.3f} s   {draw_s / floor:5.1f}x floor")
    print(f"draw   risk weighted           {weighted_s:7.3f} s   {weighted_s / floor:5.1f}x floor")
    print(f"verify (transcript as loaded)  {verify_s:7.3f} s   {verify_s / floor:5.1f}x floor")
    print(f"parse  transcript JSON         {parse_s:7.3f} s   {parse_s / floor:5.1f}x floor")


if __name__ == "__main__":
    main()
