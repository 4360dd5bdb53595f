"""Engine creation for SQLite (default, WAL) and PostgreSQL (`postgresql+psycopg://…`).

Every failure to reach or open the database becomes a `DatabaseUnavailable` with one clear sentence,
so the CLI can exit 1 without a traceback.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlmodel import create_engine

from bureau import migrations


class DatabaseUnavailable(Exception):
    pass


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine and prove it answers; raise DatabaseUnavailable otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"数据库地址格式不正确：{url!r}（应为 sqlite:///路径 或 postgresql+psycopg://…）") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(f"不支持的数据库类型：{backend}（仅支持 sqlite 与 postgresql）")
    try:
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _enable_sqlite_wal)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=10,
                                   connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
    except (OperationalError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable(f"无法连接数据库 {parsed.render_as_string(hide_password=True)}：{reason}") from None
    except ImportError as exc:  # a driver named in the URL that is not installed (postgresql+psycopg2://…)
        raise DatabaseUnavailable(f"数据库驱动 {exc.name or parsed.drivername} 未安装（PostgreSQL 请写作 "
                                  "postgresql+psycopg://…）") from None
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"无法打开数据库：{exc}") from None
    return engine


def create_schema(engine: Engine) -> None:
    """The schema from the models on an empty database, stamped with the installed Alembic head
    (`bureau.migrations`); a database already at head is left as it is, any other is refused (SchemaError)."""
    migrations.create(engine)
