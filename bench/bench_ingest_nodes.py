"""Bureau ingest throughput with 1, 2 and 4 server processes on one PostgreSQL database (issue #13).

Run: .venv/bin/python bench/bench_ingest_nodes.py [--records 400] [--threads 24] [--nodes 1,2,4] [--repeat 3]
     [--workers]

For each N: a fresh schema and a fresh data directory, a bureau initialised and seeded as the tests do, one enrolled
tablet per client thread, `--records` sealed, doubly signed records prepared in process (as bench_sync.py does),
then N `yibao serve` processes on that one database and data directory (or, with --workers, one `yibao serve
--workers N`). The client threads send the records through the real HTTP API (`PUT /v1/records/{id}`, signed by the
tablet's key, `inspector_app.bureau_client.BureauClient`), each record to the next server in turn. Printed: records/s
for each N and its ratio to N=1, against a floor measured in the same run: a bare INSERT of the same sealed bytes
plus their SHA-256, committed per record, from the same number of threads on the same database; and the checks the
bureau must make of each record (decrypt, signatures, schema, score) alone in one process, with no database or HTTP,
which bound what one node can do; and, on the same servers, as many signed requests that do little more than
authenticate (`GET /v1/log/consistency?first=1&second=1`): what HTTP and the request's signature, key and nonce cost
a node before any record is looked at. Afterwards every record must be stored exactly once (rows counted) and
`yibao bureau verify-log` must exit 0. Last, not timed: the SQL statements and commits one node spends per record
(the app in this process, every statement its engine runs counted, the request's authentication included).

Each server first takes a few warm-up records (not timed, counted in the check). The rounds (--repeat) run the Ns
interleaved, each from scratch; the summary gives the median. The machine's cores bound what more
processes can give: the numbers are what was measured, nothing more.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Column, MetaData, String, Table, Text, create_engine, event, func, insert, text
from sqlmodel import Session, col, select

import checklists
from bureau import enrollment, keystore
from bureau.api import create_app
from bureau.db import make_engine
from bureau.models import Assignment, DeviceKey, LogLeaf, ReceivedRecord
from bureau.settings import BureauSettings
from checklists import scoring
from inspector_app.bureau_client import BureauClient
from sync import keys, record_schema
from sync.canonical import canonical_bytes, content_hash
from sync.envelope import KnownSigner, build_record, open_envelope, seal_record, sign_record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' helpers, when run as a script
from tests.conftest import PG_ADMIN_URL, _postgres_unavailable_reason  # noqa: E402
from tests.support import (  # noqa: E402
    PASSPHRASE,
    YIBAO,
    child_env,
    free_port,
    init_bureau,
    seed_small,
    server_log,
    stop,
    wait_for_http,
)
from tests.sync_support import record_fields  # noqa: E402

WARMUP_PER_SERVER = 2


class Schema:
    """A fresh PostgreSQL schema for one run, dropped at the end."""

    def __init__(self, tag: str):
        self.name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(PG_ADMIN_URL)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        self.url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


class Tablet:
    """One enrolled tablet: its device id, the request-signing key and key id of its first inspector."""

    def __init__(self, device_id: str, key: Ed25519PrivateKey, key_id: str):
        self.device_id, self.key, self.key_id = device_id, key, key_id


def prepare(settings: BureauSettings, tablets: int, count: int) -> tuple[list[Tablet], list[tuple[int, str, dict]]]:
    """`tablets` enrolled tablets (I0001 + I0002 on each) and `count` sealed, doubly signed records for the seeded
    assignments, record i from tablet i % tablets: (tablet index, record id, envelope)."""
    engine = make_engine(settings.database_url)
    bureau_keys = keystore.open_keys(settings, PASSPHRASE.encode())
    enrolled: list[Tablet] = []
    signers_of: list[list[tuple[str, Ed25519PrivateKey]]] = []
    with Session(engine) as session:
        for number in range(tablets):
            device_id = f"bench-tablet-{number:03d}"
            signers = [(code, keys.generate_signing_key()) for code in ("I0001", "I0002")]
            rows = []
            for code, key in signers:
                token = enrollment.issue_token(session, code, datetime.now(timezone.utc))
                rows.append(enrollment.enroll(session, token, device_id, keys.public_key_to_b64(key.public_key()),
                                              datetime.now(timezone.utc)))
            enrolled.append(Tablet(device_id, signers[0][1], rows[0].key_id))
            signers_of.append(signers)
        session.commit()
        assignments = [(a.id, a.institution_code, list(a.team))
                       for a in session.exec(select(Assignment).order_by(col(Assignment.seq))).all()]
    engine.dispose()
    out = []
    for number in range(count):
        assignment_id, institution_code, team = assignments[number % len(assignments)]
        kind = "pharmacy" if institution_code.startswith("P") else "primary"
        template = checklists.template_for_kind(kind)
        which = number % tablets
        record = build_record(record_fields(
            assignment_id, institution_code, kind, team, enrolled[which].device_id, "I0001",
            f"bench-{number:06d}", answers={item.id: {"result": "pass", "note": "现场核查无异常", "amount_yuan": None}
                                           for item in template.items}), [])
        record_hash = content_hash(record)
        envelope = seal_record(record, [sign_record(record_hash, key, code) for code, key in signers_of[which]],
                               bureau_keys.sealing.public_key())
        out.append((which, record["record_id"], envelope))
    return enrolled, out


def start_servers(settings: BureauSettings, nodes: int, workers_mode: bool) -> list[tuple[str, subprocess.Popen]]:
    """`nodes` `yibao serve` processes on one database and one data directory (or one with `--workers nodes`).
    Started one after another: each start writes and removes the same probe file `<data>/.write-probe`
    (bureau/service.py ensure_writable_data_dir), so processes starting at the same instant can fail on each other's
    probe ("数据目录不可写 … No such file or directory")."""
    plan = [["--workers", str(nodes)]] if workers_mode and nodes > 1 else [[] for _ in range(nodes)]
    started: list[tuple[str, subprocess.Popen]] = []
    try:
        for extra in plan:
            port = free_port()
            log = server_log(settings.data_dir.parent, f"node-{port}")
            with open(log, "ab") as out:
                proc = subprocess.Popen([*YIBAO, "serve", "--db", settings.database_url, "--data",
                                         str(settings.data_dir), "--port", str(port), *extra],
                                        env=child_env(), stdout=out, stderr=subprocess.STDOUT)
            started.append((f"http://127.0.0.1:{port}", proc))
            wait_for_http(f"http://127.0.0.1:{port}/v1/health", proc=proc, log=log)
    except BaseException:
        for _, proc in started:
            stop(proc)
        raise
    return started


def put_record(client: BureauClient, record_id: str, envelope: dict) -> None:
    if client.put_record(record_id, envelope).get("duplicate"):
        raise RuntimeError("answered as a duplicate")


def ask_log_head(client: BureauClient, _record_id: str, _envelope: dict) -> None:
    """A signed request that costs the node its authentication (key lookup, signature, nonce) and a little more:
    the consistency of the first tree head with itself (two tree heads read)."""
    client.log_consistency(1, 1)


def send_all(urls: list[str], tablets: list[Tablet], records: list[tuple[int, str, dict]], threads: int,
             first: int = 0, send: Callable[[BureauClient, str, dict], None] = put_record) -> tuple[float, list[str]]:
    """Send `records` from `threads` client threads; record k (numbered from `first`) goes to server k % N, from the
    thread of its tablet (`send`: the record itself, or another request in its place). Returns (seconds,
    problems)."""
    problems: list[str] = []
    lock = threading.Lock()
    by_thread: list[list[tuple[int, int, str, dict]]] = [[] for _ in range(threads)]
    for k, (which, record_id, envelope) in enumerate(records):
        by_thread[which % threads].append((first + k, which, record_id, envelope))
    barrier = threading.Barrier(threads + 1)

    def worker(mine: list[tuple[int, int, str, dict]]) -> None:
        clients: dict[tuple[int, str], BureauClient] = {}
        barrier.wait()
        for k, which, record_id, envelope in mine:
            url = urls[k % len(urls)]
            client = clients.get((which, url))
            if client is None:
                tablet = tablets[which]
                client = clients[(which, url)] = BureauClient(url, tablet.key, tablet.key_id, timeout=(10, 180))
            try:
                send(client, record_id, envelope)
            except Exception as exc:  # collected and printed: the run goes on
                with lock:
                    problems.append(f"{record_id} via {url}: {type(exc).__name__}: {exc}")

    pool = [threading.Thread(target=worker, args=(by_thread[t],)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start, problems


def check_stored(settings: BureauSettings, expected: int) -> tuple[bool, str]:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(func.count()).select_from(ReceivedRecord)).one()
            distinct = session.exec(select(func.count(func.distinct(ReceivedRecord.record_id)))).one()
            leaves = session.exec(select(func.count()).select_from(LogLeaf)).one()
    finally:
        engine.dispose()
    ok = rows == distinct == leaves == expected
    return ok, f"rows {rows}, distinct record ids {distinct}, log leaves {leaves}, expected {expected}"


def verify_log(settings: BureauSettings) -> tuple[int, str]:
    result = subprocess.run([*YIBAO, "bureau", "verify-log", "--json", "--db", settings.database_url, "--data",
                             str(settings.data_dir)], capture_output=True, text=True, env=child_env(), timeout=300)
    said = result.stdout.strip() or result.stderr.strip()
    try:
        said = json.dumps(json.loads(said), ensure_ascii=False)
    except ValueError:
        said = said[-500:]
    return result.returncode, said


def checks_rate(settings: BureauSettings, envelopes: list[tuple[int, str, dict]]) -> float:
    """The checks the bureau must make of every record, in this one process with no database and no HTTP: open the
    envelope (decrypt, both signatures), the record's schema, the score recomputed from the pinned template. One
    process is what one `yibao serve` has (these checks hold the GIL), so this bounds a node. Records/s."""
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        signers = {row.key_id: KnownSigner(Ed25519PublicKey.from_public_bytes(keys.b64decode_strict(row.public_key)),
                                           row.inspector_code) for row in session.exec(select(DeviceKey))}
    engine.dispose()
    sealing = keystore.open_keys(settings, PASSPHRASE.encode()).all_sealing
    start = time.perf_counter()
    for _, record_id, envelope in envelopes:
        record = open_envelope(envelope, sealing, signers.get, expected_record_id=record_id).record
        record_schema.check_record(record)
        template = checklists.resolve_template(f"{record['template_id']}@{record['template_hash']}")
        scoring.score(template, record["answers"])
    return len(envelopes) / (time.perf_counter() - start)


def floor_rate(envelopes: list[tuple[int, str, dict]], threads: int) -> float:
    """Bare INSERT of the same sealed bytes + their SHA-256, committed per record, from `threads` threads, on the
    same database (a schema of its own). Records/s."""
    schema = Schema("floor")
    try:
        engine = create_engine(schema.url, pool_size=threads, max_overflow=0)
        table = Table("bench_floor", MetaData(), Column("id", String(64), primary_key=True), Column("body", Text),
                      Column("sha256", String(64)))
        table.create(engine)
        texts = [(record_id, canonical_bytes(envelope).decode()) for _, record_id, envelope in envelopes]
        barrier = threading.Barrier(threads + 1)

        def worker(mine: list[tuple[str, str]]) -> None:
            barrier.wait()
            for record_id, body in mine:
                with engine.begin() as conn:
                    conn.execute(insert(table).values(id=record_id, body=body,
                                                      sha256=hashlib.sha256(body.encode()).hexdigest()))

        pool = [threading.Thread(target=worker, args=(texts[t::threads],)) for t in range(threads)]
        for thread in pool:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in pool:
            thread.join()
        seconds = time.perf_counter() - start
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM bench_floor")).scalar_one()
        engine.dispose()
        assert stored == len(texts), (stored, len(texts))
        return len(texts) / seconds
    finally:
        schema.drop()


def statements_per_record(root: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(SQL statements, commits) per record of one node: the app in this process (uvicorn in a thread) on a fresh
    schema, `--records` records sent from `--threads` threads after the warm-up, every statement and commit of its
    engine counted through SQLAlchemy's events. Not timed."""
    schema = Schema("statements")
    try:
        settings = BureauSettings(root / "statements" / "bureau", schema.url)
        init_bureau(settings)
        seed_small(settings)
        tablets, envelopes = prepare(settings, args.threads, WARMUP_PER_SERVER + args.records)
        engine = make_engine(settings.database_url)
        statements, commits = itertools.count(), itertools.count()  # next() is atomic: threads count safely
        event.listen(engine, "before_cursor_execute", lambda *_: next(statements))
        event.listen(engine, "commit", lambda *_: next(commits))
        app = create_app(settings, engine, keystore.open_keys(settings, PASSPHRASE.encode()))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            urls = [f"http://127.0.0.1:{port}"]
            wait_for_http(f"{urls[0]}/v1/health")
            send_all(urls, tablets, envelopes[:WARMUP_PER_SERVER], WARMUP_PER_SERVER)
            before = next(statements), next(commits)
            _, problems = send_all(urls, tablets, envelopes[WARMUP_PER_SERVER:], args.threads)
            after = next(statements), next(commits)
        finally:
            server.should_exit = True
            thread.join()
            engine.dispose()
        if problems:
            raise RuntimeError(f"counting statements: {len(problems)} sends failed, the first: {problems[0]}")
        return (after[0] - before[0] - 1) / args.records, (after[1] - before[1] - 1) / args.records
    finally:
        schema.drop()


def run_once(root: Path, nodes: int, args: argparse.Namespace
             ) -> tuple[float, bool, list[tuple[int, str, dict]], float, float]:
    """One N: fresh schema, fresh data dir, fresh records. Returns (records/s, all checks passed, timed records,
    the checks' records/s on those records, signed requests/s that only authenticate)."""
    schema = Schema(f"n{nodes}")
    try:
        settings = BureauSettings(root / f"n{nodes}" / "bureau", schema.url)
        init_bureau(settings)
        seed_small(settings)
        warmup = WARMUP_PER_SERVER * nodes
        started = time.perf_counter()
        tablets, envelopes = prepare(settings, args.threads, warmup + args.records)
        prepared_s = time.perf_counter() - started
        checks = checks_rate(settings, envelopes[warmup:])
        started = time.perf_counter()
        servers = start_servers(settings, nodes, args.workers)
        try:
            boot_s = time.perf_counter() - started
            urls = [url for url, _ in servers]
            _, warm_problems = send_all(urls, tablets, envelopes[:warmup], min(args.threads, warmup))
            seconds, problems = send_all(urls, tablets, envelopes[warmup:], args.threads, first=warmup)
            asked_s, ask_problems = send_all(urls, tablets, envelopes[warmup:], args.threads, send=ask_log_head)
            problems += ask_problems
        finally:
            for _, proc in servers:
                stop(proc)
        problems = warm_problems + problems
        rate = args.records / seconds
        how = f"1 serve --workers {nodes}" if args.workers and nodes > 1 else f"{nodes} serve process(es)"
        print(f"N={nodes} ({how}): {args.records} records from {args.threads} threads in {seconds:.2f} s = "
              f"{rate:.1f} records/s  [prepared in {prepared_s:.1f} s, servers up in {boot_s:.1f} s, "
              f"{warmup} warm-up records]", flush=True)
        print(f"    the same number of signed requests that only authenticate (GET /v1/log/consistency?first=1&"
              f"second=1): {args.records / asked_s:.1f} requests/s", flush=True)
        for problem in problems[:5]:
            print(f"    refused/failed: {problem}")
        if problems:
            print(f"    {len(problems)} sends failed in all")
        stored_ok, stored = check_stored(settings, warmup + args.records)
        code, said = verify_log(settings)
        print(f"    stored exactly once: {'yes' if stored_ok else 'NO'} ({stored})")
        print(f"    yibao bureau verify-log: exit {code}: {said}", flush=True)
    finally:
        schema.drop()
    return rate, stored_ok and code == 0 and not problems, envelopes[warmup:], checks, args.records / asked_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400, help="timed records per N (default 400)")
    parser.add_argument("--threads", type=int, default=24, help="client threads, one tablet each (default 24)")
    parser.add_argument("--nodes", default="1,2,4", help="server counts to measure (default 1,2,4)")
    parser.add_argument("--workers", action="store_true",
                        help="one `yibao serve --workers N` instead of N separate `yibao serve` processes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over all N, each fresh (default 3)")
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    reason = _postgres_unavailable_reason()
    if reason:
        print(f"bench_ingest_nodes: skipped ({reason})")
        return
    os.environ.setdefault(keystore.PASSPHRASE_ENV, PASSPHRASE)
    print(f"PostgreSQL {PG_ADMIN_URL}; {os.cpu_count()} CPU cores; {args.records} records, {args.threads} client "
          f"threads per N", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-nodes-"))
    rates: dict[int, list[float]] = {nodes: [] for nodes in counts}
    floors: list[float] = []
    checks: list[float] = []
    signed: dict[int, list[float]] = {nodes: [] for nodes in counts}
    all_ok = True
    started = time.perf_counter()
    try:
        for round_no in range(1, args.repeat + 1):  # the Ns interleaved: a drift in machine load hits each alike
            if args.repeat > 1:
                print(f"round {round_no} of {args.repeat}:", flush=True)
            kept: list[tuple[int, str, dict]] = []
            for nodes in counts:
                rate, ok, envelopes, checked, asked = run_once(root / f"round{round_no}", nodes, args)
                checks.append(checked)
                signed[nodes].append(asked)
                rates[nodes].append(rate)
                all_ok = all_ok and ok
                kept = kept or envelopes
            floors.append(floor_rate(kept, args.threads))
            print(f"floor (bare INSERT of the same sealed bytes + SHA-256, committed per record, {args.threads} "
                  f"threads): {floors[-1]:.1f} records/s", flush=True)
        per_record, commits = statements_per_record(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base_n = 1 if 1 in rates else counts[0]
    base = statistics.median(rates[base_n])
    floor = statistics.median(floors)
    ceiling = statistics.median(checks)
    print(f"summary (median of {args.repeat} round(s); floor {floor:.1f} records/s; the checks alone in one process "
          f"{ceiling:.1f} records/s):")
    for nodes, measured in rates.items():
        rate = statistics.median(measured)
        each = ", ".join(f"{r:.1f}" for r in measured)
        bound = statistics.median(signed[nodes])
        print(f"  N={nodes}: {rate:7.1f} records/s  x{rate / base:.2f} vs N={base_n}  floor/rate {floor / rate:5.1f}x  "
              f"checks/rate {ceiling / rate:4.1f}x  (runs: {each}); signed requests that only authenticate "
              f"{bound:.1f}/s, floor/that {floor / bound:.1f}x")
    print(f"one node, per record (auth included, {args.records} records from {args.threads} threads): "
          f"{per_record:.1f} SQL statements, {commits:.2f} commits")
    print(f"all records stored exactly once and verify-log exit 0 for every run: {'yes' if all_ok else 'NO'}; "
          f"total {time.perf_counter() - started:.0f} s")
    if not all_ok:
        sys.exit(1)

if __name__ == "__main__":
    main()
