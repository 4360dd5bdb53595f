"""The `yibao` command line starts light: importing it, `--help` and the commands that need no database, server, app or
PDF load none of the heavy libraries (each costs 0.1–0.4 s to import; see bench/bench_cli_start.py), pydantic included
(typer would import it to coerce the parameters: `yibao.typer_params` does without, as typer would)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from checklists import template_for_kind

HEAVY = ("fastapi", "starlette", "uvicorn", "flet", "fpdf", "fontTools", "sqlalchemy", "sqlmodel", "psycopg",
         "requests", "PIL", "openpyxl", "qrcode", "argon2", "duckdb", "pydantic", "cryptography")
# the project's layers that stand on them
HEAVY_LAYERS = ("inspector_app", "staff_app", "ui_kit", "documents", "bureau.models", "bureau.service", "bureau.api")
CORE_COMMANDS = ("demo", "serve", "app", "disclose", "bureau", "registry", "draw", "checklist", "penalty", "device",
                 "claims", "screen")

# Runs the command line in a fresh interpreter, then prints the heavy modules it loaded as the last line of stderr.
PROBE = """
import atexit, json, sys
heavy, layers = json.loads(sys.argv[1])
def report():
    loaded = sorted(m for m in sys.modules
                    if m.split(".")[0] in heavy or any(m == l or m.startswith(l + ".") for l in layers))
    sys.stderr.write("\\n" + json.dumps(loaded) + "\\n")
atexit.register(report)
sys.argv = ["yibao", *sys.argv[2:]]
from yibao.cli import main
if sys.argv[1:]:
    main()
"""


def heavy_modules_loaded(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps([HEAVY, HEAVY_LAYERS]), *args],
                            capture_output=True, text=True, timeout=120)
    return result, json.loads(result.stderr.strip().splitlines()[-1])


def test_importing_the_command_line_loads_no_heavy_library():
    result, loaded = heavy_modules_loaded()
    assert result.returncode == 0, result.stderr
    assert loaded == []


def test_help_lists_every_command_group_and_loads_no_heavy_library():
    from yibao.cli import app

    registered = {info.name for info in [*app.registered_commands, *app.registered_groups]}
    result, loaded = heavy_modules_loaded("--help")
    assert result.returncode == 0, result.stderr
    assert loaded == []
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == registered | set(CORE_COMMANDS)


@pytest.mark.parametrize("group", ["bureau", "registry", "draw", "checklist", "penalty", "device", "claims", "screen"])
def test_group_help_loads_no_heavy_library(group):
    result, loaded = heavy_modules_loaded(group, "--help")
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout
    assert loaded == []


def test_light_commands_load_no_heavy_library(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"template": "pharmacy", "answers": {
        item.id: {"result": "pass", "amount_yuan": None, "note": ""} for item in template_for_kind("pharmacy").items}}),
        encoding="utf-8")
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"party": {"kind": "institution", "code": "H33010600001"},
                                "findings": [{"category": "38.3", "amount_yuan": "12000.00",
                                              "intent_to_defraud": False}],
                                "refused_to_correct": False, "serious_consequences": False}), encoding="utf-8")
    for args in (["checklist", "list", "--json"], ["checklist", "list"], ["checklist", "score", str(answers)],
                 ["penalty", "decide", str(case)]):
        result, loaded = heavy_modules_loaded(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert loaded == [], args
        assert result.stdout.strip(), args


def _coerced(install: bool, argv: list[str]) -> tuple[int, str, Any]:
    """Exit code, output and the values a small typer command received, with or without `yibao.typer_params`."""
    from typer import core
    from typer._coercion import build_runtime_param

    from yibao import typer_params

    seen: list[Any] = []
    app = typer.Typer()

    @app.command()
    def command(path: Path = typer.Argument(...), name: str = typer.Option("x", "--name"),
                count: int = typer.Option(1, "--count"), flag: bool = typer.Option(False, "--flag"),
                where: Path = typer.Option(None, "--where", exists=True, dir_okay=False),
                limit: int = typer.Option(3, "--limit", min=1, max=5)) -> None:
        seen.append((path, name, count, flag, where, limit))

    original = core._TyperParameter.get_runtime_param  # typer's, or already ours when yibao.cli was imported
    if install:
        typer_params.install()
    else:  # typer's own, as typer_params found it
        core._TyperParameter.get_runtime_param = lambda self: build_runtime_param(self.type_descriptor)  # type: ignore[method-assign]
    try:
        result = CliRunner().invoke(app, argv)
    finally:
        core._TyperParameter.get_runtime_param = original  # type: ignore[method-assign]
    return result.exit_code, result.output, seen


@pytest.mark.parametrize("argv", [
    ["a.json"], ["dir/ü 文件.json", "--name", "", "--count", "-7", "--flag"], ["a", "--count", "007"],
    ["a", "--count", "3.5"], ["a", "--count", "x"], ["a", "--count", " 4"], ["a", "--name", "名称"],
    ["a", "--where", "missing.txt"], ["a", "--where", "tests"], ["a", "--where", "pyproject.toml"],
    ["a", "--limit", "9"], ["a", "--limit", "2"], [""], [],
])
def test_plain_coercion_is_typers(argv):
    """Without pydantic the values (and the errors) a command receives are those typer's own coercion gives."""
    assert _coerced(True, argv) == _coerced(False, argv)
