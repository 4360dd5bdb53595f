"""How the CLI reports failure: a message on stderr and the contract's exit status."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one clear message (Chinese where users read it) and exit."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def not_yet(what: str) -> NoReturn:
    fail(f"尚未提供：{what}（not yet available）", EXIT_USAGE)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
