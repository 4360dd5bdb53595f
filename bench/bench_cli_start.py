"""Benchmark of the `yibao` command line's start-up: `yibao --help` and a few commands that need no heavy library.

Prints the best wall-clock seconds of each command, run as a fresh process, and its ratio to the floor measured in the
same run: a bare interpreter (`python -c pass`), the least any command can cost.

    .venv/bin/python bench/bench_cli_start.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASE = {"party": {"kind": "institution", "code": "H33010600001"},
        "findings": [{"category": "38.3", "amount_yuan": "12000.00", "intent_to_defraud": False}],
        "refused_to_correct": False, "serious_consequences": False}


def best_of(repeat: int, argv: list[str]) -> tuple[float, int]:
    """The best seconds of `repeat` runs, and the exit status."""
    best, status = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        best = min(best, time.perf_counter() - start)
    return best, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case.json"
        case.write_text(json.dumps(CASE, ensure_ascii=False), encoding="utf-8")
        yibao = [sys.executable, "-m", "yibao"]
        floor, _ = best_of(args.repeat, [sys.executable, "-c", "pass"])
        print(f"floor  python -c pass: {floor * 1000:7.1f} ms")
        for label, argv in (("yibao --help", [*yibao, "--help"]),
                            ("yibao bureau --help", [*yibao, "bureau", "--help"]),
                            ("yibao checklist list --json", [*yibao, "checklist", "list", "--json"]),
                            ("yibao penalty decide case.json", [*yibao, "penalty", "decide", str(case)])):
            seconds, status = best_of(args.repeat, argv)
            print(f"{label:32}: {seconds * 1000:7.1f} ms  ratio {seconds / floor:5.1f}×"
                  + (f"  (exit {status})" if status else ""))


if __name__ == "__main__":
    main()
