"""Benchmark of the 双随机 draw at city-wide scale: 100,000 institutions, 5,000 inspectors, 20,000 conflict pairs, 5 %.

Three sections, each timed against a floor measured in the same run:

(a) canonical hashing: `sync.canonical.content_hash` of the registry snapshot against a bare
    `json.dumps(sort_keys=True, ensure_ascii=False)` + SHA-256 of the same value (no checks), and against the
    content hash as it was before issue #14 (a recursive type check of every node, then the encoding): goal 3x faster.
(b) the pure draw: `run_draw` and `verify_transcript` against hashing the registry snapshot once.
(c) the command line, in process on a SQLite bureau holding that registry: `yibao draw run` (issuing the signed
    assignments) and `yibao draw verify`, each against the same work done bare in the same run — the same queries,
    the same selection (`bureau.draw`'s own picking), one Ed25519 signature per assignment and bulk inserts, the
    transcript encoded once (written and hashed) and stored; for verify, the file parsed, the registry hashed once,
    the selection redone and compared, the transcript hashed. Start-up of the `yibao` process (imports) is measured
    apart, in a subprocess. Goal: run + verify under 2 s and within 1.5x of the floor.

Each line gives wall-clock seconds and this process's CPU seconds (steadier when other work shares the machine).

    .venv/bin/python bench/bench_draw.py [--institutions N] [--inspectors N] [--conflicts N] [--ratio 0.05]
                                         [--repeat 3] [--skip-cli]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bureau import keystore
from bureau.db import make_engine
from bureau.draw import Selector, _draw_institutions, _draw_teams, key_string, run_draw, verify_transcript
from bureau.models import Assignment, AssignmentMember, Conflict, DrawRecord, Inspector, Institution, RectificationOrder
from bureau.settings import BureauSettings
from sync.canonical import content_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, when run as a script
from tests.support import PASSPHRASE, init_bureau  # noqa: E402
from yibao.cli import app as yibao_app  # noqa: E402

KINDS = ("hospital", "primary", "private", "pharmacy")
REGIONS = ("350102", "350103", "350104", "350105", "350111", "350121", "350122", "350181")
PUBLIC_RANDOM = ["03 07 12 19 25 33 09", "3421.57", "18 22 31"]


def synthetic_snapshot(institutions: int, inspectors: int, conflicts: int, seed: int = 7) -> dict[str, list]:
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    for n in range(institutions):
        kind = rng.choices(KINDS, weights=(5, 30, 25, 40))[0]
        prefix = "P" if kind == "pharmacy" else "H"
        rows.append([f"{prefix}{rng.choice(REGIONS)}{n:05d}"[:12], kind, rng.choice(REGIONS), rng.randint(0, 100)])
    rows = sorted({row[0]: row for row in rows}.values())
    people = [[f"I{n:05d}", rng.choice(REGIONS)] for n in range(inspectors)]
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < conflicts:
        pairs.add((rng.choice(people)[0], str(rng.choice(rows)[0])))
    return {
        "institutions": rows,
        "inspectors": people,
        "conflicts": [[a, b, "利益冲突"] for a, b in sorted(pairs)],
        "followups": sorted(rng.sample([row[0] for row in rows], 50)),
    }


class Timing(NamedTuple):
    """Best of the repeats: wall-clock seconds, and this process's CPU seconds (steadier on a shared machine)."""

    wall: float
    cpu: float


def best_of(repeat: int, action: Callable[[], Any], before: Callable[[], Any] | None = None) -> tuple[Timing, Any]:
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = action()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return Timing(wall, cpu), result


def line(label: str, timing: Timing, floor: Timing | None = None) -> str:
    if floor is None:
        return f"{label:<44} {timing.wall:7.3f} s wall {timing.cpu:7.3f} s cpu"
    return (f"{label:<44} {timing.wall:7.3f} s wall {timing.cpu:7.3f} s cpu   {timing.wall / floor.wall:5.2f}x floor wall "
            f"{timing.cpu / floor.cpu:5.2f}x floor cpu")


def bare_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# ---- (a) canonical hashing ---------------------------------------------------------------------------------------


def _old_check(value: Any, path: str) -> None:
    """`sync.canonical`'s check before issue #14, node by node (kept here as the reference it is measured against)."""
    if value is None or isinstance(value, (str, int)):
        return
    if isinstance(value, float):
        raise TypeError(f"float at {path}: use a decimal string (money) or an integer")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"non-string key {key!r} at {path}")
            _old_check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _old_check(item, f"{path}[{index}]")
        return
    raise TypeError(f"{type(value).__name__} at {path} is not canonical JSON")


def old_content_hash(value: Any) -> str:
    """The content hash before issue #14: the recursive check, then the encoding."""
    _old_check(value, "$")
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_section(snapshot: dict[str, list], repeat: int) -> None:
    floor, bare = best_of(repeat, lambda: hashlib.sha256(bare_bytes(snapshot)).hexdigest())
    old_s, old = best_of(repeat, lambda: old_content_hash(snapshot))
    hashed_s, hashed = best_of(repeat, lambda: content_hash(snapshot))
    assert hashed == bare == old
    print("(a) canonical hash of the registry snapshot")
    print(line("floor  json.dumps + SHA-256, no checks", floor))
    print(line("before #14: recursive check + encoding", old_s, floor))
    print(line("content_hash (checked)", hashed_s, floor))
    print(f"{'content_hash faster than before #14 by':<44} {old_s.wall / hashed_s.wall:7.2f}x wall "
          f"{old_s.cpu / hashed_s.cpu:7.2f}x cpu   (goal: at least 3x)")


# ---- (b) the pure draw -------------------------------------------------------------------------------------------


def pure_section(snapshot: dict[str, list], plan: dict[str, Any], repeat: int) -> None:
    floor, _ = best_of(repeat, lambda: content_hash(snapshot))
    draw_s, transcript = best_of(repeat, lambda: run_draw(plan, snapshot))
    weighted_s, _ = best_of(repeat, lambda: run_draw({**plan, "risk_weighted": True}, snapshot))
    text = json.dumps(transcript, ensure_ascii=False, separators=(",", ":"))
    parse_s, loaded = best_of(repeat, lambda: json.loads(text))
    verify_s, differences = best_of(repeat, lambda: verify_transcript(loaded))
    assert differences == [], differences
    print(f"(b) the pure draw: selected {len(transcript['selected'])} institutions in {len(transcript['steps'])} "
          f"selection steps; transcript {len(text) / 1e6:.1f} MB")
    print(line("floor  hash registry once", floor))
    print(line("draw   uniform", draw_s, floor))
    print(line("draw   risk weighted", weighted_s, floor))
    print(line("verify (transcript as loaded)", verify_s, floor))
    print(line("parse  transcript JSON", parse_s, floor))


# ---- (c) the command line ----------------------------------------------------------------------------------------


def build_bureau(root: Path, snapshot: dict[str, list]) -> BureauSettings:
    settings = BureauSettings(root / "bureau", f"sqlite:///{root / 'bureau' / 'bureau.db'}")
    init_bureau(settings)
    engine = make_engine(settings.database_url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(insert(Institution), [
            {"code": code, "name": f"机构{code}", "kind": kind, "region": region, "credit_code": "91350100M000100Y43",
             "address": "", "risk_score": risk, "active": True, "updated_at": now}
            for code, kind, region, risk in snapshot["institutions"]])
        conn.execute(insert(Inspector), [
            {"code": code, "name": f"检查员{code}", "badge_no": f"闽榕医保执 {code}", "region": region, "active": True,
             "updated_at": now} for code, region in snapshot["inspectors"]])
        conn.execute(insert(Conflict), [
            {"inspector_code": a, "institution_code": b, "reason": reason, "active": True}
            for a, b, reason in snapshot["conflicts"]])
        conn.execute(insert(RectificationOrder), [  # open orders: the 回头看 follow-ups
            {"institution_code": code, "ordered_at": now.date(), "note": ""} for code in snapshot["followups"]])
    engine.dispose()
    return settings


def clear_draws(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (AssignmentMember, Assignment, DrawRecord):
            conn.execute(delete(table))


def cli(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(yibao_app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def read_snapshot(conn: Any) -> dict[str, list]:
    institutions = sorted(list(row) for row in conn.exec_driver_sql(
        "SELECT code, kind, region, risk_score FROM institution WHERE active"))
    inspectors = sorted(list(row) for row in conn.exec_driver_sql("SELECT code, region FROM inspector WHERE active"))
    active_institutions = {row[0] for row in institutions}
    active_inspectors = {row[0] for row in inspectors}
    conflicts = sorted(list(row) for row in conn.exec_driver_sql(
        "SELECT inspector_code, institution_code, reason FROM conflict WHERE active")
        if row[0] in active_inspectors and row[1] in active_institutions)
    followups = sorted({code for (code,) in conn.exec_driver_sql(
        "SELECT institution_code FROM rectificationorder WHERE closed_at IS NULL") if code in active_institutions})
    return {"institutions": institutions, "inspectors": inspectors, "conflicts": conflicts, "followups": followups}


def bare_selection(plan: dict[str, Any], snapshot: dict[str, list]) -> tuple[list, list]:
    selector = Selector(key_string(plan["public_random"]))
    _, selected = _draw_institutions(plan, snapshot, selector)
    _draw_teams(plan, snapshot, selector, selected)
    return selected, selector.steps


def bare_run(engine: Engine, settings: BureauSettings, plan: dict[str, Any], out: Path) -> int:
    """The least an issuing draw does: read, hash the registry once, select, encode the transcript once (written and
    hashed), sign, bulk insert, commit."""
    key = keystore.open_signing_key(settings, PASSPHRASE.encode())
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        snapshot = read_snapshot(conn)
        registry_hash = hashlib.sha256(bare_bytes(snapshot)).hexdigest()
        selected, steps = bare_selection(plan, snapshot)
        transcript = {"plan": plan, "registry": {"hash": registry_hash, **snapshot}, "steps": steps,
                      "selected": selected}
        data = bare_bytes(transcript)  # one encoding, written and hashed
        transcript_hash = hashlib.sha256(data).hexdigest()
        out.write_bytes(data + b"\n")
        people = {code: {"inspector_code": code, "name": name, "badge_no": badge_no}
                  for code, name, badge_no in conn.exec_driver_sql("SELECT code, name, badge_no FROM inspector")}
        assignments: list[dict[str, Any]] = []
        members: list[dict[str, str]] = []
        for seq, item in enumerate(selected, start=1):
            content = {"id": str(uuid.uuid4()), "plan_id": plan["plan_id"], "institution_code": item["institution"],
                       "team": item["team"], "reason": item["reason"], "issued_at": now.isoformat(), "due_date": None,
                       "revoked": False, "members": [people[code] for code in item["team"]]}
            signature = base64.b64encode(key.sign(b"domain\n" + bare_bytes(content))).decode()
            assignments.append({**content, "issued_at": now, "status": "已下达", "revoked_at": None, "revoked_by": "",
                                "revoked_reason": "", "seq": seq, "signature": signature})
            members.extend({"assignment_id": content["id"], "inspector_code": code} for code in item["team"])
        conn.execute(insert(Assignment), assignments)
        conn.execute(insert(AssignmentMember), members)
        conn.execute(insert(DrawRecord), [{"plan_id": plan["plan_id"], "transcript_hash": transcript_hash,
                                                     "selected": len(selected), "transcript": transcript,
                                                     "drawn_at": now}])
    return len(selected)


def bare_verify(path: Path) -> bool:
    """The least a verification does: parse, hash the registry once, redo the selection, compare, hash the whole."""
    transcript = json.loads(path.read_bytes())
    registry = transcript["registry"]
    snapshot = {part: registry[part] for part in ("institutions", "inspectors", "conflicts", "followups")}
    hashlib.sha256(bare_bytes(snapshot)).hexdigest()
    selected, steps = bare_selection(transcript["plan"], snapshot)
    hashlib.sha256(bare_bytes({k: v for k, v in transcript.items() if k != "drawn_at"})).hexdigest()
    return selected == transcript["selected"] and steps == transcript["steps"]


def startup(repeat: int) -> Timing:
    """A fresh `yibao draw --help` process (wall), apart from the work; its CPU is the child's, not counted here."""
    command = [sys.executable, "-m", "yibao", "draw", "--help"]
    return best_of(repeat, lambda: subprocess.run(command, check=True, capture_output=True))[0]


def cli_section(snapshot: dict[str, list], plan: dict[str, Any], repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        settings = build_bureau(root, snapshot)
        build_s = time.perf_counter() - start
        os.environ[keystore.PASSPHRASE_ENV] = PASSPHRASE
        engine = make_engine(settings.database_url)
        runner = CliRunner()
        where = ["--db", settings.database_url, "--data", str(settings.data_dir)]
        plan_file, transcript = root / "plan.json", root / "t.json"
        plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
        cli(runner, "draw", "commit", str(plan_file), *where)

        floor_run_s, issued = best_of(repeat, lambda: bare_run(engine, settings, plan, root / "bare.json"),
                                      before=lambda: clear_draws(engine))
        floor_verify_s, same = best_of(repeat, lambda: bare_verify(root / "bare.json"))
        assert same
        run_s, out = best_of(repeat, lambda: cli(runner, "draw", "run", str(plan_file), "--out", str(transcript),
                                                 *where), before=lambda: clear_draws(engine))
        summary = json.loads(out)
        assert summary["assignments_issued"] == issued, (summary, issued)
        verify_s, out = best_of(repeat, lambda: cli(runner, "draw", "verify", str(transcript)))
        assert json.loads(out)["valid"] is True
        engine.dispose()
        size = transcript.stat().st_size
    floor = Timing(floor_run_s.wall + floor_verify_s.wall, floor_run_s.cpu + floor_verify_s.cpu)
    both = Timing(run_s.wall + verify_s.wall, run_s.cpu + verify_s.cpu)
    print(f"(c) the command line on SQLite (registry built in {build_s:.1f} s): {issued} assignments issued, "
          f"transcript {size / 1e6:.1f} MB")
    print(line("floor  run, bare", floor_run_s))
    print(line("yibao draw run (issuing)", run_s, floor_run_s))
    print(line("floor  verify, bare", floor_verify_s))
    print(line("yibao draw verify", verify_s, floor_verify_s))
    print(line("floor  run + verify, bare", floor))
    print(line("yibao draw run + verify", both, floor))
    print(f"{'start-up of `yibao draw --help` (apart)':<44} {startup(repeat).wall:7.3f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--institutions", type=int, default=100_000)
    parser.add_argument("--inspectors", type=int, default=5_000)
    parser.add_argument("--conflicts", type=int, default=20_000)
    parser.add_argument("--ratio", default="0.05")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cli", action="store_true", help="only the in-memory sections (a) and (b)")
    args = parser.parse_args()

    snapshot = synthetic_snapshot(args.institutions, args.inspectors, args.conflicts)
    plan = {
        "plan_id": "bench", "strata": [{"kind": kind, "ratio": args.ratio} for kind in KINDS],
        "team_size": 2, "max_assignments_per_inspector": 4, "risk_weighted": False, "include_followups": True,
        "public_random": PUBLIC_RANDOM,
    }
    print(f"registry: {len(snapshot['institutions'])} institutions, {len(snapshot['inspectors'])} inspectors, "
          f"{len(snapshot['conflicts'])} conflicts; ratio {args.ratio}")
    canonical_section(snapshot, args.repeat)
    pure_section(snapshot, plan, args.repeat)
    if not args.skip_cli:
        cli_section(snapshot, plan, args.repeat)


if __name__ == "__main__":
    main()
