"""`yibao demo`, the README's first command: a seeded bureau and the app on loopback, both answering; the reviewer
finds synced inspections to review; started again on the same folder, it reuses what it made."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.support import YIBAO, child_env, free_port, server_log, stop

DEMO_PASSWORD = "yibao-demo-2026"


def start_demo(data, bureau_port: int, app_port: int) -> tuple[subprocess.Popen, list[str]]:
    """The demo process and the URLs it printed (stdout), once both servers answer."""
    log = server_log(data.parent, f"demo-{bureau_port}")
    with open(log, "ab") as messages:  # stderr to a file: a full pipe would stall the servers
        proc = subprocess.Popen([*YIBAO, "demo", "--data", str(data), "--bureau-port", str(bureau_port),
                                 "--app-port", str(app_port)], env=child_env(), stdout=subprocess.PIPE,
                                stderr=messages, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while len(lines) < 2:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"yibao demo exited {proc.wait()}:\n{log.read_text(errors='replace')[-4000:]}")
        lines.append(line.strip())
        assert time.monotonic() < deadline, "yibao demo did not print its URLs"
    return proc, lines


@pytest.mark.slow
def test_demo_serves_a_seeded_bureau_and_the_app(tmp_path):
    bureau_port, app_port = free_port(), free_port()
    proc, lines = start_demo(tmp_path / "demo", bureau_port, app_port)
    try:
        bureau, app = f"http://127.0.0.1:{bureau_port}", f"http://127.0.0.1:{app_port}/"
        assert lines[0].endswith(bureau) and lines[1].endswith(app), lines
        assert requests.get(f"{bureau}/v1/health", timeout=10).json()["status"] == "ok"
        assert requests.get(app, timeout=10).status_code == 200
        login = requests.post(f"{bureau}/v1/staff/login", json={"username": "shenhe", "password": DEMO_PASSWORD},
                              timeout=10)
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        queue = requests.get(f"{bureau}/v1/review/queue", headers=headers, timeout=30).json()["items"]
        assert len(queue) == 2 and all(i["status"] == "已接收" and i["findings"] == 2 for i in queue)
        assert len({i["kind"] for i in queue}) == 2
        # the sample claims file the supervisor imports in 智能监控: it imports, and screening finds its planted 疑点
        supervisor = requests.post(f"{bureau}/v1/staff/login", json={"username": "zhuren", "password": DEMO_PASSWORD},
                                   timeout=10).json()["token"]
        as_supervisor = {"Authorization": f"Bearer {supervisor}"}
        sample = tmp_path / "demo" / "结算明细-示例.csv"
        imported = requests.post(f"{bureau}/v1/screening/claims", params={"filename": sample.name},
                                 data=sample.read_bytes(), headers=as_supervisor, timeout=60)
        assert imported.status_code == 200, imported.text
        run = requests.post(f"{bureau}/v1/screening/runs", json={"rules": None}, headers=as_supervisor, timeout=60)
        assert run.status_code == 200 and run.json()["hits"] > 0, run.text
        # the demo's staff take a case through 立案 (a 行政处罚 waits for it): shenhe asks, zhuren approves; fazhi,
        # the 法制审核 the case's own investigator may not do, signs in
        base = f"{bureau}/v1/review/records/{queue[0]['record_id']}"
        requests.post(f"{base}/start", headers=headers, timeout=30).raise_for_status()
        requests.post(f"{base}/procedure/request_filing", json={"reason": "涉嫌违反条例"}, headers=headers,
                      timeout=30).raise_for_status()
        filed = requests.post(f"{base}/procedure/approve_filing", json={"opinion": "同意立案调查"},
                              headers=as_supervisor, timeout=30)
        assert filed.status_code == 200 and filed.json()["procedure"]["stage"] == "调查取证", filed.text
        assert requests.post(f"{bureau}/v1/staff/login", json={"username": "fazhi", "password": DEMO_PASSWORD},
                             timeout=10).status_code == 200
    finally:
        stop(proc)
    bureau_gone(bureau)

    again, lines = start_demo(tmp_path / "demo", free_port(), free_port())
    try:
        url = lines[0].split("：")[-1]
        supervisor, reviewer = (requests.post(f"{url}/v1/staff/login", json={"username": name,
                                                                             "password": DEMO_PASSWORD}, timeout=10)
                                .json()["token"] for name in ("zhuren", "shenhe"))
        coverage = requests.get(f"{url}/v1/coverage", headers={"Authorization": f"Bearer {supervisor}"},
                                timeout=30).json()
        assert coverage["total"] == 40
        queue = requests.get(f"{url}/v1/review/queue", headers={"Authorization": f"Bearer {reviewer}"},
                             timeout=30).json()["items"]
        assert len(queue) == 2  # nothing seeded twice
    finally:
        stop(again)
    bureau_gone(url)


def bureau_gone(url: str) -> None:
    """Stopping the demo stops its bureau process too (nothing is left holding the port or the database)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/v1/health", timeout=2)
        except requests.ConnectionError:
            return
        time.sleep(0.2)
    raise AssertionError(f"the demo's bureau still answers at {url} after the demo stopped")
