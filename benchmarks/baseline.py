"""The raw-storage limit (issue 5, item 3): what this machine's PostgreSQL and disk allow.

The rows an ITI-65 submission leaves (document, author row, submission set, chained audit
entry and head; benchmarks/rows.py) written with plain SQL through psycopg, ONE TRANSACTION
PER DOCUMENT, plus the same encrypted blob (AES-256-GCM under the record's data key, written
by the core's FilesystemBlobStore with its fsyncs). No HTTP, no FHIR, no policy, no reads:
OpenDMP's ITI-65 throughput is reported as a ratio of this.

    .venv/bin/python -m benchmarks.baseline --documents 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.bulkload import conninfo, copy_batch, create_database
from benchmarks.datagen import DocumentMix, NamePool, Patient, Professional, patient, professionals
from benchmarks.rows import COLUMNS, Batch, Chain, RowFactory
from benchmarks.stats import PhaseResult, Recorder
from opendmp.adapters.blobs import FilesystemBlobStore
from opendmp.adapters.crypto import EnvelopeVault, FileKeyProvider
from opendmp.services.ports import WrappedKey

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opendmp_bench_baseline"
DEFAULT_HOME = Path("var/bench/baseline")


def _insert(table: str) -> sql.Composed:
    columns = COLUMNS[table]
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.SQL(", ").join(sql.Placeholder() for _ in columns),
    )


INSERT_DOCUMENT = _insert("documents")
INSERT_AUTHOR = _insert("document_authors")
INSERT_SET = _insert("submission_sets")
INSERT_AUDIT = _insert("audit_entries")
LOCK_HEAD = "SELECT last_sequence, last_hash FROM audit_heads WHERE record_id = %s FOR UPDATE"
MOVE_HEAD = "UPDATE audit_heads SET last_sequence = %s, last_hash = %s WHERE record_id = %s"


@dataclass(frozen=True)
class Work:
    """One document to write: its rows, its plaintext, its record's key, its author."""

    record_id: str
    key: WrappedKey
    author: Professional
    document: tuple[Any, ...]
    author_row: tuple[Any, ...]
    submission_set: tuple[Any, ...]
    blob_key: str
    plaintext: bytes


def prepare(
    url: str, home: Path, documents: int, *, blob_bytes: int, seed: int
) -> tuple[list[Work], RowFactory, FilesystemBlobStore]:
    """Untimed: a fresh database with records (by COPY), and the documents' rows in memory."""
    create_database(url, fresh=True)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "master-keys.json").exists():
        FileKeyProvider.create(home / "master-keys.json")
    store = FilesystemBlobStore(home / "blobs")
    names = NamePool.build(seed)
    staff = professionals(200, names, seed=seed)
    vault = EnvelopeVault(FileKeyProvider(home / "master-keys.json"))
    now = datetime.now(UTC)
    factory = RowFactory(vault, DocumentMix(staff), staff, blob_bytes=blob_bytes, now=now)
    rng = random.Random(seed)
    setup = Batch()
    records: list[tuple[Patient, WrappedKey]] = []
    for index in range(max(10, documents // 4)):
        person = patient(index, names, seed=seed)
        batch, chain, key, opener = factory.open_record(person, rng, now - timedelta(days=30))
        batch.rows["consents"].append(factory.consent(person.record_id, opener, now, rng))
        batch.rows["audit_heads"].append((person.record_id, chain.sequence, chain.last_hash))
        setup.extend(batch)
        records.append((person, key))
    with psycopg.connect(conninfo(url)) as connection:
        copy_batch(connection, setup)
    by_id = {p.idnps: p for p in staff}
    work: list[Work] = []
    for _ in range(documents):
        person, key = rng.choice(records)
        spec = factory.mix.draw(rng, since=now - timedelta(days=30), until=now)
        one = Batch()
        factory.document(one, person, Chain(person.record_id), key, spec, now, rng, blob="plain")
        blob_key, plaintext = one.blobs[0]
        document = one.rows["documents"][0]
        work.append(
            Work(
                person.record_id, key, by_id[document[13]], document,
                one.rows["document_authors"][0], one.rows["submission_sets"][0], blob_key,
                plaintext,
            )
        )  # fmt: skip
    return work, factory, store


def _writer(
    url: str, items: queue.Queue[Work], factory: RowFactory, store: FilesystemBlobStore,
    recorder: Recorder, parts: frozenset[str],
) -> None:  # fmt: skip
    with psycopg.connect(conninfo(url)) as connection:
        while True:
            try:
                item = items.get_nowait()
            except queue.Empty:
                return
            began = time.perf_counter()
            try:
                if "blob" in parts:
                    blob = factory.vault.encrypt(item.key, item.plaintext, context=item.blob_key)
                    store.put(item.blob_key, blob)
                if "sql" not in parts:
                    recorder.ok(time.perf_counter() - began)
                    continue
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.execute(INSERT_DOCUMENT, item.document)
                    cursor.execute(INSERT_AUTHOR, item.author_row)
                    cursor.execute(INSERT_SET, item.submission_set)
                    head = cursor.execute(LOCK_HEAD, (item.record_id,)).fetchone()
                    if head is None:
                        raise LookupError(f"no audit head for {item.record_id}")
                    chain = Chain(item.record_id, head[0], head[1])
                    entry = factory.audit(
                        chain, item.author, "record:document:submit", "DOC-1",
                        item.document[15], resource_type="DocumentReference",
                        resource_id=item.document[1],
                    )  # fmt: skip
                    cursor.execute(INSERT_AUDIT, entry)
                    cursor.execute(MOVE_HEAD, (chain.sequence, chain.last_hash, item.record_id))
            except (psycopg.Error, OSError, LookupError) as error:
                recorder.error(type(error).__name__)
            else:
                recorder.ok(time.perf_counter() - began)


def run(
    url: str = DEFAULT_URL,
    home: Path = DEFAULT_HOME,
    *,
    documents: int = 2000,
    concurrency: int = 8,
    blob_bytes: int = 20_000,
    seed: int = 2,
    parts: frozenset[str] = frozenset({"sql", "blob"}),
) -> PhaseResult:
    """Write `documents` documents on `concurrency` threads; `parts` drops the SQL or the blob
    half, to see which one limits."""
    work, factory, store = prepare(url, home, documents, blob_bytes=blob_bytes, seed=seed)
    items: queue.Queue[Work] = queue.Queue()
    for item in work:
        items.put(item)
    recorder = Recorder(f"baseline ({' + '.join(sorted(parts))}, 1 tx/document)")
    threads = [
        threading.Thread(target=_writer, args=(url, items, factory, store, recorder, parts))
        for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.stop()
    result = recorder.result()
    result.extra = {"concurrency": concurrency, "blob_bytes": blob_bytes, "parts": sorted(parts)}
    return result


def main(argv: list[str] | None = None) -> PhaseResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--blob-bytes", type=int, default=20_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_BASELINE_URL", DEFAULT_URL))
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--parts", default="sql,blob", help="sql,blob | sql | blob")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        args.database_url, args.home, documents=args.documents, concurrency=args.concurrency,
        blob_bytes=args.blob_bytes, parts=frozenset(args.parts.split(",")),
    )  # fmt: skip
    print(
        f"{result.name}: {result.requests} documents in {result.wall_s:.2f} s = "
        f"{result.per_s:,.0f} documents/s (concurrency {args.concurrency}); "
        f"p50 {result.p50_ms} ms, p95 {result.p95_ms} ms, p99 {result.p99_ms} ms; "
        f"errors {result.errors} {result.error_kinds or ''}"
    )
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2))
    return result


if __name__ == "__main__":
    main()
