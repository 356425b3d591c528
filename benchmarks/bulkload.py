"""Fill a PostgreSQL database with N patients and M documents, fast (issue 5, item 1).

    .venv/bin/python -m benchmarks.bulkload --patients 1000000 --documents 10000000 --fresh

The core's bulk import (`opendmp records import`) opens one record per unit of work through
the services, a few hundred a second; this loader writes the same rows (benchmarks/rows.py)
with PostgreSQL COPY from several processes, into a dedicated database created and migrated
with `opendmp.adapters.sql.upgrade`, and the blobs encrypted under each record's data key into
the filesystem blob store's layout. On an empty database it drops the indexes and constraints
first and rebuilds them at the end (a sort per index instead of 10 M random inserts), then
checks a sample through the core's own repositories, blob store and vault.

Serve the result with `OPENDMP_HOME=<home> OPENDMP_DATABASE_URL=<url> OPENDMP_DEMO_MODE=true`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from benchmarks.datagen import DocumentMix, NamePool, patient, professionals
from benchmarks.rows import COLUMNS, Batch, RowFactory
from opendmp.adapters.blobs import FilesystemBlobStore
from opendmp.adapters.crypto import EnvelopeVault, FileKeyProvider
from opendmp.adapters.sql import SqlUnitOfWorkFactory, make_engine, upgrade
from opendmp.domain.audit import verify_chain
from opendmp.domain.identifiers import RecordId

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opendmp_bench"
DEFAULT_HOME = Path("var/bench/home")
DATA_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the data set's "now": reproducible dates
CHUNK = 1000  # patients per task (one transaction, one COPY per table)
console = Console()


@dataclass(frozen=True)
class LoadConfig:
    url: str
    home: Path
    patients: int
    documents: int
    workers: int
    seed: int
    blob_bytes: int
    blobs: bool
    professionals: int


def conninfo(url: str) -> str:
    """psycopg wants `postgresql://`; SQLAlchemy's `postgresql+psycopg://` is accepted too."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(url: str, *, fresh: bool) -> None:
    """Create the dedicated database (dropped first with `fresh`) and migrate it to head."""
    info = psycopg.conninfo.conninfo_to_dict(conninfo(url))
    name = str(info["dbname"])
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing database name {name!r}")
    admin = psycopg.conninfo.make_conninfo(conninfo(url), dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() and fresh:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not exists.fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))


# --- indexes and constraints, deferred to the end of an initial load ---------------------------


@dataclass(frozen=True)
class Deferred:
    """DDL to re-run after the load, in order: keys and unique constraints, indexes, FKs."""

    keys: list[str]
    indexes: list[str]
    foreign_keys: list[str]


def drop_indexes(connection: psycopg.Connection[Any]) -> Deferred:
    tables = list(COLUMNS)
    constraints = connection.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE (conrelid::regclass::text = ANY(%s) AND contype IN ('p','u','f'))"
        " OR (contype = 'f' AND confrelid::regclass::text = ANY(%s))",
        (tables, tables),
    ).fetchall()
    indexes = connection.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (tables,),
    ).fetchall()
    keys: list[tuple[str, str, str]] = []
    foreign: list[tuple[str, str, str]] = []
    for table, name, kind, definition in constraints:
        ddl = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        (foreign if kind == "f" else keys).append((table, name, ddl))
    for table, name, _ in foreign:
        connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    for table, name, _ in keys:
        connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return Deferred(
        keys=[ddl for *_, ddl in keys],
        indexes=[ddl for _, ddl in indexes],
        foreign_keys=[ddl for *_, ddl in foreign],
    )


def restore_indexes(url: str, deferred: Deferred, workers: int) -> None:
    """Rebuild on `workers` connections at once (one sort per index, parallel across them)."""

    def run(ddl: str) -> None:
        with psycopg.connect(conninfo(url), autocommit=True) as connection:
            connection.execute("SET maintenance_work_mem = '512MB'")
            connection.execute("SET max_parallel_maintenance_workers = 0")
            connection.execute(ddl)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for phase in (deferred.keys, deferred.indexes, deferred.foreign_keys):
            list(pool.map(run, phase))


# --- the worker processes ----------------------------------------------------------------------

_state: dict[str, Any] = {}


def _init_worker(config: LoadConfig) -> None:
    names = NamePool.build(config.seed)
    staff = professionals(config.professionals, names, seed=config.seed)
    vault = EnvelopeVault(FileKeyProvider(config.home / "master-keys.json"))
    _state.update(
        config=config,
        names=names,
        factory=RowFactory(vault, DocumentMix(staff), staff, blob_bytes=config.blob_bytes,
                           now=DATA_NOW),
        connection=psycopg.connect(conninfo(config.url)),
        blob_root=config.home / "blobs",
    )  # fmt: skip
    _state["connection"].execute("SET synchronous_commit = off")


def _ready(_: int) -> bool:
    return "factory" in _state


def documents_of_chunk(config: LoadConfig, start: int, stop: int) -> int:
    """The exact share of M for patients [start, stop): chunks add up to M."""
    return config.documents * stop // config.patients - config.documents * start // config.patients


def copy_batch(connection: psycopg.Connection[Any], batch: Batch) -> None:
    with connection.cursor() as cursor:
        for table, rows in batch.rows.items():
            if not rows:
                continue
            columns = ", ".join(COLUMNS[table])
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def blob_path(root: Path, key: str) -> Path:
    """FilesystemBlobStore's layout: root/ab/cd/<record>/<document>, ab.. = SHA-256(record)."""
    record = key.split("/", 1)[0]
    digest = hashlib.sha256(record.encode("utf-8")).hexdigest()
    return root / digest[:2] / digest[2:4] / key


def _write_blobs(root: Path, blobs: list[tuple[str, bytes]]) -> None:
    """Plain writes, no fsync per file: the loader syncs the filesystem once at the end."""
    made: set[Path] = set()
    for key, data in blobs:
        path = blob_path(root, key)
        if path.parent not in made:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            made.add(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def load_chunk(task: tuple[int, int]) -> dict[str, Any]:
    """Patients [start, stop) and their documents: rows by COPY in one transaction, blobs."""
    start, stop = task
    config: LoadConfig = _state["config"]
    factory: RowFactory = _state["factory"]
    rng = random.Random(config.seed * 1_000_003 + start)
    count = stop - start
    weights = [rng.lognormvariate(0, 1.0) for _ in range(count)]
    per_patient = [0] * count
    for slot in rng.choices(range(count), weights=weights, k=documents_of_chunk(config, *task)):
        per_patient[slot] += 1
    began = time.perf_counter()
    batch = Batch()
    samples = []
    for offset, docs in enumerate(per_patient):
        person = patient(start + offset, _state["names"], seed=config.seed, today=DATA_NOW.date())
        rows, opener = factory.record_with_documents(person, docs, rng, with_blobs=config.blobs)
        batch.extend(rows)
        if offset % 20 == 0:  # the manifest: records for the ITI-67 run at scale
            samples.append(
                {"record_id": person.record_id, "ins": person.ins, "documents": docs,
                 "practitioner": opener.idnps, "profession": opener.profession,
                 "structure": opener.structure, "name": opener.name}
            )  # fmt: skip
    generated = time.perf_counter()
    if config.blobs:
        _write_blobs(_state["blob_root"], batch.blobs)
    written = time.perf_counter()
    connection = _state["connection"]
    copy_batch(connection, batch)
    connection.commit()
    copied = time.perf_counter()
    return {
        "patients": count,
        "documents": batch.documents,
        "rows": batch.row_count,
        "blob_bytes": sum(len(b) for _, b in batch.blobs),
        "generate_s": generated - began,
        "blobs_s": written - generated,
        "copy_s": copied - written,
        "samples": samples,
    }


def tasks(patients: int) -> Iterator[tuple[int, int]]:
    for start in range(0, patients, CHUNK):
        yield start, min(patients, start + CHUNK)


# --- the run -----------------------------------------------------------------------------------


def verify_sample(config: LoadConfig, samples: list[dict[str, Any]]) -> int:
    """Read a few loaded records back through the core: repositories, AUD-2 chain, blobs."""
    engine = make_engine(config.url.replace("postgresql://", "postgresql+psycopg://", 1))
    uow = SqlUnitOfWorkFactory(engine)
    vault = EnvelopeVault(FileKeyProvider(config.home / "master-keys.json"))
    store = FilesystemBlobStore(config.home / "blobs")
    checked = 0
    try:
        for sample in samples[:20]:
            with uow() as work:
                record_id = RecordId(sample["record_id"])
                record = work.records.get(record_id)
                key = work.keys.get(record_id)
                documents = work.documents.list_all(record_id)
                chain = list(work.audit.chain(record_id))
            if record is None or key is None or record.ins.value != sample["ins"]:
                raise SystemExit(f"record {record_id} did not load")
            if len(documents) != sample["documents"] or verify_chain(chain):
                raise SystemExit(f"record {record_id}: documents or audit chain do not match")
            for document in documents[:3] if config.blobs else []:
                blob_key = f"{record_id}/{document.id}"
                data = vault.decrypt(key, store.get(blob_key), context=blob_key)
                if hashlib.sha1(data, usedforsecurity=False).hexdigest() != document.sha1:
                    raise SystemExit(f"blob {blob_key} does not match its metadata")
            checked += 1
    finally:
        engine.dispose()
    return checked


def database_size(url: str) -> int:
    with psycopg.connect(conninfo(url)) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def run(config: LoadConfig, *, fresh: bool) -> dict[str, Any]:
    """Create, fill, index and check the database; returns the figures."""
    started = time.perf_counter()
    config.home.mkdir(parents=True, exist_ok=True)
    key_file = config.home / "master-keys.json"
    if not key_file.exists():
        FileKeyProvider.create(key_file)
    create_database(config.url, fresh=fresh)
    stale = config.home / f"blobs.dropped-{os.getpid()}"
    if fresh and (config.home / "blobs").is_dir():
        (config.home / "blobs").rename(stale)  # the dropped database's; deleted at the end
    with psycopg.connect(conninfo(config.url), autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM records").fetchone()
        if row and row[0]:
            raise SystemExit("the database already holds records: use --fresh (drops it)")
        deferred = drop_indexes(connection)
    prepared = time.perf_counter()
    totals = {"patients": 0, "documents": 0, "rows": 0, "blob_bytes": 0}
    phases = {"generate_s": 0.0, "blobs_s": 0.0, "copy_s": 0.0}
    samples: list[dict[str, Any]] = []
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
    )  # fmt: skip
    context = multiprocessing.get_context("fork")
    with (
        Progress(*columns, console=console) as progress,
        context.Pool(config.workers, _init_worker, (config,)) as pool,
    ):
        bar = progress.add_task("documents", total=config.documents, rate="")
        pool.map(_ready, range(config.workers * 4))  # workers initialized before the clock
        prepared = time.perf_counter()
        for result in pool.imap_unordered(load_chunk, tasks(config.patients)):
            for name in totals:
                totals[name] += result[name]
            for name in phases:
                phases[name] += result[name]
            samples.extend(result["samples"])
            elapsed = time.perf_counter() - prepared
            rate = (
                f"{totals['documents'] / elapsed:,.0f} docs/s  "
                f"{totals['rows'] / elapsed:,.0f} rows/s"
            )
            progress.update(bar, completed=totals["documents"], rate=rate)
    loaded = time.perf_counter()
    console.print(f"rebuilding {len(deferred.keys) + len(deferred.indexes)} indexes and "
                  f"{len(deferred.foreign_keys)} foreign keys…")  # fmt: skip
    restore_indexes(config.url, deferred, config.workers)
    with psycopg.connect(conninfo(config.url), autocommit=True) as connection:
        connection.execute("ANALYZE")
    os.sync()
    indexed = time.perf_counter()
    checked = verify_sample(config, samples)
    if stale.is_dir():
        shutil.rmtree(stale)
    manifest = config.home / "manifest.json"
    manifest.write_text(json.dumps({"url": config.url, "seed": config.seed, "records": samples}))
    figures = {
        **totals,
        "load_s": loaded - prepared,
        "index_s": indexed - loaded,
        "total_s": time.perf_counter() - started,
        "workers": config.workers,
        "cpu_phases_s": phases,
        "database_bytes": database_size(config.url),
        "verified_records": checked,
        "manifest": str(manifest),
    }
    figures["docs_per_s"] = totals["documents"] / (indexed - prepared)
    figures["rows_per_s"] = totals["rows"] / (indexed - prepared)
    figures["load_docs_per_s"] = totals["documents"] / (loaded - prepared)
    figures["extrapolated_10m_min"] = extrapolate(figures, 10_000_000) / 60
    return figures


def extrapolate(figures: dict[str, Any], documents: int) -> float:
    """Seconds for `documents`: the load phase linearly, index builds as n log n (sorts)."""
    n = max(2, int(figures["documents"]))
    load = documents / float(figures["load_docs_per_s"])
    index = float(figures["index_s"]) * documents / n * math.log(documents) / math.log(n)
    return load + index


def report(figures: dict[str, Any], config: LoadConfig) -> None:
    console.print(
        f"[bold]bulk load[/bold]: {figures['patients']:,} patients, {figures['documents']:,} "
        f"documents, {figures['rows']:,} rows in {figures['load_s']:.1f} s + "
        f"{figures['index_s']:.1f} s indexes ({figures['workers']} workers)\n"
        f"  {figures['docs_per_s']:,.0f} documents/s, {figures['rows_per_s']:,.0f} rows/s; "
        f"database {figures['database_bytes'] / 2**30:.2f} GiB, blobs "
        f"{figures['blob_bytes'] / 2**20:,.0f} MiB; {figures['verified_records']} records "
        f"read back through the core\n"
        f"  load phase {figures['load_docs_per_s']:,.0f} documents/s; extrapolated to 10 M "
        f"documents: ~{figures['extrapolated_10m_min']:.0f} min (load linear, indexes n log n)"
    )
    console.print(f"  worker CPU by phase: {figures['cpu_phases_s']}")
    del config


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="keys, blobs, manifest")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--blob-bytes", type=int, default=1024, help="plaintext size per blob")
    parser.add_argument("--no-blobs", action="store_true", help="metadata only")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    config = LoadConfig(
        url=args.database_url, home=args.home, patients=args.patients, documents=args.documents,
        workers=args.workers, seed=args.seed, blob_bytes=args.blob_bytes, blobs=not args.no_blobs,
        professionals=max(100, args.patients // 50),
    )  # fmt: skip
    figures = run(config, fresh=args.fresh)
    report(figures, config)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
