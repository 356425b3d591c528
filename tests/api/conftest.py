"""The ASGI app over HTTP (httpx) on a real database, real files and real encryption.

SQLite by default: one migrated file per session (tests/integration's fixture), emptied after
each test. The PostgreSQL smoke set (test_postgres.py) uses the session PostgreSQL database of
tests/integration: unreachable → skipped with the reason, or a failure when CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from opendmp.bootstrap import Application, build
from opendmp.settings import Settings
from opendmp.web.app import create_app
from tests.api.support import BASE, Api, http_client
from tests.integration.conftest import postgres_engine, sqlite_engine, wipe

__all__ = ["postgres_engine", "sqlite_engine"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Demo mode: the demo issuer signs the tests' tokens; test INS (.10) accepted (ID-2)."""
    return Settings(home=tmp_path / "home", demo_mode=True, base_url=BASE)


@pytest.fixture
def database(sqlite_engine: Engine) -> Iterator[Engine]:
    yield sqlite_engine
    wipe(sqlite_engine)


@pytest.fixture
def application(settings: Settings, database: Engine) -> Application:
    return build(settings, create_keys=True, engine=database)


@pytest.fixture
def app(application: Application) -> FastAPI:
    return create_app(application)


@pytest.fixture
def api(app: FastAPI) -> Iterator[Api]:
    with http_client(app) as client:
        yield Api(client)
