"""Where the records live and how to connect: URL resolution, engine set-up and migrations.

- ``B12DX_DATABASE_URL`` (or an explicit URL) wins; ``postgresql://`` URLs use psycopg 3.
- Otherwise a SQLite file ``records.sqlite3`` in the user's data directory (``platformdirs``);
  ``B12DX_DATA_DIR`` moves that directory.
- SQLite runs in WAL mode with ``synchronous=FULL`` (a committed transaction survives a crash
  of the process or of the machine), foreign keys on and a busy timeout; write transactions
  start with ``BEGIN IMMEDIATE`` so that concurrent writers queue instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ..errors import B12dxError, InputError

__all__ = ["DATABASE_ENV", "create_engine", "default_url", "migrate", "resolve_url"]

DATABASE_ENV = "B12DX_DATABASE_URL"
DATA_DIR_ENV = "B12DX_DATA_DIR"
WRITE_OPTION = "b12dx_write"
# How long a SQLite writer waits for the lock before giving up (milliseconds); not clinical.
SQLITE_BUSY_TIMEOUT_MS = 60_000


def default_url() -> str:
    """The SQLite file in the user's data directory (created if missing)."""
    base = os.environ.get(DATA_DIR_ENV)
    if base:
        directory = Path(base).expanduser()
    else:
        import platformdirs

        directory = Path(platformdirs.user_data_dir("b12dx", appauthor=False))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'records.sqlite3'}"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: *url*, else ``$B12DX_DATABASE_URL``, else the default file."""
    raw = url or os.environ.get(DATABASE_ENV) or default_url()
    if "://" not in raw:  # a plain path means a SQLite file
        raw = f"sqlite:///{Path(raw).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            raw = "postgresql+psycopg://" + raw[len(prefix) :]
    try:
        parsed = sa.make_url(raw)
    except sa.exc.ArgumentError:
        raise InputError(
            f"{raw!r} is not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
            where=DATABASE_ENV,
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InputError(
            f"database {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL",
            where=DATABASE_ENV,
        )
    return raw


def create_engine(url: str) -> sa.Engine:
    """An engine configured for safe concurrent use of the record store."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise InputError(
                "an in-memory SQLite database would lose every record; give a file",
                where=DATABASE_ENV,
            )
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _sqlite_events(engine)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        from ..errors import MissingExtraError

        raise MissingExtraError("PostgreSQL storage", "store", exc.name or "psycopg") from None


def _sqlite_events(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control away from the sqlite3 module: we emit BEGIN ourselves
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # a write transaction takes the write lock up front, so two writers never deadlock
        # upgrading shared locks (which SQLite reports as "database is locked" at once)
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe to race)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "b12dx:migrations")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # one migrator at a time; the others wait, then find nothing to do
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7312012)")
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except Exception as exc:  # report, with the revision, what failed
                raise B12dxError(f"database migration to {head} failed: {exc}") from exc
