"""`yibao` commands as processes of their own, forked from a server that has imported the command line's libraries once.

A test that runs `python -m yibao …` pays about a second of a core before the command does anything: the interpreter
starts and imports SQLAlchemy, SQLModel, the bureau's models, cryptography and the drivers. Hundreds of commands
made that a third of the suite's Python time on two cores. Here each command still runs in a fresh process with its own
arguments, environment, working directory, stdin, stdout and stderr and its own exit code, so engines, files and locks
end with it as they do for `python -m yibao`; only the imports are done before the fork
(`multiprocessing`'s forkserver: a single-threaded process of its own, not this test process with its threads).
Tests that signal, kill or time a command as a process, or check what it imports, start `python -m yibao` instead.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext
from pathlib import Path

# What the commands import when they run (their modules import little at the top: tests/test_cli_start.py).
PRELOAD = ["yibao.cli", "sqlalchemy", "sqlmodel", "psycopg", "requests", "cryptography.hazmat.primitives.ciphers.aead",
           "bureau.models", "bureau.service", "bureau.ingest", "bureau.registry", "bureau.draw", "bureau.enrollment",
           "inspector_app.device", "inspector_app.store", "inspector_app.outbox", "checklists.scoring",
           "checklists.penalty"]
_context: ForkServerContext | None = None


def _forkserver() -> ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def run(args: Sequence[str], env: Mapping[str, str], input: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m yibao ARGS` with `env` as its whole environment, `input` on its stdin; returns what
    `subprocess.run(…, capture_output=True, text=True)` would, and raises `subprocess.TimeoutExpired` as it does."""
    with tempfile.TemporaryDirectory(prefix="yibao-cli-") as tmp:
        stdin, stdout, stderr = (Path(tmp) / name for name in ("stdin", "stdout", "stderr"))
        stdin.write_text(input or "", encoding="utf-8")
        process = _forkserver().Process(target=_command, args=(list(args), dict(env), os.getcwd(), str(stdin),
                                                               str(stdout), str(stderr)))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["yibao", *args], timeout)
        out, err = (path.read_text(encoding="utf-8") if path.exists() else "" for path in (stdout, stderr))
    return subprocess.CompletedProcess(["yibao", *args], process.exitcode, out, err)


def _command(args: list[str], env: dict[str, str], cwd: str, stdin: str, stdout: str, stderr: str) -> None:
    """In the forked process: take the caller's environment, directory and streams, then do what `python -m yibao`
    does, and exit with its code (an uncaught exception: its traceback on stderr and 1, as the interpreter does)."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY | os.O_CREAT),
                            (2, stderr, os.O_WRONLY | os.O_CREAT)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
    sys.argv = ["yibao", *args]
    code = 0
    try:
        from yibao.cli import main

        main()
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
