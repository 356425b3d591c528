"""Consents (§5), wrapped keys (SEC-1, REC-4) and the outbox (§7) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.consents import ConsentRole, Provision
from opendmp.domain.errors import Conflict, NotFound
from opendmp.domain.record import Record
from opendmp.services.ports import OutboxStatus, WrappedKey
from tests.builders import NOW, a_consent, a_notification, a_record


@pytest.fixture
def record(uow_factory: SqlUnitOfWorkFactory) -> Record:
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    return record


def test_consent_round_trip_and_queries(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """R-PS-1..3: permits, blocks and administrators, active or ended."""
    permit = a_consent(record.id, professional_name="")
    admin = a_consent(
        record.id,
        professional_id="899900000002",
        role=ConsentRole.ADMINISTRATOR,
        performer_kind="person",
        performer_id=record.ins.value,
        recorded_at=NOW - timedelta(days=1),
    )
    block = a_consent(record.id, provision=Provision.DENY, recorded_at=NOW)
    ended = a_consent(record.id, is_active=False, ended_at=NOW, recorded_at=NOW - timedelta(days=9))
    with uow_factory() as uow:
        for consent in (permit, admin, block, ended):
            uow.consents.add(consent)
        uow.commit()
    with uow_factory() as uow:
        assert uow.consents.get(admin.id) == admin
        assert uow.consents.get("nope") is None
        assert uow.consents.for_record(record.id) == [permit, admin, block]
        assert uow.consents.for_record(record.id, active_only=False) == [
            ended,
            permit,
            admin,
            block,
        ]
        assert uow.consents.for_professional(record.id, permit.professional_id) == [permit, block]
        with pytest.raises(Conflict):
            uow.consents.add(permit)


def test_consent_update(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """R-PAT-2: revoking ends the consent; it stays listed when asked for."""
    consent = a_consent(record.id)
    with uow_factory() as uow:
        uow.consents.add(consent)
        revoked = replace(consent, is_active=False, ended_at=NOW)
        uow.consents.update(revoked)
        assert uow.consents.get(consent.id) == revoked
        assert uow.consents.for_professional(record.id, consent.professional_id) == []
        with pytest.raises(NotFound):
            uow.consents.update(replace(consent, id="missing"))


def test_keys_put_replace_destroy_and_rotation(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """SEC-1 envelope keys: rewrapping replaces; destroying crypto-shreds (REC-4)."""
    second = a_record()
    with uow_factory() as uow:
        uow.records.add(second)
        uow.keys.put(record.id, WrappedKey("old", b"\x00\x01wrapped"))
        uow.keys.put(second.id, WrappedKey("old", b"other"))
        assert uow.keys.get(record.id) == WrappedKey("old", b"\x00\x01wrapped")
        assert sorted(uow.keys.wrapped_by_other_than("new", 10)) == sorted([record.id, second.id])
        uow.keys.put(record.id, WrappedKey("new", b"rewrapped"))
        assert uow.keys.get(record.id) == WrappedKey("new", b"rewrapped")
        assert uow.keys.wrapped_by_other_than("new", 10) == [second.id]
        assert uow.keys.wrapped_by_other_than("new", 0) == []
        uow.keys.destroy(record.id)
        assert uow.keys.get(record.id) is None
        uow.keys.destroy(record.id)


def test_outbox_lifecycle(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """§7: queued with the change, claimed when due, sent once, retried, given up."""
    first = a_notification(record.id)
    later = a_notification(record.id)
    with uow_factory() as uow:
        uow.outbox.add(first, at=NOW)
        uow.outbox.add(first, at=NOW + timedelta(hours=1))  # same id: no second message
        uow.outbox.add(later, at=NOW + timedelta(minutes=5))
        uow.commit()
    with uow_factory() as uow:
        claimed = uow.outbox.claim_due(NOW, 10)
        assert [m.notification for m in claimed] == [first]
        assert (claimed[0].status, claimed[0].attempts, claimed[0].created_at) == (
            OutboxStatus.PENDING,
            0,
            NOW,
        )
        assert [m.notification for m in uow.outbox.claim_due(NOW + timedelta(minutes=5), 1)] == [
            first
        ]
        uow.outbox.mark_attempt_failed(
            first.id, error="smtp down", next_attempt_at=NOW + timedelta(minutes=10), give_up=False
        )
        uow.outbox.mark_sent(later.id, NOW + timedelta(minutes=6))
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.claim_due(NOW + timedelta(minutes=9), 10) == []
        retry = uow.outbox.claim_due(NOW + timedelta(minutes=10), 10)
        assert [(m.notification.id, m.attempts, m.last_error) for m in retry] == [
            (first.id, 1, "smtp down")
        ]
        uow.outbox.mark_attempt_failed(
            first.id, error="bounced", next_attempt_at=NOW + timedelta(hours=1), give_up=True
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.claim_due(NOW + timedelta(days=9), 10) == []
        messages = {m.notification.id: m for m in uow.outbox.for_record(record.id)}
    assert messages[first.id].status is OutboxStatus.FAILED
    assert messages[first.id].attempts == 2
    assert messages[later.id].status is OutboxStatus.SENT
    assert messages[later.id].sent_at == NOW + timedelta(minutes=6)
    assert messages[later.id].attempts == 1
