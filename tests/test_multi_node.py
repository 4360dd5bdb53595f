"""Several bureau nodes on one database and one data directory (SQLite, then PostgreSQL): a server with two uvicorn
workers and a second server, 50 tablets syncing at once with each request sent to the next node in turn, as a load
balancer would. Every record is stored once, the log is gapless and `yibao bureau verify-log` passes; after both
servers restart, every tablet syncs a new record with no false alarm about the log."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from requests.adapters import HTTPAdapter
from sqlmodel import Session

from bureau import enrollment
from bureau.db import make_engine
from bureau.service import BureauStartError, ensure_writable_data_dir
from bureau.settings import BureauSettings
from inspector_app import device, outbox, sync_protocol
from inspector_app.store import open_store
from tests.support import (
    RunningBureau,
    free_port,
    run_cli,
    serve_in_interpreter,
    stop,
)
from tests.sync_support import Tablet, bureau_holdings, fill_inspection

TABLETS = 50


def start_node(settings, *extra: str) -> RunningBureau:
    port = free_port()
    proc = serve_in_interpreter(settings, port, *extra, log_name="node")
    return RunningBureau(url=f"http://127.0.0.1:{port}", settings=settings, process=proc)


def start_nodes(settings) -> list[RunningBureau]:
    return [start_node(settings, "--workers", "2"), start_node(settings)]


class RoundRobin(HTTPAdapter):
    """Sends each request to the next node in turn."""

    def __init__(self, urls: list[str], turn: int):
        super().__init__()
        self.urls, self.turn, self.lock = urls, turn, threading.Lock()

    def send(self, request, *args, **kwargs):
        with self.lock:
            base, self.turn = self.urls[self.turn % len(self.urls)], self.turn + 1
        request.url = base + request.url[request.url.index("/v1/"):]
        return super().send(request, *args, **kwargs)


def sync_all(tablets: list[Tablet], nodes: list[RunningBureau]) -> list[sync_protocol.SyncReport]:
    reports: list = [None] * len(tablets)

    def sync(number: int) -> None:
        client = device.client_for(tablets[number].identities[0])
        client.http.mount("http://", RoundRobin([node.url for node in nodes], number))
        reports[number] = sync_protocol.run(tablets[number].engine, client, timeout=180,
                                            policy=sync_protocol.RetryPolicy(base=0.05, cap=1.0))

    threads = [threading.Thread(target=sync, args=(number,)) for number in range(len(tablets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports


def verify_log(settings) -> dict:
    answer = run_cli("bureau", "verify-log", "--json", "--db", settings.database_url, "--data",
                     str(settings.data_dir))
    return json.loads(answer.stdout)


@pytest.mark.slow
def test_two_nodes_fifty_tablets_one_log(seeded_bureau, tmp_path):
    nodes = start_nodes(seeded_bureau)
    tablets: list[Tablet] = []
    try:
        engine = make_engine(seeded_bureau.database_url)
        with Session(engine) as session:
            tokens = [enrollment.issue_token(session, "I0001", datetime.now(timezone.utc)) for _ in range(TABLETS)]
            session.commit()
        engine.dispose()
        for number, token in enumerate(tokens):
            home = tmp_path / f"tablet-{number}"
            store = open_store(home)
            tablet = Tablet(home, store, [device.enroll(store, nodes[number % 2].url, token)])
            fill_inspection(tablet, assignment_index=number % 2)
            tablets.append(tablet)

        reports = sync_all(tablets, nodes)
        assert all(r is not None and r.error is None for r in reports), [r for r in reports if r is None or r.error][:3]
        assert all(outbox.status(t.engine).empty for t in tablets)
        held = bureau_holdings(seeded_bureau)
        assert len(held.records) == len(set(held.records)) == held.log_size == TABLETS
        assert verify_log(seeded_bureau) == {"ok": True, "log_size": TABLETS, "tree_heads": TABLETS,
                                             "records": TABLETS, "problems": []}

        for node in nodes:
            stop(node.process)
        nodes = start_nodes(seeded_bureau)
        for number, tablet in enumerate(tablets):
            fill_inspection(tablet, assignment_index=number % 2, new=True, pull=False)
        reports = sync_all(tablets, nodes)
        alarms = [r.error for r in reports if r is not None and r.error and "日志可能被改写" in r.error]
        assert not alarms, alarms[:3]
        assert all(r is not None and r.error is None and r.records_sent == 1 for r in reports), \
            [r for r in reports if r is None or r.error][:3]
        held = bureau_holdings(seeded_bureau)
        assert len(held.records) == len(set(held.records)) == held.log_size == 2 * TABLETS
        assert verify_log(seeded_bureau)["ok"]
    finally:
        for node in nodes:
            stop(node.process)
        for tablet in tablets:
            tablet.engine.dispose()


def test_nodes_starting_together_on_one_data_directory(tmp_path):
    """Every node checks at start that the data directory is writable; with a shared probe file one node deleted
    another's between its write and its unlink ("数据目录不可写"), so one of four nodes started together could fail."""
    settings = BureauSettings(data_dir=tmp_path / "bureau-data", database_url=f"sqlite:///{tmp_path / 'bureau.db'}")
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def node() -> None:
        start.wait()
        for _ in range(200):
            try:
                ensure_writable_data_dir(settings)
            except BureauStartError as exc:
                failures.append(exc)
                return

    threads = [threading.Thread(target=node) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(p.name for p in settings.data_dir.iterdir()) == []  # no probe left behind
