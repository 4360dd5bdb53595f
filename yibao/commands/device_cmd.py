"""`yibao device …` — a headless tablet, for scripts, demos and load tests."""

from __future__ import annotations

from pathlib import Path

import typer

from inspector_app import device
from inspector_app.store import open_store
from sync.client import BureauRefused, BureauUnreachable
from yibao.errors import fail, not_yet

app = typer.Typer(no_args_is_help=True)


@app.command("enroll")
def enroll(home: Path = typer.Option(..., "--home"), server: str = typer.Option(..., "--server"),
           token: str = typer.Option(..., "--token")) -> None:
    """Make this device's keys, register them with the bureau and pin the bureau's key."""
    engine = open_store(home.resolve())
    try:
        identity = device.enroll(engine, server, token)
    except BureauUnreachable as exc:
        fail(str(exc))
    except BureauRefused as exc:
        fail(f"注册失败：{exc.message}")
    typer.echo(f"已注册：人员 {identity.inspector_code}，设备 {identity.device_id}", err=True)


@app.command("demo-inspections")
def demo_inspections(home: Path = typer.Option(..., "--home"), n: int = typer.Option(..., "--n"),
                     photos: int = typer.Option(0, "--photos")) -> None:
    """Fill N complete, signed inspections for pulled assignments."""
    not_yet("device demo-inspections")


@app.command("sync")
def sync(home: Path = typer.Option(..., "--home"), timeout: float = typer.Option(60, "--timeout")) -> None:
    """Sync with the bureau; exit 0 only when the outbox is empty and every receipt verified."""
    not_yet("device sync")


@app.command("status")
def status(home: Path = typer.Option(..., "--home"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Outbox, receipts, assignments."""
    not_yet("device status")
