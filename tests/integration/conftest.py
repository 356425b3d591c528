"""Database fixtures: every integration test runs on SQLite and on PostgreSQL (STYLE.md).

SQLite: one migrated file per session. PostgreSQL: a fresh `opendmp_test_<random>` database per
session on OPENDMP_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432), migrated, dropped at
the end; unreachable → skipped with the reason, or a failure when CI=true. Tables are emptied
after each test.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from opendmp.adapters.sql import SqlUnitOfWorkFactory, make_engine, metadata, upgrade
from tests.postgres import admin_engine


def wipe(engine: Engine) -> None:
    """Empty every table, children first (the schema stays)."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite") / "opendmp.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    admin, admin_url = admin_engine()
    name = f"opendmp_test_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(admin_url.set(database=name))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database, once per engine."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    yield engine
    wipe(engine)


@pytest.fixture
def pg_engine(postgres_engine: Engine) -> Iterator[Engine]:
    """PostgreSQL only, for row-locking behaviour SQLite does not have (mark tests postgres)."""
    yield postgres_engine
    wipe(postgres_engine)


@pytest.fixture
def uow_factory(engine: Engine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)
