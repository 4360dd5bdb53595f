"""`yibao demo` — a seeded bureau and the app, both on loopback: the bureau in a process of its own, so nothing the
app does can starve it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bureau.settings import resolve_settings
from yibao.errors import fail

if TYPE_CHECKING:
    from sqlmodel import Session

DEMO_PASSPHRASE = "yibao-demo-passphrase"
DEMO_STAFF_PASSWORD = "yibao-demo-2026"
BUREAU_START_SECONDS = 60


def _pick_port(host: str, preferred: int) -> int:
    from bureau.service import BureauStartError, check_port_free

    try:
        check_port_free(host, preferred)
        return preferred
    except BureauStartError:
        import socket

        with socket.socket() as sock:
            sock.bind((host, 0))
            return sock.getsockname()[1]


def _other_team_tokens(session: Session, busy_inspector: str, count: int = 2) -> tuple[list[str], list[tuple[str, str]]]:
    """Enrollment tokens for a second, headless tablet of other teams, and the `count` assignments it will complete
    (assignment id, inspector), so the reviewer's queue has cases to open (the demo tablet keeps all of its own)."""
    from bureau import demo_seed, enrollment

    chosen = demo_seed.other_assignments(session, busy_inspector, count)
    team = sorted({code for a in chosen for code in a.team})
    tokens = [enrollment.issue_token(session, code, datetime.now(timezone.utc)) for code in team]
    return tokens, [(a.id, a.team[0]) for a in chosen]


def _synced_inspections(bureau_url: str, home: Path, tokens: list[str], wanted: list[tuple[str, str]]) -> None:
    """The second tablet enrolls, completes the chosen assignments and syncs them."""
    from sqlmodel import Session

    from inspector_app import device
    from inspector_app.store import DeviceAssignment, open_store
    from yibao.commands.device_cmd import fill_demo_inspection

    engine = open_store(home)
    for identity in [device.enroll(engine, bureau_url, token) for token in tokens]:
        device.pull_assignments(engine, identity)
    rng = random.Random(2026)
    with Session(engine) as session:
        tasks = [(session.get(DeviceAssignment, assignment_id), inspector) for assignment_id, inspector in wanted]
    for assignment, inspector in tasks:
        assert assignment is not None  # pulled just above: the demo bureau issued it to this team
        fill_demo_inspection(engine, home, assignment, inspector, 2, rng)
    report = device.sync(engine, timeout=60)
    if report.error:
        typer.echo(f"演示检查记录未能同步：{report.error}", err=True)
    engine.dispose()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_bureau(data_dir: Path, host: str, port: int) -> subprocess.Popen:
    """The demo bureau in a process of its own (`yibao serve`): whatever the app does on its event loop, the bureau
    keeps answering. It is waited for until `/v1/health` answers."""
    import requests

    bureau = subprocess.Popen([sys.executable, "-m", "yibao", "serve", "--data", str(data_dir), "--host", host,
                               "--port", str(port)])
    url, deadline = f"http://{host}:{port}/v1/health", time.monotonic() + BUREAU_START_SECONDS
    while time.monotonic() < deadline:
        if bureau.poll() is not None:
            fail(f"演示局端服务未能启动（退出码 {bureau.returncode}）")
        try:
            requests.get(url, timeout=2).raise_for_status()
            return bureau
        except requests.RequestException:
            time.sleep(0.1)
    bureau.terminate()
    fail(f"演示局端服务 {BUREAU_START_SECONDS} 秒内未应答：{url}")


def demo(
    data: Path = typer.Option(Path("yibao-demo"), "--data", help="演示数据目录（删除即可重新开始）"),
    host: str = typer.Option("127.0.0.1", "--host"),
    bureau_port: int = typer.Option(8700, "--bureau-port", min=1, max=65535),
    app_port: int = typer.Option(8550, "--app-port", min=1, max=65535),
) -> None:
    """Seeded bureau + app in web mode on loopback; prints both URLs; runs until Ctrl-C."""
    import asyncio

    import uvicorn
    from sqlmodel import Session

    from bureau import demo_seed, enrollment, keystore
    from bureau.service import BureauStartError, open_bureau, open_keys, upgrade_bureau
    from inspector_app import device
    from inspector_app.store import identities, open_store
    from yibao.app_shell import asgi_app

    os.environ.setdefault(keystore.PASSPHRASE_ENV, DEMO_PASSPHRASE)
    data = data.resolve()
    settings = resolve_settings(None, str(data / "bureau"))
    device_home = data / "device"
    engine = open_store(device_home)
    try:
        before, after = upgrade_bureau(settings)  # the demo owns its folder: one made by an older version is brought forward
        if before.status in ("behind", "pre-alembic"):
            typer.echo(f"演示数据库结构已升级到 {after.revision}", err=True)
        bureau = open_bureau(settings)
        if not keystore.keys_exist(settings):
            keystore.create_keys(settings, os.environ[keystore.PASSPHRASE_ENV].encode())
        keys = open_keys(settings)
    except (BureauStartError, keystore.KeystoreError) as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        first_run = not demo_seed.is_seeded(session)
        if first_run:
            typer.echo("正在生成演示数据：名录库、局端账号、一次已承诺并抽取的双随机计划……", err=True)
            demo_seed.seed(session, keys.signing, DEMO_STAFF_PASSWORD)
            session.commit()
            claims = demo_seed.write_demo_claims(data)
            typer.echo(f"智能监控示例结算明细：{claims}（科室负责人在“智能监控”中导入）", err=True)
        inspector = demo_seed.busiest_inspector(session)
        own_token = None if identities(engine) else enrollment.issue_token(session, inspector,
                                                                           datetime.now(timezone.utc))
        others = _other_team_tokens(session, inspector) if first_run else None
        session.commit()
    bureau.engine.dispose()

    bureau_port, app_port = _pick_port(host, bureau_port), _pick_port(host, app_port)
    bureau_url, app_url = f"http://{host}:{bureau_port}", f"http://{host}:{app_port}/"
    # uvicorn re-raises the SIGTERM it caught once the app has stopped: turn it into an exit that runs `finally`.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    bureau_process = _start_bureau(settings.data_dir, host, bureau_port)
    try:
        if own_token is not None:
            device.enroll(engine, bureau_url, own_token)
        if others is not None:
            typer.echo("正在模拟另一检查组完成并同步两次现场检查，供审核人员审核……", err=True)
            _synced_inspections(bureau_url, data / "other-tablet", *others)

        async def run_app() -> None:
            app_server = uvicorn.Server(uvicorn.Config(asgi_app(device_home, bureau_url), host=host, port=app_port,
                                                       log_level="warning"))
            app_task = asyncio.create_task(app_server.serve())
            while not app_server.started:
                if app_task.done():
                    return await app_task
                await asyncio.sleep(0.05)
            typer.echo(f"局端服务（API 文档 {bureau_url}/docs）：{bureau_url}")
            typer.echo(f"检查端应用：{app_url}")
            typer.echo(f"本机平板已注册为检查人员 {inspector}；局端人员登录：zhuren（科室负责人）/ shenhe（审核人员）/ fazhi（法制审核），"
                       f"密码 {DEMO_STAFF_PASSWORD}", err=True)
            typer.echo("按 Ctrl-C 退出。", err=True)
            await app_task

        asyncio.run(run_app())
    except KeyboardInterrupt:
        pass
    finally:
        bureau_process.terminate()
        try:
            bureau_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bureau_process.kill()
