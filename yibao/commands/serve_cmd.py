"""`yibao serve` — the bureau server."""

from __future__ import annotations

import os

import typer

from bureau.settings import resolve_settings
from yibao.errors import fail


def serve(
    db: str = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db"),
    data: str = typer.Option(None, "--data", help="数据目录"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8700, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="工作进程数；多个进程（或多台服务器）共用一个数据库时须使用同一数据目录"),
) -> None:
    """Run the bureau server (FastAPI + uvicorn), after checking the database, the keys and the merkle log."""
    import uvicorn

    from bureau.service import KEEP_ALIVE_SECONDS, BureauStartError, check_log, check_port_free, open_bureau, open_keys

    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
        keys = open_keys(settings)
        check_log(bureau)
        check_port_free(host, port)
    except BureauStartError as exc:
        fail(str(exc))
    typer.echo(f"局端服务：http://{host}:{port}  （数据目录 {settings.data_dir}，{workers} 个工作进程）", err=True)
    if workers == 1:  # this process serves: the database, keys and log it has just checked, not opened twice
        from bureau.api import create_app

        uvicorn.run(create_app(settings, bureau.engine, keys), host=host, port=port, log_level="warning",
                    timeout_keep_alive=KEEP_ALIVE_SECONDS)
        return
    bureau.engine.dispose()
    os.environ.update(YIBAO_DATA=str(settings.data_dir), YIBAO_DATABASE_URL=settings.database_url)  # for the workers
    uvicorn.run("bureau.api:app_from_env", factory=True, workers=workers, host=host, port=port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_SECONDS)
