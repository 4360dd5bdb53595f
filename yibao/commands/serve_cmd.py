"""`yibao serve` — the bureau server."""

from __future__ import annotations

import typer
import uvicorn

from bureau.api import create_app
from bureau.service import (
    KEEP_ALIVE_SECONDS,
    BureauStartError,
    check_port_free,
    open_bureau,
    open_keys,
)
from bureau.settings import resolve_settings
from yibao.errors import fail


def serve(
    db: str = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db"),
    data: str = typer.Option(None, "--data", help="数据目录"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8700, "--port", min=1, max=65535),
) -> None:
    """Run the bureau server (FastAPI + uvicorn)."""
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
        keys = open_keys(settings)
        check_port_free(host, port)
    except BureauStartError as exc:
        fail(str(exc))
    typer.echo(f"局端服务：http://{host}:{port}  （数据目录 {settings.data_dir}）", err=True)
    uvicorn.run(create_app(settings, bureau.engine, keys), host=host, port=port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_SECONDS)
