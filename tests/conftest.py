"""Fixtures: a bureau database on each backend (SQLite always; PostgreSQL when a server answers), running bureaus."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bureau import keystore
from bureau.settings import BureauSettings
from tests.support import (
    PASSPHRASE,
    RunningBureau,
    init_bureau,
    seed_small,
    serve_in_thread,
    start_bureau,
    stop,
)

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(config, items) -> None:
    """In a pytest-xdist worker, the tests that take longest (marked `browser`, then those marked `slow`) come first:
    handed out early, they run beside the many short ones instead of making the whole run wait for them at its end;
    the browser tests one after another, so that a worker launches Chromium once (tests/browser.py). Every worker
    sorts alike, so all collect the same list; a run in one process keeps the file order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: 0 if item.get_closest_marker("browser") else 1 if item.get_closest_marker("slow")
                   else 2)


def _close_chromium() -> None:
    browser = sys.modules.get("tests.browser")
    if browser is not None:
        browser.close_chromium()


def pytest_runtest_setup(item) -> None:
    """A test not marked `browser` runs with the Chromium of tests/browser.py closed: while Playwright's sync API is
    open it keeps its event loop marked running in this thread, and `asyncio.run` would refuse to start."""
    if item.get_closest_marker("browser") is None:
        _close_chromium()


def pytest_sessionfinish(session) -> None:
    """The Chromium this test process launched for the browser tests closes with it."""
    _close_chromium()


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach the server means: skip, and say why
        return f"PostgreSQL at 127.0.0.1:5432/test does not answer: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_available() -> None:
    reason = _postgres_unavailable_reason()
    if reason:
        print(f"\nSKIP PostgreSQL tests: {reason}")
        pytest.skip(reason)


def _fresh_pg_schema_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bureau_db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty bureau database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bureau.db'}"
        return
    request.getfixturevalue("postgres_available")
    yield from _fresh_pg_schema_url()


@pytest.fixture
def bureau_settings(bureau_db_url, tmp_path) -> BureauSettings:
    return BureauSettings(data_dir=tmp_path / "bureau-data", database_url=bureau_db_url)


@pytest.fixture
def seeded_bureau(bureau_settings) -> BureauSettings:
    init_bureau(bureau_settings)
    seed_small(bureau_settings)
    return bureau_settings


@pytest.fixture
def operator_passphrase(monkeypatch) -> None:
    """The operator passphrase in this process's environment, as `yibao serve` has it: `serve_in_thread` needs it."""
    monkeypatch.setenv(keystore.PASSPHRASE_ENV, PASSPHRASE)


@pytest.fixture
def running_bureau(seeded_bureau, operator_passphrase) -> Iterator[RunningBureau]:
    """The seeded bureau, serving on loopback from a thread of this process (tests/support.py `ServerThread`)."""
    bureau = serve_in_thread(seeded_bureau)
    try:
        yield bureau
    finally:
        stop(bureau.process)


@pytest.fixture
def bureau_process(seeded_bureau) -> Iterator[RunningBureau]:
    """The seeded bureau as a `yibao serve` process, for tests that signal or measure it as one."""
    bureau = start_bureau(seeded_bureau)
    try:
        yield bureau
    finally:
        stop(bureau.process)


@pytest.fixture
def bureau_engine(bureau_db_url):
    """An engine with the bureau schema created, on each backend."""
    from bureau.db import create_schema, make_engine

    engine = make_engine(bureau_db_url)
    create_schema(engine)
    yield engine
    engine.dispose()
