"""Benchmark of the `yibao` command line's start-up: `yibao --help` and a few commands that need no heavy library.

Prints the best wall-clock and CPU seconds of each command, run as a fresh process, and their ratios to the floor
measured in the same run: a bare interpreter (`python -c pass`), the least any command can cost. The goal is under
0.3 s. The project's modules run from cached bytecode, as installed (a private `PYTHONPYCACHEPREFIX`, warmed once);
`--compile` runs them as an environment with `PYTHONDONTWRITEBYTECODE` does, compiling every module every time.

    .venv/bin/python bench/bench_cli_start.py [--repeat N] [--compile]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from checklists import template_for_kind  # noqa: E402

CASE = {"party": {"kind": "institution", "code": "H33010600001"},
        "findings": [{"category": "38.3", "amount_yuan": "12000.00", "intent_to_defraud": False}],
        "refused_to_correct": False, "serious_consequences": False}


GOAL = 0.3


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """The best wall-clock and CPU seconds of `repeat` runs, and the exit status."""
    wall, cpu, status = float("inf"), float("inf"), 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), child_cpu()
        status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, child_cpu() - start_cpu)
    return wall, cpu, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="no bytecode cache: compile every module every run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case, answers = Path(tmp) / "case.json", Path(tmp) / "answers.json"
        case.write_text(json.dumps(CASE, ensure_ascii=False), encoding="utf-8")
        items = [item.id for item in template_for_kind("pharmacy").items]
        answers.write_text(json.dumps({"template": "pharmacy", "answers": {
            item: {"result": "pass", "amount_yuan": None, "note": ""} for item in items}}), encoding="utf-8")
        env = dict(os.environ)
        if args.compile:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        yibao = [sys.executable, "-m", "yibao"]
        commands = (("yibao --help", [*yibao, "--help"]),
                    ("yibao bureau --help", [*yibao, "bureau", "--help"]),
                    ("yibao draw --help", [*yibao, "draw", "--help"]),
                    ("yibao registry --help", [*yibao, "registry", "--help"]),
                    ("yibao checklist list --json", [*yibao, "checklist", "list", "--json"]),
                    ("yibao checklist score answers.json", [*yibao, "checklist", "score", str(answers)]),
                    ("yibao penalty decide case.json", [*yibao, "penalty", "decide", str(case)]))
        for _, argv in commands:  # the bytecode cache filled, as an installation has it
            best_of(1, argv, env)
        floor_wall, floor_cpu, _ = best_of(args.repeat, [sys.executable, "-c", "pass"], env)
        print(f"{'bytecode compiled every run' if args.compile else 'bytecode cached'}; goal: under {GOAL} s")
        print(f"{'floor  python -c pass':36}: {floor_wall * 1000:7.1f} ms wall {floor_cpu * 1000:7.1f} ms cpu")
        for label, argv in commands:
            wall, cpu, status = best_of(args.repeat, argv, env)
            print(f"{label:36}: {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms cpu   ratio {wall / floor_wall:5.1f}× wall "
                  f"{cpu / floor_cpu:5.1f}× cpu" + ("" if wall < GOAL else "  over the goal")
                  + (f"  (exit {status})" if status else ""))


if __name__ == "__main__":
    main()
