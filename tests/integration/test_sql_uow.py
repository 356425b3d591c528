"""The unit of work on SQLite and PostgreSQL: all or nothing (DOC-1, AUD-1, SEC-5)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.audit import verify_chain
from opendmp.services.ports import UnitOfWorkFactory, WrappedKey
from tests.builders import NOW, a_document, a_notification, a_record, an_audit_entry


def test_the_factory_satisfies_the_port(uow_factory: SqlUnitOfWorkFactory) -> None:
    factory: UnitOfWorkFactory = uow_factory
    with factory() as uow:
        assert uow.records.get(a_record().id) is None


def test_nothing_is_written_without_commit(uow_factory: SqlUnitOfWorkFactory) -> None:
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
    with uow_factory() as uow:
        assert uow.records.get(record.id) is None


def test_a_failed_unit_of_work_leaves_nothing_behind(uow_factory: SqlUnitOfWorkFactory) -> None:
    """DOC-1, SEC-5: a submission that fails half-way writes nothing, not even its trace."""
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    kept = a_document(record.id)
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.documents.add(kept)
        uow.audit.append(an_audit_entry(record.id))
        uow.outbox.add(a_notification(record.id), at=NOW)
        uow.keys.put(record.id, WrappedKey("m", b"k"))
        raise RuntimeError("the blob store failed")
    with uow_factory() as uow:
        assert uow.documents.list_all(record.id) == []
        assert uow.audit.head(record.id) is None
        assert list(uow.audit.chain(record.id)) == []
        assert uow.outbox.for_record(record.id) == []
        assert uow.keys.get(record.id) is None


def test_rollback_discards_and_commit_continues(uow_factory: SqlUnitOfWorkFactory) -> None:
    """After commit() or rollback() the same unit of work goes on in a new transaction."""
    discarded, kept, later = a_record(), a_record(), a_record()
    with uow_factory() as uow:
        uow.records.add(discarded)
        uow.rollback()
        uow.records.add(kept)
        uow.commit()
        uow.records.add(later)
    with uow_factory() as uow:
        assert uow.records.get(discarded.id) is None
        assert uow.records.get(kept.id) == kept
        assert uow.records.get(later.id) is None


def test_foreign_keys_are_enforced(uow_factory: SqlUnitOfWorkFactory) -> None:
    """A document cannot exist without its record (SQLite: PRAGMA foreign_keys=ON)."""
    with uow_factory() as uow, pytest.raises(IntegrityError):
        uow.documents.add(a_document("rec-that-does-not-exist"))


def test_sqlite_connection_settings(sqlite_engine: Engine) -> None:
    """WAL, foreign keys, busy timeout, synchronous=NORMAL on every pooled connection."""
    with sqlite_engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA busy_timeout").scalar() == 30_000


def test_concurrent_appends_to_one_chain_never_collide(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """AUD-2 under load: parallel writers (SQLite: BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE on
    the chain head) produce one gapless chain and no SQLITE_BUSY."""
    record = a_record()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with uow_factory() as uow:
                    uow.records.get(record.id)
                    uow.audit.append(an_audit_entry(record.id))
                    uow.commit()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with uow_factory() as uow:
        entries = list(uow.audit.chain(record.id))
    assert [e.sequence for e in entries] == list(range(1, 41))
    assert verify_chain(entries) == []
