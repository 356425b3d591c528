"""Concurrent units of work: locks, optimistic versions, SKIP LOCKED (DOC-3, REC-1, §7).

Each test runs two transactions on two connections; where one must wait for the other, it
runs in a thread and the test checks it is still waiting before the first commits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.documents import DocumentEntry
from opendmp.domain.errors import Conflict
from opendmp.domain.record import Record
from tests.builders import NOW, a_document, a_notification, a_record

WAIT = 0.5  # seconds the second transaction must be seen waiting


class Background:
    """Run `work` in a thread; `result()` re-raises its exception in the test."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._work = work
        self._outcome: list[object] = []
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome.append(self._work())
        except BaseException as error:  # handed to the test thread
            self._outcome.append(error)

    def is_running(self, within: float) -> bool:
        self._thread.join(within)
        return self._thread.is_alive()

    def result(self) -> object:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the background transaction never finished"
        (outcome,) = self._outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def stored(uow_factory: SqlUnitOfWorkFactory) -> tuple[Record, DocumentEntry]:
    record = a_record()
    document = a_document(record.id)
    with uow_factory() as uow:
        uow.records.add(record)
        uow.documents.add(document)
        uow.commit()
    return record, document


def test_get_for_update_on_a_document_serializes_replacements(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """DOC-3: the second replacement waits for the first and then sees its version."""
    record, document = stored(uow_factory)
    with uow_factory() as first:
        locked = first.documents.get_for_update(record.id, document.id)
        assert locked is not None

        def second() -> DocumentEntry:
            with uow_factory() as uow:
                seen = uow.documents.get_for_update(record.id, document.id)
                assert seen is not None
                uow.documents.update(
                    replace(seen, title="second", version=seen.version + 1),
                    expected_version=seen.version,
                )
                uow.commit()
                return seen

        waiting = Background(second)
        assert waiting.is_running(WAIT), "get_for_update did not wait for the lock holder"
        first.documents.update(replace(locked, title="first", version=2), expected_version=1)
        first.commit()
    seen = waiting.result()
    assert isinstance(seen, DocumentEntry)
    assert (seen.version, seen.title) == (2, "first")
    with uow_factory() as uow:
        final = uow.documents.get(record.id, document.id)
    assert final is not None and (final.version, final.title) == (3, "second")


def test_get_for_update_on_a_record_serializes(uow_factory: SqlUnitOfWorkFactory) -> None:
    record, _ = stored(uow_factory)
    with uow_factory() as first:
        locked = first.records.get_for_update(record.id)
        assert locked is not None

        def second() -> Record | None:
            with uow_factory() as uow:
                return uow.records.get_for_update(record.id)

        waiting = Background(second)
        assert waiting.is_running(WAIT)
        first.records.update(replace(locked, is_activated=False, version=2), expected_version=1)
        first.commit()
    seen = waiting.result()
    assert isinstance(seen, Record) and seen.version == 2


def test_two_openings_for_one_ins_yield_one_record(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-1: concurrent openings for the same INS: one wins, the other gets DMP-0300."""
    winner = a_record()
    with uow_factory() as first:
        first.records.add(winner)

        def second() -> None:
            with uow_factory() as uow:
                uow.records.add(a_record(ins=winner.ins))
                uow.commit()

        waiting = Background(second)
        assert waiting.is_running(WAIT)
        first.commit()
    with pytest.raises(Conflict) as raised:
        waiting.result()
    assert raised.value.code == "DMP-0300"


@pytest.mark.postgres
def test_a_stale_read_loses_with_a_conflict(pg_engine: Engine) -> None:
    """DOC-3 without a lock: the writer that read the older version gets DMP-0409."""
    uow_factory = SqlUnitOfWorkFactory(pg_engine)
    record, document = stored(uow_factory)
    with uow_factory() as slow:
        read = slow.documents.get(record.id, document.id)
        assert read is not None
        with uow_factory() as fast:
            fast.documents.update(replace(document, title="fast", version=2), expected_version=1)
            fast.commit()
        with pytest.raises(Conflict) as raised:
            slow.documents.update(replace(read, title="slow", version=2), expected_version=1)
        assert raised.value.code == "DMP-0409"


@pytest.mark.postgres
def test_an_update_waits_for_the_lock_then_conflicts(pg_engine: Engine) -> None:
    """The optimistic UPDATE blocks on the row lock, re-checks the version, and loses."""
    uow_factory = SqlUnitOfWorkFactory(pg_engine)
    record, document = stored(uow_factory)
    with uow_factory() as first:
        locked = first.documents.get_for_update(record.id, document.id)
        assert locked is not None

        def second() -> None:
            with uow_factory() as uow:
                uow.documents.update(replace(document, title="b", version=2), expected_version=1)
                uow.commit()

        waiting = Background(second)
        assert waiting.is_running(WAIT)
        first.documents.update(replace(locked, title="a", version=2), expected_version=1)
        first.commit()
    with pytest.raises(Conflict):
        waiting.result()


@pytest.mark.postgres
def test_outbox_claims_skip_locked_messages(pg_engine: Engine) -> None:
    """§7 "never twice": two senders claim disjoint messages, neither waits."""
    uow_factory = SqlUnitOfWorkFactory(pg_engine)
    record, _ = stored(uow_factory)
    notifications = [a_notification(record.id) for _ in range(5)]
    with uow_factory() as uow:
        for notification in notifications:
            uow.outbox.add(notification, at=NOW)
        uow.commit()
    with uow_factory() as one, uow_factory() as two:
        first = {m.notification.id for m in one.outbox.claim_due(NOW, 2)}
        second = {m.notification.id for m in two.outbox.claim_due(NOW, 10)}
        assert len(first) == 2 and len(second) == 3
        assert first | second == {n.id for n in notifications}
        for notification_id in first:
            one.outbox.mark_sent(notification_id, NOW)
        one.commit()
        two.rollback()
    with uow_factory() as three:
        assert {m.notification.id for m in three.outbox.claim_due(NOW, 10)} == second
