"""Helpers shared by tests: free ports, a bureau process on loopback, small seeded registries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlmodel import Session

from bureau import keystore
from bureau.assignments import issue_assignments
from bureau.models import Inspector, Institution
from bureau.service import open_bureau
from bureau.settings import BureauSettings

PASSPHRASE = "test-passphrase-不要在生产中使用"
YIBAO = [sys.executable, "-m", "yibao"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = log.read_text(errors="replace")[-4000:] if log else (proc.stderr.read() if proc.stderr else "")
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


def init_bureau(settings: BureauSettings) -> None:
    open_bureau(settings)
    keystore.create_keys(settings, PASSPHRASE.encode())


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


@dataclass
class RunningBureau:
    url: str
    settings: BureauSettings
    process: subprocess.Popen

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(*args, "--db", self.settings.database_url, "--data", str(self.settings.data_dir), check=check)


def run_cli(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([*YIBAO, *args], capture_output=True, text=True, env=child_env(), input=input, timeout=120)
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
    with open(log, "ab") as out:
        proc = subprocess.Popen([*YIBAO, "serve", "--db", settings.database_url, "--data", str(settings.data_dir),
                                 "--port", str(port)], env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/v1/health", proc=proc, log=log)
    return RunningBureau(url=url, settings=settings, process=proc)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


STAFF_PASSWORD = "correct-horse-电池-staple"


def add_staff(settings: BureauSettings, username: str, role: str, inspector_code: str | None = None) -> None:
    from bureau import staff

    bureau = open_bureau(settings)
    with Session(bureau.engine) as session:
        staff.add_account(session, username, f"测试{username}", role, STAFF_PASSWORD, inspector_code)
        session.commit()
    bureau.engine.dispose()


def demo_file(name: str) -> Path:
    return repo_root() / "bureau" / "demo" / name


def start_app(home, server_url=None):
    port = free_port()
    args = [*YIBAO, "app", "--home", str(home), "--port", str(port)] + (["--server", server_url] if server_url else [])
    log = server_log(Path(home).parent, f"app-{port}")
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/", proc=proc, log=log)
    return proc, f"http://127.0.0.1:{port}/"
