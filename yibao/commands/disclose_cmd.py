"""`yibao disclose` — the 一公开 export."""

import typer

from yibao.errors import not_yet


def disclose(period: str = typer.Option(..., "--period"), out: str = typer.Option(..., "--out")) -> None:
    """一公开 export."""
    not_yet("disclose")
