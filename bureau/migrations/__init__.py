"""The bureau's schema under Alembic: the revisions in `versions/`, where a database stands, and bringing it to the
installed head. Alembic is imported inside the functions (a command that never opens the database does not load it).

Where a database stands (`SchemaState.status`):

- ``empty``: no bureau table: `create` makes the schema from the models and stamps head (`yibao bureau init`);
- ``current``: its alembic_version holds the installed head;
- ``behind``: an earlier revision: `upgrade` (`yibao bureau upgrade`) runs the revisions after it;
- ``pre-alembic``: the tables `create_all` made before the schema had revisions, and no alembic_version: `upgrade`
  stamps it `BASELINE` (the revision that creates exactly those tables) and runs the revisions after it;
- ``unknown``: a revision this installation does not have (a newer program upgraded it), or some bureau tables and
  no alembic_version: refused, nothing is touched.

A new revision: change `bureau/models.py`, then, on a connection to a database at head,
``alembic.command.revision(bureau.migrations.config(connection), "what changed", autogenerate=True)``, and review
what it wrote (a NOT NULL column needs a server default for the rows already there).
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from bureau import models  # noqa: F401  (registers the tables)

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPTS = Path(__file__).resolve().parent
BASELINE = "0001"
# What `create_all` made before revisions existed (revision BASELINE creates exactly these tables).
PRE_ALEMBIC_TABLES = frozenset({
    "assignment", "assignmentmember", "blobupload", "conflict", "correctionrequest", "counter", "decision",
    "devicekey", "disclosure", "drawcommitment", "drawrecord", "enrolltoken", "inspector", "institution", "logleaf",
    "receivedrecord", "recordblob", "rectificationorder", "registrychange", "registryimport", "rejection",
    "requestnonce", "reviewcase", "reviewevent", "signedtreehead", "staffaccount", "staffsession", "storedblob",
})
UPGRADE_COMMAND = "yibao bureau upgrade"
SCHEMA_LOCK_KEY = 0x79696261  # "yiba": the PostgreSQL advisory lock that one schema change at a time holds


class SchemaError(Exception):
    pass


@dataclass(frozen=True)
class SchemaState:
    revision: str | None  # what alembic_version holds
    head: str  # the installed head
    known: bool  # revision is one of the installed revisions
    tables: frozenset[str]

    @property
    def status(self) -> str:
        if self.revision is not None:
            return "current" if self.revision == self.head else "behind" if self.known else "unknown"
        bureau_tables = self.tables & (PRE_ALEMBIC_TABLES | set(SQLModel.metadata.tables))
        if not bureau_tables:
            return "empty"
        return "pre-alembic" if PRE_ALEMBIC_TABLES <= self.tables else "unknown"

    def problem(self) -> str | None:
        """Why the bureau may not run on this database as it is, and what to do; None when it may."""
        status = self.status
        if status == "behind":
            return (f"数据库结构版本为 {self.revision}，本程序需要 {self.head}：请先备份数据库，再运行 "
                    f"{UPGRADE_COMMAND}（--db/--data 与本命令相同）升级数据库结构")
        if status == "pre-alembic":
            return (f"数据库由未记录结构版本的旧版程序创建（没有 alembic_version 表）：请先备份数据库，再运行 "
                    f"{UPGRADE_COMMAND}（--db/--data 与本命令相同）升级数据库结构")
        if status == "unknown" and self.revision is not None:
            return (f"数据库结构版本 {self.revision} 不是本程序的版本（最新为 {self.head}），可能已由更新版本的程序升级："
                    "请使用与数据库相符的程序版本")
        if status == "unknown":
            missing = "、".join(sorted(PRE_ALEMBIC_TABLES - self.tables)[:5])
            return f"数据库中只有局端的部分表（缺少 {missing} 等），也没有 alembic_version 表：无法识别其结构版本，未改动"
        return None


def config(connection: Connection) -> Config:
    """Alembic's configuration for this connection (env.py takes it from `attributes`); no alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def state(connection: Connection) -> SchemaState:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(SCRIPTS))
    head = scripts.get_current_head()
    assert head is not None  # the revisions are one line, installed with the package
    revision = MigrationContext.configure(connection).get_current_revision()
    known = revision is not None and revision in {script.revision for script in scripts.walk_revisions()}
    return SchemaState(revision, head, known, frozenset(inspect(connection).get_table_names()))


@contextmanager
def schema_change(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other process changing the schema runs beside: nodes started together on an empty
    database would otherwise both create the tables (one fails on "already exists") and both stamp alembic_version.
    PostgreSQL: a transaction-scoped advisory lock; SQLite: an exclusive lock on a file beside the database file."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            yield connection
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with engine.begin() as connection:
            yield connection
        return
    with open(f"{database}.schema-lock", "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, also if the process dies
        with engine.begin() as connection:
            yield connection


def create(engine: Engine) -> None:
    """Create the schema from the models on an empty database and stamp it head; refuse any other database."""
    from alembic import command

    with schema_change(engine) as connection:
        current = state(connection)
        if current.status == "current":  # another node created it while this one waited
            return
        problem = current.problem()
        if problem is not None:
            raise SchemaError(problem)
        SQLModel.metadata.create_all(connection)
        command.stamp(config(connection), "head")


def upgrade(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Bring the database to head in one transaction (on PostgreSQL all or nothing); a pre-Alembic database is first
    stamped BASELINE. Returns where it stood before and after."""
    from alembic import command

    with schema_change(engine) as connection:
        before = state(connection)
        if before.status == "unknown":
            raise SchemaError(before.problem())
        cfg = config(connection)
        if before.status == "pre-alembic":
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
        after = state(connection)
    return before, after


def installed_head() -> str | None:
    """The one revision of versions/ that no other revises, read from their `revision = …` and `down_revision = …`
    lines without Alembic (a test holds it to Alembic's own reading); None if that is not one revision."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (SCRIPTS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(re.findall(r"^revision = ['\"](\w+)['\"]$", source, re.MULTILINE))
        revised.update(re.findall(r"^down_revision = ['\"](\w+)['\"]$", source, re.MULTILINE))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _stamped(connection: Connection) -> str | None:
    """The revision alembic_version holds, read without Alembic (None: no such table, or not one row)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if len(found) == 1 else None


def require_current(engine: Engine) -> None:
    """Raise SchemaError, saying which command to run, unless the database is at the installed head (an empty one
    is given the schema, as `yibao bureau init` would)."""
    with engine.connect() as connection:
        stamped = _stamped(connection)
        if stamped is not None and stamped == installed_head():  # every start of a bureau process: no Alembic
            return
    # Judged under the schema lock: outside it, a node could see another's tables before their stamp (SQLite does
    # not hold DDL in the transaction) and take the database for a pre-Alembic one.
    create(engine)
