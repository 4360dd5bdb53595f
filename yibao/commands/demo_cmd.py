"""`yibao demo` — a seeded bureau and the app, both on loopback, in one process."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timezone
from pathlib import Path

import typer
import uvicorn
from sqlmodel import Session

from bureau import demo_seed, enrollment, keystore
from bureau.api import create_app
from bureau.service import KEEP_ALIVE_SECONDS, BureauStartError, check_port_free, open_bureau, open_keys
from bureau.settings import resolve_settings
from yibao.errors import fail

DEMO_PASSPHRASE = "yibao-demo-passphrase"
DEMO_STAFF_PASSWORD = "yibao-demo-2026"


def _pick_port(host: str, preferred: int) -> int:
    try:
        check_port_free(host, preferred)
        return preferred
    except BureauStartError:
        import socket

        with socket.socket() as sock:
            sock.bind((host, 0))
            return sock.getsockname()[1]


def _synced_inspections(bureau_engine, bureau_url: str, home: Path, busy_inspector: str, count: int = 2) -> None:
    """A second, headless tablet of other teams: it completes `count` of their assignments and syncs them, so the
    reviewer's queue has cases to open (the demo tablet keeps all of its own assignments untouched)."""
    from inspector_app import device
    from inspector_app.store import DeviceAssignment, open_store
    from yibao.commands.device_cmd import fill_demo_inspection

    with Session(bureau_engine) as session:
        chosen = demo_seed.other_assignments(session, busy_inspector, count)
        team = sorted({code for a in chosen for code in a.team})
        tokens = [enrollment.issue_token(session, code, datetime.now(timezone.utc)) for code in team]
        session.commit()
        wanted = [(a.id, a.team[0]) for a in chosen]
    engine = open_store(home)
    for identity in [device.enroll(engine, bureau_url, token) for token in tokens]:
        device.pull_assignments(engine, identity)
    rng = random.Random(2026)
    with Session(engine) as session:
        tasks = [(session.get(DeviceAssignment, assignment_id), inspector) for assignment_id, inspector in wanted]
    for assignment, inspector in tasks:
        fill_demo_inspection(engine, home, assignment, inspector, 2, rng)
    report = device.sync(engine, timeout=60)
    if report.error:
        typer.echo(f"演示检查记录未能同步：{report.error}", err=True)
    engine.dispose()


def demo(
    data: Path = typer.Option(Path("yibao-demo"), "--data", help="演示数据目录（删除即可重新开始）"),
    host: str = typer.Option("127.0.0.1", "--host"),
    bureau_port: int = typer.Option(8700, "--bureau-port", min=1, max=65535),
    app_port: int = typer.Option(8550, "--app-port", min=1, max=65535),
) -> None:
    """Seeded bureau + app in web mode on loopback; prints both URLs; runs until Ctrl-C."""
    from inspector_app import device
    from inspector_app.app import asgi_app
    from inspector_app.store import identities, open_store

    os.environ.setdefault(keystore.PASSPHRASE_ENV, DEMO_PASSPHRASE)
    data = data.resolve()
    settings = resolve_settings(None, str(data / "bureau"))
    try:
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
        inspector = demo_seed.busiest_inspector(session)

    bureau_port, app_port = _pick_port(host, bureau_port), _pick_port(host, app_port)
    bureau_url, app_url = f"http://{host}:{bureau_port}", f"http://{host}:{app_port}/"
    device_home = data / "device"
    engine = open_store(device_home)

    async def run_both() -> None:
        bureau_server = uvicorn.Server(uvicorn.Config(create_app(settings, bureau.engine, keys), host=host,
                                                      port=bureau_port, log_level="warning",
                                                      timeout_keep_alive=KEEP_ALIVE_SECONDS))
        bureau_task = asyncio.create_task(bureau_server.serve())
        while not bureau_server.started:
            await asyncio.sleep(0.05)
        if not identities(engine):
            with Session(bureau.engine) as session:
                token = enrollment.issue_token(session, inspector, datetime.now(timezone.utc))
                session.commit()
            await asyncio.to_thread(device.enroll, engine, bureau_url, token)
        if first_run:
            typer.echo("正在模拟另一检查组完成并同步两次现场检查，供审核人员审核……", err=True)
            await asyncio.to_thread(_synced_inspections, bureau.engine, bureau_url, data / "other-tablet", inspector)
        app_server = uvicorn.Server(uvicorn.Config(asgi_app(device_home, bureau_url), host=host, port=app_port,
                                                   log_level="warning"))
        app_task = asyncio.create_task(app_server.serve())
        while not app_server.started:
            await asyncio.sleep(0.05)
        typer.echo(f"局端服务（API 文档 {bureau_url}/docs）：{bureau_url}")
        typer.echo(f"检查端应用：{app_url}")
        typer.echo(f"本机平板已注册为检查人员 {inspector}；局端人员登录：zhuren（科室负责人）/ shenhe（审核人员），"
                   f"密码 {DEMO_STAFF_PASSWORD}", err=True)
        typer.echo("按 Ctrl-C 退出。", err=True)
        await asyncio.gather(bureau_task, app_task)

    try:
        asyncio.run(run_both())
    except KeyboardInterrupt:
        pass
