"""Upgrades keep the data (bureau/migrations), on SQLite and PostgreSQL: the bureau the program of commit c619c35
left (tests/data/bureau-c619c35, made by its make.py: records synced with photos, a corrected version, the merkle
log, review cases, an issued decision) is refused by `yibao serve` until `yibao bureau upgrade` brings it to head;
then every row and file is as it was, the schema is what the models declare, `yibao bureau verify-log` passes and a
tablet syncs to it again. A database at an earlier revision, or at one this program does not know, is refused too."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, col, select

from bureau import migrations
from bureau.db import make_engine
from bureau.models import Decision, ReviewCase, ReviewEvent
from bureau.review import chain_problems
from bureau.settings import BureauSettings
from inspector_app import device
from tests.support import YIBAO, child_env, free_port, run_cli, start_bureau, stop
from tests.sync_support import bureau_holdings, enroll_tablet, fill_inspection
from tests.test_review_support import Staff

FIXTURE = Path(__file__).resolve().parent / "data" / "bureau-c619c35"


def _load_rows_into_postgres(sqlite_file: Path, url: str) -> None:
    """That commit's PostgreSQL DDL, and the rows of its SQLite bureau copied in (times as the UTC they were)."""
    source, target = create_engine(f"sqlite:///{sqlite_file}"), create_engine(url)
    with target.begin() as conn:
        for statement in (FIXTURE / "schema.postgresql.sql").read_text(encoding="utf-8").split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    old, new = MetaData(), MetaData()
    old.reflect(source)
    new.reflect(target)
    with source.connect() as src, target.begin() as dst:
        for table in new.sorted_tables:
            zoned = [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]
            rows = [dict(row._mapping) for row in src.execute(select(old.tables[table.name]))]
            for row in rows:
                row.update({name: row[name].replace(tzinfo=timezone.utc) for name in zoned if row[name] is not None})
            if rows:
                dst.execute(table.insert(), rows)
            if "id" in table.c and table.c.id.autoincrement is True and rows:  # as if the rows had been inserted
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                 f"(SELECT max(id) FROM {table.name}))"))
    source.dispose()
    target.dispose()


def old_bureau(settings: BureauSettings, tmp_path: Path) -> None:
    """The bureau of commit c619c35 at `settings`: its keys, blobs and statements, and its database (the SQLite file
    it wrote, or on PostgreSQL its DDL with the same rows)."""
    shutil.copytree(FIXTURE, settings.data_dir, ignore=shutil.ignore_patterns("make.py", "*.sql", "bureau.db"))
    database = make_url(settings.database_url)
    if database.get_backend_name() == "sqlite":
        shutil.copy(FIXTURE / "bureau.db", str(database.database))
        return
    copy = tmp_path / "c619c35.db"
    shutil.copy(FIXTURE / "bureau.db", copy)
    _load_rows_into_postgres(copy, settings.database_url)


def rows(url: str, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every bureau table (of the given columns), in a stable order."""
    engine = create_engine(url)
    found = MetaData()
    found.reflect(engine)
    out = {}
    with engine.connect() as conn:
        for table in found.sorted_tables:
            if table.name == "alembic_version" or (columns is not None and table.name not in columns):
                continue
            names = columns[table.name] if columns is not None else [c.name for c in table.columns]
            out[table.name] = sorted((tuple(row) for row in conn.execute(select(*(table.c[n] for n in names)))),
                                     key=repr)
    engine.dispose()
    return out


def schema_drift(url: str) -> list[Any]:
    """What differs between the database's schema and the models (alembic's autogenerate comparison)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    return drift


def status(url: str) -> migrations.SchemaState:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = migrations.state(conn)
    engine.dispose()
    return found


def serve_refused(settings: BureauSettings) -> str:
    """Start `yibao serve` and expect it to exit non-zero before serving; its stderr."""
    result = subprocess.run([*YIBAO, "serve", "--db", settings.database_url, "--data", str(settings.data_dir),
                             "--port", str(free_port())], capture_output=True, text=True, env=child_env(), timeout=120)
    assert result.returncode != 0, result.stderr
    return result.stderr


def cli(settings: BureauSettings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_cli(*args, "--db", settings.database_url, "--data", str(settings.data_dir), check=check)


def test_an_old_bureau_is_refused_then_upgraded_with_everything_intact(bureau_db_url, tmp_path):
    settings = BureauSettings(tmp_path / "bureau", bureau_db_url)
    old_bureau(settings, tmp_path)
    assert status(bureau_db_url).status == "pre-alembic"
    before = rows(bureau_db_url)
    assert {name: len(found) for name, found in before.items() if name in (
        "receivedrecord", "logleaf", "signedtreehead", "storedblob", "reviewcase", "reviewevent", "decision")} == {
        "receivedrecord": 3, "logleaf": 3, "signedtreehead": 3, "storedblob": 1, "reviewcase": 2, "reviewevent": 10,
        "decision": 1}

    said = serve_refused(settings)
    assert "yibao bureau upgrade" in said and "alembic_version" in said, said
    assert "yibao bureau upgrade" in cli(settings, "bureau", "verify-log", check=False).stderr
    assert status(bureau_db_url).status == "pre-alembic"  # refusing touched nothing

    upgraded = cli(settings, "bureau", "upgrade")
    assert f"数据库结构已升级到版本 {status(bureau_db_url).head}（原为未记录版本的旧结构）" in upgraded.stderr
    assert status(bureau_db_url).status == "current"
    assert schema_drift(bureau_db_url) == []
    assert rows(bureau_db_url, {name: _columns(bureau_db_url, name, before) for name in before}) == before
    assert "未改动" in cli(settings, "bureau", "upgrade").stderr  # again: nothing to do

    report = json.loads(cli(settings, "bureau", "verify-log", "--json").stdout)
    assert report == {"ok": True, "log_size": 3, "tree_heads": 3, "records": 3, "problems": []}
    held = bureau_holdings(settings)  # every blob on disk, hashing to its name
    assert held.log_size == 3 and len(held.blobs) == 1
    engine = make_engine(bureau_db_url)
    with Session(engine) as session:
        [decision] = session.exec(select(Decision)).all()
        assert decision.status == "issued" and decision.fine_yuan == "4000.00" and decision.decision_no
        for case in session.exec(select(ReviewCase)).all():
            events = session.exec(select(ReviewEvent).where(ReviewEvent.record_id == case.record_id)
                                  .order_by(col(ReviewEvent.seq))).all()
            assert chain_problems(events, case.events, case.last_event_hash) == []
    engine.dispose()

    bureau = start_bureau(settings)
    try:
        reviewer = Staff(bureau.url, "shenhe")
        case = reviewer.get(f"/v1/review/records/{decision.record_id}")
        assert case["status"] == "已决定" and case["version"] == 2 and not case["audit_problems"]
        assert reviewer.get(f"/v1/review/records/{decision.record_id}/decision.pdf").startswith(b"%PDF")
        tablet = enroll_tablet(bureau, tmp_path / "tablet")
        fill_inspection(tablet, photos=[b"\xff\xd8\xff" + bytes(range(256)) * 40], new=True)
        report_ = device.sync(tablet.engine, timeout=60)
        assert report_.error is None, report_
        tablet.engine.dispose()
    finally:
        stop(bureau.process)
    assert json.loads(cli(settings, "bureau", "verify-log", "--json").stdout)["log_size"] == 4


def _columns(url: str, table: str, before: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """The columns `table` had before the upgrade (the first ones, in order: revisions only add columns at the end)."""
    engine = create_engine(url)
    found = MetaData()
    found.reflect(engine, only=[table])
    engine.dispose()
    width = len(before[table][0]) if before[table] else len(found.tables[table].columns)
    return [c.name for c in found.tables[table].columns][:width]


def test_a_database_at_an_earlier_revision_is_refused_until_upgraded(bureau_db_url, tmp_path):
    settings = BureauSettings(tmp_path / "bureau", bureau_db_url)
    engine = make_engine(bureau_db_url)
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), migrations.BASELINE)
    engine.dispose()
    assert cli(settings, "bureau", "init", check=False).returncode == 1  # init does not upgrade
    said = serve_refused(settings)
    assert f"数据库结构版本为 {migrations.BASELINE}" in said and "yibao bureau upgrade" in said, said

    cli(settings, "bureau", "upgrade")
    assert status(bureau_db_url).status == "current" and schema_drift(bureau_db_url) == []
    done = run_cli("bureau", "init", "--db", bureau_db_url, "--data", str(settings.data_dir))
    assert "已创建数据库与机构密钥" in done.stderr
    bureau = start_bureau(settings)
    stop(bureau.process)


def test_an_unknown_revision_or_a_partial_schema_is_refused_and_left_alone(bureau_db_url, tmp_path):
    settings = BureauSettings(tmp_path / "bureau", bureau_db_url)
    engine = make_engine(bureau_db_url)
    migrations.create(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert "数据库结构版本 9999 不是本程序的版本" in serve_refused(settings)
    assert cli(settings, "bureau", "upgrade", check=False).returncode == 1
    assert status(bureau_db_url).revision == "9999"

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP TABLE logleaf"))
    refused = cli(settings, "bureau", "upgrade", check=False)
    assert refused.returncode == 1 and "缺少 logleaf" in refused.stderr
    engine.dispose()


def test_the_revisions_build_what_the_models_declare(bureau_db_url):
    """From nothing, revision by revision: the baseline is exactly the tables of before, and head is the models."""
    engine = make_engine(bureau_db_url)
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), migrations.BASELINE)
    with engine.connect() as conn:
        assert migrations.state(conn).tables == migrations.PRE_ALEMBIC_TABLES | {"alembic_version"}
    before, after = migrations.upgrade(engine)
    assert (before.revision, after.revision, after.status) == (migrations.BASELINE, after.head, "current")
    assert migrations.installed_head() == after.head  # what the bureau's start-up compares with, without Alembic
    engine.dispose()
    assert schema_drift(bureau_db_url) == []


def test_init_on_an_empty_database_stamps_head(bureau_db_url, tmp_path):
    settings = BureauSettings(tmp_path / "bureau", bureau_db_url)
    cli(settings, "bureau", "init")
    assert status(bureau_db_url).status == "current" and schema_drift(bureau_db_url) == []


def _open_empty(url: str, data_dir: str) -> str:
    """One node starting: `open_bureau` gives an empty database its schema (run in a child process)."""
    from bureau.service import BureauStartError, open_bureau

    try:
        open_bureau(BureauSettings(data_dir=Path(data_dir), database_url=url)).engine.dispose()
    except BureauStartError as exc:
        return str(exc)
    return ""


def test_nodes_starting_together_on_an_empty_database(bureau_db_url, tmp_path):
    """Four processes open one empty database at once: the schema is created once, stamped once, and every node
    starts (without the lock, one node's create_all met the other's tables, and alembic_version got two rows)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        problems = pool.starmap(_open_empty, [(bureau_db_url, str(tmp_path / f"data-{n}")) for n in range(4)])
    assert problems == ["", "", "", ""]
    engine = make_engine(bureau_db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            migrations.installed_head()]
    engine.dispose()
