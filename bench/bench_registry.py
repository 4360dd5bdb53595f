"""Registry import benchmark: `yibao registry import` of a city's 名录库 against a bare bulk insert of the same rows.

Run: .venv/bin/python bench/bench_registry.py [--institutions N] [--inspectors N] [--conflicts N] [--xlsx]
                                              [--repeat N] [--no-postgres]

Generates 100,000 institutions, 5,000 inspectors and 20,000 conflict pairs as CSV (and the institutions as XLSX with
--xlsx), then on SQLite and on PostgreSQL (skipped, with the reason printed, when it does not answer):

- import: each file through the command line's own code (`yibao registry import KIND FILE --db URL`, in process),
  into a fresh bureau database, in the order a bureau imports them (conflicts name the other two);
- floor: in a second fresh database, the least an import must do: read the same file (csv / openpyxl, no checks),
  insert its rows and one history row each (the JSON `after` state) into the same tables, in one transaction, as the
  backend bulk-inserts best (DBAPI executemany on SQLite, COPY on PostgreSQL).

Each step runs in a subprocess of its own, the command warmed up first (its modules loaded, the schema created); it
prints the time of the work alone (wall clock, and this process's CPU seconds: steadier when other work shares the
machine, though on PostgreSQL the server's share is not in it), the peak resident memory during the work (VmHWM, reset
before it; else ru_maxrss) and that peak less the resident memory before it, and the ratios of time to the floor. With
--repeat N, the best of N runs into fresh databases.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, when run as a script
from tests.conftest import _fresh_pg_schema_url, _postgres_unavailable_reason  # noqa: E402

REGIONS = ("350102", "350103", "350104", "350105", "350111", "350121", "350122", "350181")
KIND_NAMES = {"hospital": "二级及以上医院", "primary": "基层医疗机构", "private": "社会办医疗机构",
              "pharmacy": "定点零售药店"}
HEADERS = {
    "institutions": ["机构编码", "机构名称", "机构类别", "区划代码", "统一社会信用代码", "地址", "风险分", "上次检查日期"],
    "inspectors": ["人员编号", "姓名", "执法证号", "区划代码"],
    "conflicts": ["人员编号", "机构编码", "原因"],
}
TARGET = 2.0


# ---- the files -----------------------------------------------------------------------------------------------------


def generate(root: Path, institutions: int, inspectors: int, conflicts: int, xlsx: bool) -> dict[str, Path]:
    from bureau.registry import credit_code_check_char

    rng = random.Random(14)
    institution_rows, codes = [], []
    for n in range(institutions):
        kind = rng.choices(list(KIND_NAMES), weights=(5, 30, 25, 40))[0]
        region = rng.choice(REGIONS)
        code = f"{'P' if kind == 'pharmacy' else 'H'}{region}{n:05d}"
        credit = f"91350100{n:09d}"
        last = date(2021 + rng.randrange(5), 1 + rng.randrange(12), 1 + rng.randrange(28)).isoformat()
        institution_rows.append([code, f"福州市{region}第{n}号定点机构", KIND_NAMES[kind], region,
                                 credit + credit_code_check_char(credit), f"福州市某路 {n} 号",
                                 str(rng.randint(0, 100)) if rng.random() < 0.8 else "",
                                 last if rng.random() < 0.7 else ""])
        codes.append(code)
    people = [f"I{n:05d}" for n in range(inspectors)]
    inspector_rows = [[code, f"检查员{code}", f"闽榕医保执 {code}", rng.choice(REGIONS)] for code in people]
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < conflicts:
        pairs.add((rng.choice(people), rng.choice(codes)))
    conflict_rows = [[a, b, "近亲属在该机构任职"] for a, b in sorted(pairs)]
    files = {}
    for kind, rows in (("institutions", institution_rows), ("inspectors", inspector_rows),
                       ("conflicts", conflict_rows)):
        path = root / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(HEADERS[kind])
            writer.writerows(rows)
        files[kind] = path
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(HEADERS["institutions"])
        for row in institution_rows:
            sheet.append(row)
        files["institutions.xlsx"] = root / "institutions.xlsx"
        book.save(files["institutions.xlsx"])
    return files


# ---- the children: one step each, measured in its own process -----------------------------------------------------


def _rss_mib() -> float:
    """This process's resident memory now (from /proc), in MiB."""
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    """Start the peak resident memory afresh (Linux: VmHWM), so that the peak is the step's and not the warm-up's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # then the peak is the process's (ru_maxrss)


def _peak_mib() -> float:
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_up(runner: Any, app: Any, root: Path) -> None:
    """Load what the command loads on first use (its modules, the drivers, openpyxl) by importing one row into a
    throwaway database, so that the step measures the import and not Python's imports."""
    import openpyxl  # noqa: F401
    import psycopg  # noqa: F401

    tiny = root / "inspectors.csv"
    tiny.write_text("人员编号,姓名,执法证号,区划代码\nI1,检查员,证 1,350102\n", encoding="utf-8")
    runner.invoke(app, ["registry", "import", "inspectors", str(tiny), "--db", f"sqlite:///{root / 'warm.db'}",
                        "--data", str(root / "data")], catch_exceptions=False)


def child_import(kind: str, path: Path, url: str, data_dir: Path) -> dict[str, Any]:
    from typer.testing import CliRunner

    from bureau.service import open_bureau
    from bureau.settings import resolve_settings
    from yibao.cli import app

    runner = CliRunner()
    _warm_up(runner, app, Path(tempfile.mkdtemp(prefix="warm-", dir=data_dir.parent)))
    open_bureau(resolve_settings(url, str(data_dir))).engine.dispose()  # the schema is there, as for the floor
    _reset_peak()
    before = _rss_mib()
    start, start_cpu = time.perf_counter(), time.process_time()
    result = runner.invoke(app, ["registry", "import", kind, str(path), "--db", url, "--data", str(data_dir)],
                           catch_exceptions=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if result.exit_code != 0:
        raise SystemExit(f"yibao registry import {kind} {path.name} exited {result.exit_code}:\n{result.output}")
    report = json.loads(result.stdout)
    return {"seconds": seconds, "cpu": cpu, "peak": _peak_mib(), "before": before, "rows": report["rows"],
            "created": report["created"]}


def _file_rows(path: Path) -> Iterator[list[str]]:
    """The file's data rows, no checks (the header is the first row)."""
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        next(rows)
        for values in rows:
            yield ["" if v is None else str(v) for v in values]
        book.close()
        return
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        next(reader)
        yield from reader


def _floor_rows(kind: str, path: Path, now: datetime) -> tuple[str, list[str], list[tuple], list[tuple]]:
    """The table, its columns, its rows and their history rows (import_id, kind, code, change, after JSON)."""
    kinds = {name: kind_id for kind_id, name in KIND_NAMES.items()}
    rows: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    if kind == "institutions":
        for code, name, kind_name, region, credit, address, risk, last in _file_rows(path):
            values = (code, name, kinds[kind_name], region, credit, address, int(risk) if risk else None,
                      date.fromisoformat(last) if last else None)
            rows.append((*values, True, now))
            after = dict(zip(("name", "kind", "region", "credit_code", "address", "risk_score", "last_inspected"),
                             (*values[1:7], last or None), strict=True))
            history.append((1, kind, code, "created", json.dumps({**after, "active": True})))
        return "institution", ["code", "name", "kind", "region", "credit_code", "address", "risk_score",
                               "last_inspected", "active", "updated_at"], rows, history
    if kind == "inspectors":
        for code, name, badge, region in _file_rows(path):
            rows.append((code, name, badge, region, True, now))
            after = {"name": name, "badge_no": badge, "region": region, "active": True}
            history.append((1, kind, code, "created", json.dumps(after)))
        return "inspector", ["code", "name", "badge_no", "region", "active", "updated_at"], rows, history
    for inspector, institution, reason in _file_rows(path):
        rows.append((inspector, institution, reason, True))
        history.append((1, kind, f"{inspector}/{institution}", "created", json.dumps({"reason": reason,
                                                                                      "active": True})))
    return "conflict", ["inspector_code", "institution_code", "reason", "active"], rows, history


def child_floor(kind: str, path: Path, url: str) -> dict[str, Any]:
    import openpyxl  # noqa: F401

    from bureau.db import create_schema, make_engine

    engine = make_engine(url)
    create_schema(engine)
    now = datetime.now(timezone.utc)
    history_columns = ["import_id", "kind", "code", "change", "after"]
    _reset_peak()
    before = _rss_mib()
    start, start_cpu = time.perf_counter(), time.process_time()
    table, columns, rows, history = _floor_rows(kind, path, now)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, names, values in ((table, columns, rows), ("registrychange", history_columns, history)):
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY {name} ({', '.join(names)}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
            else:
                marks = ", ".join("?" * len(names))
                cursor.executemany(f"INSERT INTO {name} ({', '.join(names)}) VALUES ({marks})", values)
        raw.commit()
    finally:
        raw.close()
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    engine.dispose()
    return {"seconds": seconds, "cpu": cpu, "peak": _peak_mib(), "before": before, "rows": len(rows), "created": len(rows)}


# ---- the parent ------------------------------------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def backend_section(label: str, files: dict[str, Path], databases: Callable[[], Iterator[tuple[str, str]]],
                    data_dir: Path, repeat: int) -> None:
    """Each file imported and floored `repeat` times, into fresh databases each time; the best times are printed
    (and the highest peaks)."""
    runs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {name: [] for name in files}
    for _ in range(repeat):
        with contextmanager(databases)() as (import_url, floor_url):
            for name, path in files.items():
                kind = name.split(".")[0]
                imported = run_child("import", kind, str(path), import_url, str(data_dir))
                floor = run_child("floor", kind, str(path), floor_url, str(data_dir))
                assert imported["rows"] == imported["created"] == floor["rows"], (imported, floor)
                runs[name].append((imported, floor))
    print(f"\n{label}, best of {repeat}")
    print(f"{'':<32} {'import':>9} {'floor':>9} {'ratio':>7}   {'cpu':>7} {'floor':>7} {'ratio':>6}   "
          f"{'peak MiB (+work)':>18} {'floor peak (+work)':>20}")
    for name, path in files.items():
        imported = min((run[0] for run in runs[name]), key=lambda step: step["seconds"])
        floor = min((run[1] for run in runs[name]), key=lambda step: step["seconds"])
        peak = max(runs[name], key=lambda run: run[0]["peak"] - run[0]["before"])[0]
        floor_peak = max(runs[name], key=lambda run: run[1]["peak"] - run[1]["before"])[1]
        ratio = imported["seconds"] / floor["seconds"]
        cpu = min(run[0]["cpu"] for run in runs[name]), min(run[1]["cpu"] for run in runs[name])
        mark = "ok" if ratio <= TARGET else f"> {TARGET:g}x"
        what = f"{name.split('.')[0]} {path.suffix[1:]} ({floor['rows']:,} rows)"
        print(f"{what:<32} {imported['seconds']:8.2f}s {floor['seconds']:8.2f}s {ratio:6.2f}x   "
              f"{cpu[0]:6.2f}s {cpu[1]:6.2f}s {cpu[0] / cpu[1]:5.2f}x   "
              f"{peak['peak']:7.0f} ({peak['peak'] - peak['before']:+5.0f})"
              f"  {floor_peak['peak']:9.0f} ({floor_peak['peak'] - floor_peak['before']:+5.0f})   {mark}")


def sqlite_section(root: Path, files: dict[str, Path], formats: set[str], repeat: int) -> None:
    for fmt in sorted(formats):
        base = root / f"sqlite-{fmt}"
        base.mkdir()
        databases = functools.partial(_sqlite_databases, base, itertools.count())
        backend_section(f"SQLite ({fmt})", _in_order(files, fmt), databases, base / "data", repeat)


def _sqlite_databases(base: Path, numbers: Iterator[int]) -> Iterator[tuple[str, str]]:
    n = next(numbers)
    yield f"sqlite:///{base / f'import-{n}.db'}", f"sqlite:///{base / f'floor-{n}.db'}"


def postgres_section(root: Path, files: dict[str, Path], formats: set[str], repeat: int) -> None:
    def databases() -> Iterator[tuple[str, str]]:
        imports, floors = _fresh_pg_schema_url(), _fresh_pg_schema_url()
        try:
            yield next(imports), next(floors)
        finally:
            for urls in (imports, floors):
                next(urls, None)  # drops the schema

    for fmt in sorted(formats):
        (root / f"pg-{fmt}").mkdir()
        backend_section(f"PostgreSQL ({fmt})", _in_order(files, fmt), databases, root / f"pg-{fmt}" / "data", repeat)


def _in_order(files: dict[str, Path], fmt: str) -> dict[str, Path]:
    """The files of one format, with what conflicts need before them (the XLSX run imports the CSV people)."""
    if fmt == "csv":
        return {name: path for name, path in files.items() if path.suffix == ".csv"}
    return {"institutions.xlsx": files["institutions.xlsx"], "inspectors": files["inspectors"],
            "conflicts": files["conflicts"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--institutions", type=int, default=100_000)
    parser.add_argument("--inspectors", type=int, default=5_000)
    parser.add_argument("--conflicts", type=int, default=20_000)
    parser.add_argument("--xlsx", action="store_true", help="also import the institutions as XLSX")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs, each into fresh databases")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, kind, path, url, data_dir = args.child
        result = (child_import(kind, Path(path), url, Path(data_dir)) if step == "import"
                  else child_floor(kind, Path(path), url))
        print(json.dumps(result))
        return
    formats = {"csv", "xlsx"} if args.xlsx else {"csv"}
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        files = generate(root, args.institutions, args.inspectors, args.conflicts, args.xlsx)
        sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in files.values())
        print(f"files: {sizes} (generated in {time.perf_counter() - start:.1f} s); target: import <= {TARGET:g}x floor")
        sqlite_section(root, files, formats, args.repeat)
        reason = "--no-postgres" if args.no_postgres else _postgres_unavailable_reason()
        if reason:
            print(f"\nPostgreSQL skipped: {reason}")
        else:
            postgres_section(root, files, formats, args.repeat)


if __name__ == "__main__":
    main()
