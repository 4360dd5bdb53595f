"""`yibao draw …`"""

import typer

from yibao.errors import not_yet

app = typer.Typer(no_args_is_help=True)


@app.command("commit")
def commit(plan_file: str) -> None:
    """Record and print the commitment to a plan and the registry snapshot."""
    not_yet("draw commit")


@app.command("run")
def run(plan_file: str, out: str = typer.Option(..., "--out"), dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """Run the draw."""
    not_yet("draw run")


@app.command("verify")
def verify(transcript_file: str) -> None:
    """Re-run a transcript; exit 0 only if it reproduces."""
    not_yet("draw verify")
