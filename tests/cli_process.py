"""`yibao` commands and servers as processes of their own, forked from a server that has imported their libraries once.

A test that starts `python -m yibao …` pays one to two and a half seconds of a core before the command does anything:
the interpreter starts and imports SQLAlchemy, SQLModel, the bureau's models, cryptography, the drivers, and for the
servers FastAPI, uvicorn and Flet. Hundreds of commands and servers made that a third of the suite's Python time on two
cores. Here each still runs in a fresh process with its own arguments, environment, working directory, streams, exit
code and pid (a test may signal it), so engines, files and locks end with it as they do for `python -m yibao`; only
the imports are done before the fork, in `multiprocessing`'s forkserver: a single-threaded process of its own, not
this test process with its threads. Tests that check what a command imports, or that must start it exactly as a user
does (the README's commands), run `python -m yibao` instead; so do those that start `yibao serve --workers N` (a
process forked here is daemonic: it may not start multiprocessing's children, and it is killed when the test process
ends).
"""

from __future__ import annotations

import atexit
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext, ForkServerProcess
from pathlib import Path

# What the commands and servers import when they run (the command line imports little at its top:
# tests/test_cli_start.py).
PRELOAD = ["yibao.cli", "sqlalchemy", "sqlmodel", "psycopg", "requests", "cryptography.hazmat.primitives.ciphers.aead",
           "bureau.models", "bureau.service", "bureau.ingest", "bureau.registry", "bureau.draw", "bureau.enrollment",
           "bureau.api", "uvicorn", "inspector_app.device", "inspector_app.store", "inspector_app.outbox",
           "checklists.scoring", "checklists.penalty", "yibao.app_shell"]
_context: ForkServerContext | None = None


def _forkserver() -> ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
        # Before multiprocessing's own exit handler (registered earlier, so run later), which would wait without end
        # for a server still finishing its requests: what a test left running is killed.
        atexit.register(_kill_left_running)
    return _context


def _kill_left_running() -> None:
    for process in multiprocessing.active_children():
        process.kill()


class ForkedProcess:
    """A started command, with what tests use of `subprocess.Popen`: pid, poll, wait, returncode, terminate, kill
    (multiprocessing's, which ignore a process that has just ended, as Popen's do)."""

    def __init__(self, args: Sequence[str], process: ForkServerProcess):
        self.args, self._process = ["yibao", *args], process

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


def start(args: Sequence[str], env: Mapping[str, str], *, stdin: Path | None = None, stdout: Path,
          stderr: Path | None = None) -> ForkedProcess:
    """`python -m yibao ARGS` with `env` as its whole environment, reading `stdin` (else nothing), appending its
    output to `stdout` and its errors to `stderr` (else to `stdout` too)."""
    process = _forkserver().Process(target=_command, args=(list(args), dict(env), os.getcwd(), str(stdin or os.devnull),
                                                           str(stdout), str(stderr or stdout)), daemon=True)
    process.start()
    return ForkedProcess(args, process)


def run(args: Sequence[str], env: Mapping[str, str], input: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m yibao ARGS` run to its end; returns what `subprocess.run(…, capture_output=True, text=True)` would,
    and raises `subprocess.TimeoutExpired` as it does."""
    with tempfile.TemporaryDirectory(prefix="yibao-cli-") as tmp:
        stdin, stdout, stderr = (Path(tmp) / name for name in ("stdin", "stdout", "stderr"))
        stdin.write_text(input or "", encoding="utf-8")
        process = start(args, env, stdin=stdin, stdout=stdout, stderr=stderr)
        try:
            code = process.wait(timeout)
        except BaseException:  # a timeout, or the test interrupted: the command does not outlive it
            process.kill()
            process.wait()
            raise
        out, err = (path.read_text(encoding="utf-8") if path.exists() else "" for path in (stdout, stderr))
    return subprocess.CompletedProcess(["yibao", *args], code, out, err)


def _command(args: list[str], env: dict[str, str], cwd: str, stdin: str, stdout: str, stderr: str) -> None:
    """In the forked process: take the caller's streams (unbuffered, as PYTHONUNBUFFERED makes them), environment and
    directory, then do what `python -m yibao` does, and exit with its code (an uncaught exception: its traceback on
    stderr and 1, as the interpreter does)."""
    for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
                            (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False), encoding="utf-8",
                                  errors="backslashreplace", write_through=True)
    code = 0
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a fresh interpreter
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = ["yibao", *args]
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
