"""Screening benchmark (智能监控): importing settlement line items and a full screening run, each against a floor.

Run: .venv/bin/python bench/bench_screening.py [--rows N] [--institutions K]

Generates about N line items (default 10,000,000: about 175,000 persons over 500 institutions and one year, with
tests/claims_gen.py, planted violations included) as a UTF-8 CSV, then, each step in a subprocess of its own:

- floor: DuckDB reads the same file once and groups it by person and month (count, sum of 医保支付金额), the least a
  screening of it must do;
- import: `import_claims` (what `yibao claims import` runs): every row checked in bulk by DuckDB (the generated file has
  no bad row, so the row-by-row checks in Python do not run), then loaded into a fresh claims store (DuckDB file) in
  one transaction;
- screen: `screen` with every rule of bureau/screening/rules.toml (what `yibao screen run` runs, less writing the file).

It prints each step's time (imports of modules excluded), the ratio to the floor, the CPU time of all the step's threads
(user + system, the fairer ratio on a machine that other work shares: the load average is printed too) and the
process's peak resident memory (ru_maxrss).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' generator, when run as a script
ROWS_PER_PERSON = 57  # what tests/claims_gen.py writes for a clean person in a year, on average


def _step(step: str, csv_file: Path, store: Path) -> dict[str, float]:
    import duckdb

    from bureau.screening.rules import load_rules
    from bureau.screening.store import import_claims, open_store, screen

    start, cpu = time.perf_counter(), _cpu()
    if step == "floor":
        with duckdb.connect() as con:
            con.execute("SELECT 参保人ID, date_trunc('month', 费用日期) AS month, count(*), sum(医保支付金额) "
                        "FROM read_csv(?, header = true) GROUP BY ALL", [str(csv_file)]).fetchall()
        extra = 0
    elif step == "import":
        con = open_store(store)
        start, cpu = time.perf_counter(), _cpu()
        extra = import_claims(con, csv_file)["rows"]
        con.close()
    else:
        con = open_store(store)
        start, cpu = time.perf_counter(), _cpu()
        extra = len(screen(con, load_rules())["hits"])
        con.close()
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    return {"seconds": seconds, "cpu": cpu, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "count": extra}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--institutions", type=int, default=500)
    parser.add_argument("--step", choices=("floor", "import", "screen"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_step(args.step, args.csv, args.store)))
        return
    from tests.claims_gen import generate

    with tempfile.TemporaryDirectory() as scratch:
        csv_file, store = Path(scratch) / "claims.csv", Path(scratch) / "store"
        start = time.perf_counter()
        with csv_file.open("w", encoding="utf-8", newline="") as out:
            rows, planted = generate(out, max(1, args.rows // ROWS_PER_PERSON), args.institutions)
        print(f"{rows:,} line items, {csv_file.stat().st_size / 2**20:.0f} MiB, {len(planted)} planted hits "
              f"(generated in {time.perf_counter() - start:.0f} s)")
        results = {}
        for step in ("floor", "import", "screen"):
            done = subprocess.run([sys.executable, __file__, "--step", step, "--csv", str(csv_file), "--store",
                                   str(store)], capture_output=True, text=True, check=True)
            results[step] = json.loads(done.stdout.strip().splitlines()[-1])
        floor, floor_cpu = results["floor"]["seconds"], results["floor"]["cpu"]
        print(f"{'':<8} {'seconds':>9} {'ratio':>7} {'CPU s':>7} {'ratio':>7} {'peak MiB':>9}")
        for step, result in results.items():
            print(f"{step:<8} {result['seconds']:9.2f} {result['seconds'] / floor:6.1f}x {result['cpu']:7.2f} "
                  f"{result['cpu'] / floor_cpu:6.1f}x {result['peak_mib']:9.0f}")
        print(f"hits found: {results['screen']['count']}; load average {' '.join(f'{n:.1f}' for n in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
