"""Real server processes for the interoperability tests (issue 3 §5).

- `dmp_server`: `opendmp serve --demo` on a temporary home (SQLite, demo data, demo issuer),
  one per session;
- `mhd_server`: the same deployment with `--profile mhd` (SPEC.md §10), prepared the way an
  operator does (`db upgrade`, `keys init`) and demo mode from OPENDMP_DEMO_MODE;
- `pg_server`: `OPENDMP_DATABASE_URL` on a fresh PostgreSQL database created here and dropped at
  the end. PostgreSQL unreachable: skipped with the reason, or a failure when CI=true (as in
  tests/integration).

`server` runs a test once per engine (the PostgreSQL smoke subset). Each session server's log
is checked at teardown: no request of the whole session may have answered 5xx.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator

import pytest

from tests.api.support import Api
from tests.interop.server import ServerProcess
from tests.postgres import admin_engine


def server_errors(server: ServerProcess) -> list[str]:
    """The request log lines (JSON, SPEC.md §9) whose status is 5xx."""
    if not server.log_path.exists():
        return []
    found = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            status = int(json.loads(line).get("status", 0))
        except (ValueError, TypeError):
            continue
        if status >= 500:
            found.append(line)
    return found


def _serve(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        yield server
    finally:
        server.stop()
    errors = server_errors(server)
    assert not errors, "5xx answered during the session:\n" + "\n".join(errors[:10])


@pytest.fixture(scope="session")
def dmp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _serve(ServerProcess(tmp_path_factory.mktemp("dmp") / "home").start())


@pytest.fixture(scope="session")
def mhd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("mhd") / "home", "mhd", demo_data=False)
    yield from _serve(server.prepare().start())


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (their URLs); every one is dropped at the end."""
    admin, admin_url = admin_engine()
    created: list[str] = []

    def create() -> str:
        name = f"opendmp_interop_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return admin_url.set(database=name).render_as_string(hide_password=False)

    try:
        yield create
    finally:
        with admin.connect() as connection:
            for name in created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: Callable[[], str]
) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("pg") / "home", database_url=postgres_database(), demo_data=False
    )
    yield from _serve(server.prepare().start())


ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """The smoke subset: the same test on SQLite (`--demo`) and on PostgreSQL."""
    name = "dmp_server" if request.param == "sqlite" else "pg_server"
    found: ServerProcess = request.getfixturevalue(name)
    return found


@pytest.fixture
def api(server: ServerProcess) -> Iterator[Api]:
    with server.client() as client:
        yield Api(client)
