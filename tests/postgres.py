"""The one place that says how tests reach PostgreSQL: fail when CI=true, else skip."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from opendmp.adapters.sql import make_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "OPENDMP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def admin_engine() -> tuple[Engine, URL]:
    """An autocommit engine on the admin database, or skip (fail when CI=true) if unreachable."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    admin = make_engine(
        admin_url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as error:
        admin.dispose()
        detail = " ".join(str(error.orig).split())
        reason = f"PostgreSQL unreachable at {admin_url.render_as_string()}: {detail}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    return admin, admin_url
