"""Open an evidence store by URL and bring its schema to the newest migration.

SQLite (the default, no server) is opened in WAL mode with a busy timeout, and every transaction takes the
write lock up front (``BEGIN IMMEDIATE``), so concurrent writers wait for each other instead of failing on a
lock upgrade. PostgreSQL goes through psycopg 3; concurrent first pushes serialise their migration on an
advisory lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from .errors import StoreError

ENV_STORE = "READINESS_STORE"
SQLITE_BUSY_TIMEOUT_MS = 60_000
# An arbitrary constant: the advisory lock key that serialises migrations on one PostgreSQL database.
_MIGRATION_LOCK = 7_316_024_016


def default_store_url() -> str:
    """``$READINESS_STORE``, else ``$XDG_DATA_HOME/readiness/evidence.db`` (``~/.local/share/...``)."""
    if os.environ.get(ENV_STORE):
        return os.environ[ENV_STORE]
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'readiness' / 'evidence.db'}"


def normalise_url(store: str) -> str:
    """Accept a SQLAlchemy URL, a ``postgresql://`` / ``postgres://`` URL (driven by psycopg 3) or a file path."""
    if "://" not in store:
        return f"sqlite:///{Path(store).expanduser().resolve()}"
    scheme, rest = store.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return store


def shown(url: str) -> str:
    """The store URL as it may be printed: never with its password."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable store URL>"


def open_store(store: str | None = None, migrate: bool = True) -> Engine:
    url = normalise_url(store or default_store_url())
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a store URL: {shown(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise StoreError(f"{shown(url)}: the store is SQLite or PostgreSQL")
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise StoreError(f"cannot open the store {shown(url)}: {reason}") from exc
    return engine


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to head; a no-op (one read) when the store is already there."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    cfg = _alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
