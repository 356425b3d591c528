"""SQL statements per request: what each FHIR interaction sends to PostgreSQL (issue 5, item 6).

A figure that does not move with the machine's load, unlike throughput on a shared machine:
the app runs in-process (httpx's ASGI transport) on a fresh PostgreSQL database, and a
SQLAlchemy event counts the statements and commits of each request. The load generator's own
requests are used (`load.OpenDmpTarget`, `load.bundle_maker`: 20 KB PDF, full PDSm metadata).
CPU per request is this process's (client and server together): an upper bound of the server's.

    PYTHONPATH=. .venv/bin/python -m benchmarks.roundtrips [--requests 200] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import event

from benchmarks.bulkload import create_database
from benchmarks.datagen import DocumentMix, NamePool, patient, professionals
from benchmarks.load import FHIR_JSON, OpenDmpTarget, Session, bundle_maker
from opendmp.adapters.sql.engine import make_engine
from opendmp.bootstrap import build
from opendmp.domain.habilitation import HabilitationMatrix
from opendmp.settings import Settings
from opendmp.web.app import create_app

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opendmp_bench_roundtrips"


class StatementLog:
    """The statements of the current request: first words of each, and commits."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.lines.append(" ".join(sql.split()[:4]))

    def commit(self, _conn: Any) -> None:
        self.lines.append("COMMIT")


async def measure(app: Any, log: StatementLog, requests: int, *, show: bool) -> dict[str, Any]:
    names = NamePool.build(7)
    staff = professionals(200, names, seed=7)
    caller = next(p for p in staff if p.producer.name == "general-practice")
    transport = httpx.ASGITransport(app=app)
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        target = OpenDmpTarget()
        headers = await target.headers(client, caller)
        # Bundle n goes to record n % 2: even ones fill the first record (ITI-65, ITI-68); the
        # second holds 10 documents, the national average (ITI-67 renders a page of them).
        people = [patient(30_000_000 + i, names, seed=7) for i in range(2)]
        opened = [(p, await target.open_patient(client, headers, p)) for p in people]
        session = Session(client, target, headers, opened)
        make = bundle_maker(session, DocumentMix(staff), random.Random(7), str(int(time.time())))
        unreadable = HabilitationMatrix.default().denied_types(caller.profession)  # R-PS-5
        retrievals: list[str] = []

        bodies = {2 * n: make(2 * n) for n in range(requests + 21)}  # built before the clock

        async def submit(n: int) -> httpx.Response:
            body = bodies.pop(n, None) or make(n)
            post = headers | {"Content-Type": FHIR_JSON}
            response = await client.post("/fhir", content=body, headers=post)
            if session.bundle_types.get(n) not in unreadable:
                retrievals.extend(target.retrievals(response.json()))
            return response

        async def iti65(n: int) -> httpx.Response:
            return await submit(2 * n)

        for n in range(10):
            await submit(2 * n + 1)

        async def iti67(_: int) -> httpx.Response:
            params = {"patient": opened[1][1], "status": "current"}
            return await client.get("/fhir/DocumentReference", params=params, headers=headers)

        async def iti68(n: int) -> httpx.Response:
            url = retrievals[n % len(retrievals)]
            return await client.get(url, headers={**headers, "Accept": "application/pdf"})

        operations: dict[str, Callable[[int], Awaitable[httpx.Response]]] = {
            "ITI-65 provide (1 document)": iti65,
            "ITI-67 find (one record)": iti67,
            "ITI-68 retrieve": iti68,
        }
        for name, operation in operations.items():
            for n in range(20):  # warm-up: statement caches, prepared statements, known readers
                await operation(n)
            log.lines.clear()
            began = time.process_time()
            statuses: Counter[int] = Counter()
            for n in range(requests):
                statuses[(await operation(20 + n)).status_code] += 1
            cpu_ms = (time.process_time() - began) / requests * 1000
            commits = log.lines.count("COMMIT")
            statements = len(log.lines) - commits
            figures[name] = {
                "statements": round(statements / requests, 2),
                "commits": round(commits / requests, 2),
                "cpu_ms": round(cpu_ms, 2),
                "statuses": dict(statuses),
            }
            print(
                f"{name:28} {statements / requests:4.1f} statements + {commits / requests:.1f}"
                f" commit per request, {cpu_ms:5.2f} ms CPU (client + server), {dict(statuses)}"
            )
            if show:
                log.lines.clear()
                await operation(20 + requests)
                for line in log.lines:
                    print(f"    {line}")
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200, help="per interaction")
    parser.add_argument("--show", action="store_true", help="print one request's statements")
    args = parser.parse_args(argv)
    create_database(args.database_url, fresh=True)
    engine = make_engine(args.database_url, pool_size=2)
    log = StatementLog()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        event.listen(engine, "before_cursor_execute", log.statement)
        event.listen(engine, "commit", log.commit)
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(home=Path(home), demo_mode=True, allow_test_ins=True)
            app = create_app(build(settings, create_keys=True, engine=engine))
            return asyncio.run(measure(app, log, args.requests, show=args.show))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
