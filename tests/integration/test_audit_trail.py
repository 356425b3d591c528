"""AUD-1, AUD-2: every attempt traced in the same transaction; `audit verify` catches an
edited, a deleted and a swapped entry (through the service and the CLI's code path)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from opendmp.domain.errors import Forbidden
from opendmp.services.context import ServiceContext
from opendmp.services.find_documents import find_documents
from opendmp.services.ports import DocumentQuery
from opendmp.services.records import open_record
from opendmp.services.submit_documents import submit_documents
from opendmp.services.verify_audit import verify_audit
from tests.support import a_draft, a_submission, an_ins, call, open_command, physician


def _busy_record(services: ServiceContext) -> str:
    record = open_record(services, call(physician()), open_command(an_ins()))
    submit_documents(services, call(physician()), a_submission(record.id, a_draft("t1")))
    for _ in range(3):
        find_documents(services, call(physician()), record.id, DocumentQuery())
    with pytest.raises(Forbidden):
        find_documents(services, call(physician("899900000099")), record.id, DocumentQuery())
    return record.id


def test_an_intact_trail_verifies_aud_2(services: ServiceContext) -> None:
    _busy_record(services)
    report = verify_audit(services)
    assert report.is_intact and report.entries >= 6


def test_an_edited_entry_is_detected_aud_2(services: ServiceContext, engine: Engine) -> None:
    record_id = _busy_record(services)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE audit_entries SET actor_id = 'someone-else' "
                "WHERE record_id = :k AND sequence = 2"
            ),
            {"k": record_id},
        )
    report = verify_audit(services)
    assert not report.is_intact
    assert any(key == record_id and b.sequence == 2 for key, b in report.breaks)


def test_a_deleted_entry_is_detected_aud_2(services: ServiceContext, engine: Engine) -> None:
    record_id = _busy_record(services)
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM audit_entries WHERE record_id = :k AND sequence = 3"),
            {"k": record_id},
        )
    assert not verify_audit(services).is_intact


def test_a_deleted_last_entry_is_detected_aud_2(services: ServiceContext, engine: Engine) -> None:
    record_id = _busy_record(services)
    with engine.begin() as connection:
        last = connection.execute(
            text("SELECT max(sequence) FROM audit_entries WHERE record_id = :k"), {"k": record_id}
        ).scalar_one()
        connection.execute(
            text("DELETE FROM audit_entries WHERE record_id = :k AND sequence = :s"),
            {"k": record_id, "s": last},
        )
    assert not verify_audit(services).is_intact


def test_swapped_entries_are_detected_aud_2(services: ServiceContext, engine: Engine) -> None:
    record_id = _busy_record(services)
    with engine.begin() as connection:
        for old, new in ((2, -2), (3, 2), (-2, 3)):
            connection.execute(
                text(
                    "UPDATE audit_entries SET sequence = :new "
                    "WHERE record_id = :k AND sequence = :old"
                ),
                {"k": record_id, "old": old, "new": new},
            )
    assert not verify_audit(services).is_intact


def test_a_refusal_is_traced_even_though_nothing_else_is_written_aud_1(
    services: ServiceContext,
) -> None:
    record_id = _busy_record(services)
    with services.uow() as uow:
        from opendmp.domain.identifiers import RecordId

        entries = list(uow.audit.chain(RecordId(record_id)))
    refused = [e for e in entries if e.outcome.value == "4"]
    assert len(refused) == 1 and refused[0].actor_id == "899900000099"
    assert refused[0].request_id
