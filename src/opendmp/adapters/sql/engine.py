"""Engines for the two supported databases, and schema migrations run from code.

SQLite (the embedded default) runs in WAL mode and opens every transaction with
`BEGIN IMMEDIATE`: nearly every unit of work writes (each read is audited, AUD-1), and taking
the write lock up front means a writer waits on `busy_timeout` instead of failing with
SQLITE_BUSY when a read transaction tries to become a write one. PostgreSQL goes through
psycopg 3 (docs/storage.md, concurrency model).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` means psycopg 3 here; other URLs are kept as given."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **options: Any) -> Engine:
    """An engine configured for OpenDMP's transaction model; `options` go to create_engine."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        options.pop("pool_size", None)  # SQLite: one writer at a time, the default pool
        engine = create_engine(parsed, **options)
        _configure_sqlite(engine)
        return engine
    # No ping before each checkout (a round trip per request): a dropped connection fails one
    # request with OperationalError (503, retry) and SQLAlchemy then empties the whole pool.
    options.setdefault("pool_recycle", 3600)
    # Connections beyond pool_size are opened for one request and closed after it: a new
    # PostgreSQL backend each time. Keep the pool as large as the requests served at once.
    if "pool_size" in options:
        options.setdefault("max_overflow", 2 * options["pool_size"])
    return create_engine(parsed, **options)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below (pysqlite would
        # otherwise open deferred transactions itself, and commit before DDL).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration without alembic.ini: the scripts ship inside the package.

    Alembic is imported here, not at module level: a server that does not migrate never loads it
    (about 10 MB less per worker process).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine_or_url: Engine | str | URL, revision: str = "head") -> None:
    """Migrate the database to `revision` (`opendmp db upgrade`, tests)."""
    from alembic import command

    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
