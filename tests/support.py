"""Helpers shared by tests: free ports, a bureau on loopback (a process, or a server thread), small seeded
registries."""

from __future__ import annotations

import atexit
import itertools
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from argon2 import PasswordHasher
from sqlalchemy import event, inspect
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bureau import keystore, migrations
from bureau.assignments import issue_assignments
from bureau.db import make_engine
from bureau.models import Inspector, Institution
from bureau.service import open_bureau
from bureau.settings import BureauSettings
from tests import cli_process

PASSPHRASE = "test-passphrase-不要在生产中使用"
YIBAO = [sys.executable, "-m", "yibao"]


# Under pytest-xdist, worker gwN takes its ports from [20000 + 500 N, 20000 + 500 (N + 1)): below the kernel's
# ephemeral range (32768 up), so no other worker and no outgoing connection takes a port between `free_port` and the
# server binding it, seconds later.
WORKER_PORTS_FROM = 20000
PORTS_PER_WORKER = 500
_worker_ports: Iterator[int] | None = None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on, for a server started next. Under pytest-xdist the worker's own ports in
    turn, from a random one (another test run on the machine starts elsewhere); else one the kernel picks."""
    global _worker_ports
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    if not worker.startswith("gw"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    if _worker_ports is None:
        first = WORKER_PORTS_FROM + int(worker[2:]) % 25 * PORTS_PER_WORKER
        start = random.randrange(PORTS_PER_WORKER)
        _worker_ports = itertools.cycle([first + (start + k) % PORTS_PER_WORKER for k in range(PORTS_PER_WORKER)])
    for port in itertools.islice(_worker_ports, PORTS_PER_WORKER):
        if _bindable(port):
            return port
    raise RuntimeError(f"测试进程 {worker} 的 {PORTS_PER_WORKER} 个端口都被占用")


def _wait_or_stop(url: str, proc: cli_process.ForkedProcess, log: Path) -> None:
    """A server that never answers does not stay running."""
    try:
        wait_for_http(url, proc=proc, log=log)
    except BaseException:
        stop(proc)
        raise


def wait_for_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | cli_process.ForkedProcess | None = None,
                  log: Path | None = None) -> None:
    """Until `url` answers. A generous `timeout`: with tests running in parallel on a loaded machine, a server can
    take well over 30 s to import and start (it returns as soon as the server answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            stderr = getattr(proc, "stderr", None)  # a Popen's pipe; a forked process writes to its log
            said = log.read_text(errors="replace")[-4000:] if log else (stderr.read() if stderr else "")
            raise RuntimeError(f"process exited with {proc.returncode}: {said}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def child_env() -> dict[str, str]:
    return {**os.environ, keystore.PASSPHRASE_ENV: PASSPHRASE, "PYTHONUNBUFFERED": "1"}


_template: BureauSettings | None = None
_postgres_schema: list[str] = []  # the statements `migrations.create` ran on this process's first PostgreSQL bureau


def _bureau_template() -> BureauSettings:
    """A bureau initialised once per test process (each pytest-xdist worker): its keys, whose creation costs about
    0.25 s of a core (scrypt and the recovery shares), and an SQLite database with the schema."""
    global _template
    if _template is None:
        home = Path(tempfile.mkdtemp(prefix="yibao-test-template-"))
        atexit.register(shutil.rmtree, home, True)
        template = BureauSettings(data_dir=home / "data", database_url=f"sqlite:///{home / 'bureau.db'}")
        open_bureau(template).engine.dispose()  # the last connection closed: WAL checkpointed into the file
        keystore.create_keys(template, PASSPHRASE.encode())
        _template = template
    return _template


def _give_schema(database_url: str) -> None:
    """A new, empty database given the bureau schema as a copy: SQLite, the template's file; PostgreSQL, the
    statements `migrations.create` ran on this process's first PostgreSQL bureau, run again in one transaction (the
    same tables, indexes and alembic_version stamp, without reflecting and compiling them anew: about 0.1 s of a
    core each time). Any other database is left to `open_bureau` to judge."""
    database = make_url(database_url)
    if database.get_backend_name() == "sqlite":
        if database.database and not Path(database.database).exists():
            Path(database.database).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(str(make_url(_bureau_template().database_url).database), database.database)
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if inspect(connection).get_table_names():
                return
        if _postgres_schema:
            with engine.begin() as connection:
                connection.exec_driver_sql(";\n".join(_postgres_schema))
            return
        ran: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda _conn, _cursor, statement, *_: ran.append(statement))
        migrations.create(engine)
        _postgres_schema.extend(s for s in ran if not s.lstrip().upper().startswith("SELECT"))
    finally:
        engine.dispose()


def init_bureau(settings: BureauSettings) -> None:
    """What `yibao bureau init` makes, as copies of the process's template bureau: the schema (`_give_schema`) and
    the key files (every bureau of this test process holds the same keys, whose decryption the keystore then
    remembers). Each bureau still has its own database and data directory. A test that needs two bureaus with
    different keys (one refusing the other's) must make the second with `yibao bureau init`."""
    _give_schema(settings.database_url)
    open_bureau(settings).engine.dispose()
    shutil.copytree(keystore.keys_dir(_bureau_template()), keystore.keys_dir(settings))


SMALL_INSTITUTIONS = [
    Institution(code="P35010200001", name="福州市鼓楼区东街口大药房", kind="pharmacy", region="350102",
                credit_code="91350100M000100Y43", address="福州市鼓楼区东街 88 号"),
    Institution(code="H35010200002", name="福州市鼓楼区华大街道社区卫生服务中心", kind="primary", region="350102",
                credit_code="12100000400000624D", address="福州市鼓楼区华大街道北大路 12 号"),
]
SMALL_INSPECTORS = [
    Inspector(code="I0001", name="林建华", badge_no="闽榕医保执 0001", region="350102"),
    Inspector(code="I0002", name="陈晓燕", badge_no="闽榕医保执 0002", region="350102"),
    Inspector(code="I0003", name="王志强", badge_no="闽榕医保执 0003", region="350102"),
]


def seed_small(settings: BureauSettings) -> None:
    """Two institutions, three inspectors, and one signed assignment per institution for I0001 + I0002."""
    bureau = open_bureau(settings)
    key = keystore.open_signing_key(settings, PASSPHRASE.encode())
    with Session(bureau.engine) as session:
        for row in [*SMALL_INSTITUTIONS, *SMALL_INSPECTORS]:
            session.merge(row.model_copy())
        issue_assignments(session, key, plan_id="test-plan", issued_at=datetime.now(timezone.utc), selected=[
            {"institution": i.code, "stratum": i.kind, "team": ["I0001", "I0002"], "reason": "random"}
            for i in SMALL_INSTITUTIONS
        ])
        session.commit()
    bureau.engine.dispose()


class ServerThread:
    """A bureau served by uvicorn in a thread of the test's own process: a real HTTP server on loopback over the same
    app `yibao serve` builds, without a fresh interpreter importing FastAPI, SQLAlchemy and the bureau for every test
    (about 3 CPU-seconds each, most of the suite's work on two cores). It stops as a process does (`stop`), so a test
    may restart the bureau as a `yibao serve` process on the same database. Tests that signal or measure the server
    as a process (kill -9, SIGSTOP, its memory) start one with `start_bureau`."""

    def __init__(self, server, engine):
        self._server, self._engine = server, engine
        self._thread = threading.Thread(target=server.run, name="bureau-server", daemon=True)

    def start(self, url: str) -> None:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the bureau thread did not start serving {url}")
            time.sleep(0.02)

    def terminate(self) -> None:
        self._server.should_exit = True

    def kill(self) -> None:
        raise NotImplementedError("a server thread cannot die as a process does: use the bureau_process fixture")

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else 0

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired("bureau-server", timeout or 0)
        self._engine.dispose()
        return 0


@dataclass
class RunningBureau:
    url: str
    settings: BureauSettings
    process: subprocess.Popen | cli_process.ForkedProcess | ServerThread

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(*args, "--db", self.settings.database_url, "--data", str(self.settings.data_dir), check=check)


def run_cli(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    """`yibao ARGS` in a process of its own, forked with its libraries already imported (tests/cli_process.py)."""
    result = cli_process.run(args, env=child_env(), input=input, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"yibao {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def server_log(directory: Path, name: str) -> Path:
    """Where a server's output goes: a file, never a pipe nobody reads (once its buffer is full, the server blocks
    writing a log line and stops answering)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.log"


def start_bureau(settings: BureauSettings) -> RunningBureau:
    port = free_port()
    log = server_log(settings.data_dir.parent, f"bureau-{port}")
    proc = cli_process.start(["serve", "--db", settings.database_url, "--data", str(settings.data_dir), "--port",
                              str(port)], child_env(), stdout=log)
    url = f"http://127.0.0.1:{port}"
    _wait_or_stop(url + "/v1/health", proc, log)
    return RunningBureau(url=url, settings=settings, process=proc)


def serve_in_interpreter(settings: BureauSettings, port: int, *extra: str,
                         log_name: str = "bureau") -> subprocess.Popen:
    """`python -m yibao serve` in a fresh interpreter, as a user starts it, answering when this returns: for the tests
    that need one (`--workers N`, a kill -9 at any point)."""
    log = server_log(settings.data_dir.parent, f"{log_name}-{port}")
    with open(log, "ab") as out:
        proc = subprocess.Popen([*YIBAO, "serve", "--db", settings.database_url, "--data", str(settings.data_dir),
                                 "--port", str(port), *extra], env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/v1/health", proc=proc, log=log)
    return proc


def serve_in_thread(settings: BureauSettings) -> RunningBureau:
    """The bureau `yibao serve` would run (same checks of database, keys and log, same app), served from a thread.
    The operator passphrase must be in the environment, as `child_env` gives a `yibao serve`."""
    import uvicorn

    from bureau.api import create_app
    from bureau.service import KEEP_ALIVE_SECONDS, check_log, open_keys

    bureau = open_bureau(settings)
    keys = open_keys(settings)
    check_log(bureau)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, bureau.engine, keys), host="127.0.0.1", port=port,
                                           log_level="warning", timeout_keep_alive=KEEP_ALIVE_SECONDS))
    thread = ServerThread(server, bureau.engine)
    url = f"http://127.0.0.1:{port}"
    thread.start(url)
    return RunningBureau(url=url, settings=settings, process=thread)


def stop(proc: subprocess.Popen | cli_process.ForkedProcess | ServerThread) -> None:
    proc.terminate()
    if isinstance(proc, ServerThread):  # it finishes the requests in flight, then returns
        proc.wait(timeout=60)
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


STAFF_PASSWORD = "correct-horse-电池-staple"
# The cost of the secrets of test tablets and accounts whose subject is not that cost: about 0.1 s of a core less for
# each PIN set or entered, each account made and each login. A tablet keeps vault.SCRYPT_N (test_vault and
# test_onsite_security check it), a real account argon2-cffi's defaults (test_single_use checks it and races its
# lockout against them).
FAST_SCRYPT_N = 2**4
FAST_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def add_staff(settings: BureauSettings, username: str, role: str, inspector_code: str | None = None, *,
              hasher: PasswordHasher = FAST_PASSWORD_HASHER) -> None:
    from bureau import staff

    bureau = open_bureau(settings)
    with Session(bureau.engine) as session:
        staff.add_account(session, username, f"测试{username}", role, STAFF_PASSWORD, inspector_code, hasher=hasher)
        session.commit()
    bureau.engine.dispose()


def demo_file(name: str) -> Path:
    return repo_root() / "bureau" / "demo" / name


def start_app(home, server_url=None):
    port = free_port()
    args = ["app", "--home", str(home), "--port", str(port)] + (["--server", server_url] if server_url else [])
    log = server_log(Path(home).parent, f"app-{port}")
    proc = cli_process.start(args, child_env(), stdout=log)
    _wait_or_stop(f"http://127.0.0.1:{port}/", proc, log)
    return proc, f"http://127.0.0.1:{port}/"
