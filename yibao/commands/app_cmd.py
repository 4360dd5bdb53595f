"""`yibao app` — the Flet app in web mode on loopback."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.errors import fail

DEFAULT_HOME = Path("yibao-data") / "device"  # under the directory the command runs in (`home.resolve()`)


def run_app(
    home: Path = typer.Option(DEFAULT_HOME, "--home", help="设备数据目录"),
    server: str = typer.Option(None, "--server", help="局端地址（注册时使用）"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8550, "--port", min=1, max=65535),
) -> None:
    """Serve the inspector app in web mode."""
    import uvicorn

    from bureau.service import BureauStartError, check_port_free
    from yibao.app_shell import asgi_app

    try:
        check_port_free(host, port)
    except BureauStartError as exc:
        fail(str(exc))
    typer.echo(f"检查端应用：http://{host}:{port}/", err=True)
    uvicorn.run(asgi_app(home.resolve(), server), host=host, port=port, log_level="warning")
