"""Records on SQLite and PostgreSQL: round trip, optimistic lock, lifecycle queries (REC-1..6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.audit import Outcome
from opendmp.domain.errors import Conflict
from opendmp.domain.identifiers import OID_INS_NIA, Ins, RecordId
from opendmp.domain.record import (
    ClosureReason,
    Demographics,
    PatientSettings,
    RecordState,
    Representative,
    close,
)
from opendmp.services.ports import WrappedKey
from tests.builders import (
    NOW,
    a_consent,
    a_document,
    a_nir,
    a_notification,
    a_record,
    a_submission_set,
    an_audit_entry,
)


def test_record_round_trip_keeps_every_field(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-1, REC-6: what is stored is what comes back, representatives in order."""
    record = a_record(
        ins=Ins(OID_INS_NIA, a_nir()),
        demographics=Demographics("Lefèvre", "Élodie Anne", date(2015, 2, 28), "female"),
        settings=PatientSettings(
            allow_centre_15=False,
            allow_break_the_glass=True,
            allow_masked_in_emergency=True,
            mask_new_documents=True,
            notify_new_documents=True,
            email="e@example.org",
        ),
        representatives=(
            Representative(Ins(OID_INS_NIA, a_nir()), "MTH", "Anne Lefèvre"),
            Representative(Ins(OID_INS_NIA, a_nir()), "FTH"),
        ),
        is_activated=False,
    )
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    with uow_factory() as uow:
        assert uow.records.get(record.id) == record
        assert uow.records.get_for_update(record.id) == record
        assert uow.records.get_by_ins(record.ins.value) == record
        assert uow.records.get(RecordId("nope")) is None


def test_datetimes_come_back_aware_utc(uow_factory: SqlUnitOfWorkFactory) -> None:
    paris = datetime(2026, 7, 14, 12, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Paris"))
    record = a_record(opened_at=paris)
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.records.get(record.id)
    assert stored is not None
    assert stored.opened_at == paris
    assert stored.opened_at.utcoffset() == timedelta(0)
    assert stored.opened_at.hour == 10 and stored.opened_at.microsecond == 123456


def test_naive_datetimes_are_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(StatementError, match="naive datetime"):
        uow.records.add(a_record(opened_at=datetime(2026, 1, 1, 10, 0)))


def test_a_second_live_record_for_an_ins_is_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-1: one live record per INS, whatever the system; the transaction stays usable."""
    first = a_record()
    with uow_factory() as uow:
        uow.records.add(first)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict) as raised:
            uow.records.add(a_record(ins=Ins(OID_INS_NIA, first.ins.value)))
        assert raised.value.code == "DMP-0300"
        uow.audit.append(an_audit_entry(first.id, outcome=Outcome.REFUSED))
        uow.commit()
    with uow_factory() as uow:
        assert uow.audit.head(first.id) is not None


def test_a_destroyed_record_frees_its_ins(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-4: get_by_ins ignores destroyed records, and a new record may take the INS."""
    old = a_record(state=RecordState.DESTROYED)
    with uow_factory() as uow:
        uow.records.add(old)
        assert uow.records.get_by_ins(old.ins.value) is None
        new = a_record(ins=old.ins)
        uow.records.add(new)
        assert uow.records.get_by_ins(old.ins.value) == new
        uow.commit()


def test_update_with_a_stale_version_is_a_conflict(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Optimistic lock: the second writer of the same version gets DMP-0409."""
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    closed = close(record, reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    with uow_factory() as uow:
        uow.records.update(closed, expected_version=record.version)
        uow.commit()
    again = replace(record, settings=PatientSettings(email="x@example.org"), version=2)
    with uow_factory() as uow:
        with pytest.raises(Conflict) as raised:
            uow.records.update(again, expected_version=record.version)
        assert raised.value.code == "DMP-0409"
    with uow_factory() as uow:
        assert uow.records.get(record.id) == closed


def test_update_replaces_representatives(uow_factory: SqlUnitOfWorkFactory) -> None:
    rep = Representative(Ins(OID_INS_NIA, a_nir()), "MTH")
    record = a_record(representatives=(rep,))
    with uow_factory() as uow:
        uow.records.add(record)
        other = Representative(Ins(OID_INS_NIA, a_nir()), "FTH", "Paul")
        changed = replace(record, representatives=(other,), version=2)
        uow.records.update(changed, expected_version=1)
        assert uow.records.get(record.id) == changed
        assert uow.records.represented_by(rep.ins.value) == []
        assert uow.records.represented_by(other.ins.value) == [changed]


def test_update_must_raise_the_version(uow_factory: SqlUnitOfWorkFactory) -> None:
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        with pytest.raises(ValueError, match="higher version"):
            uow.records.update(record, expected_version=record.version)


def test_find_by_demographics_ignores_case_and_accents(uow_factory: SqlUnitOfWorkFactory) -> None:
    """R-EM-2: centre 15 finds a patient without the INS."""
    elodie = a_record(demographics=Demographics("LEFÈVRE", "Élodie", date(1980, 5, 4), "female"))
    twin = a_record(demographics=Demographics("Lefevre", "Eloise", date(1980, 5, 4), "female"))
    other = a_record(demographics=Demographics("Lefèvre", "Élodie", date(1990, 1, 1), "female"))
    gone = a_record(
        demographics=Demographics("Lefèvre", "Élodie", date(1980, 5, 4), "female"),
        state=RecordState.DESTROYED,
    )
    with uow_factory() as uow:
        for record in (elodie, twin, other, gone):
            uow.records.add(record)
        uow.commit()
    with uow_factory() as uow:
        found = uow.records.find_by_demographics(
            family="lefevre", given="elo", birth_date="1980-05-04", limit=10
        )
        assert {r.id for r in found} == {elodie.id, twin.id}
        found = uow.records.find_by_demographics(
            family="  Lefévre ", given="ÉLODIE", birth_date=None, limit=10
        )
        assert {r.id for r in found} == {elodie.id, other.id}
        assert (
            len(
                uow.records.find_by_demographics(
                    family="LEFEVRE", given=None, birth_date=None, limit=2
                )
            )
            == 2
        )
        assert (
            uow.records.find_by_demographics(family="lef%", given=None, birth_date=None, limit=9)
            == []
        )
        assert (
            uow.records.find_by_demographics(family="lefevre", given="_l", birth_date=None, limit=9)
            == []
        )


def test_represented_by_finds_live_records_naming_the_ins(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """REC-6."""
    mother = Ins(OID_INS_NIA, a_nir())
    child1 = a_record(representatives=(Representative(mother, "MTH"),))
    child2 = a_record(representatives=(Representative(mother, "MTH"),))
    destroyed = a_record(
        representatives=(Representative(mother, "MTH"),), state=RecordState.DESTROYED
    )
    with uow_factory() as uow:
        for record in (child1, child2, destroyed, a_record()):
            uow.records.add(record)
        uow.commit()
    with uow_factory() as uow:
        assert {r.id for r in uow.records.represented_by(mother.value)} == {child1.id, child2.id}


def test_due_for_destruction_lists_closed_records_past_retention(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """REC-4: closed + 10 years, oldest first, open records never."""
    due_early = close(a_record(), reason=ClosureReason.DEATH, at=NOW - timedelta(days=3660))
    due_late = close(a_record(), reason=ClosureReason.DEATH, at=NOW - timedelta(days=3655))
    not_yet = close(a_record(), reason=ClosureReason.DEATH, at=NOW - timedelta(days=100))
    with uow_factory() as uow:
        for record in (due_late, not_yet, due_early, a_record()):
            uow.records.add(record)
        uow.commit()
    with uow_factory() as uow:
        assert uow.records.due_for_destruction(NOW, 10) == [due_early, due_late]
        assert uow.records.due_for_destruction(NOW, 1) == [due_early]


def test_count_by_state(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.records.add(a_record())
        uow.records.add(a_record())
        uow.records.add(close(a_record(), reason=ClosureReason.DEATH, at=NOW))
        assert uow.records.count_by_state() == {"open": 2, "closed": 1, "destroyed": 0}


def test_purge_deletes_everything_but_the_audit_trail(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-4: crypto-shredding then purge; the audit chain (AUD-4) and the row itself stay."""
    record = a_record()
    keep = a_record()
    with uow_factory() as uow:
        for r in (record, keep):
            uow.records.add(r)
            document = a_document(r.id)
            uow.documents.add(document)
            uow.documents.add_submission_set(a_submission_set(r.id, (document,)))
            uow.consents.add(a_consent(r.id))
            uow.outbox.add(a_notification(r.id), at=NOW)
            uow.keys.put(r.id, WrappedKey("master-1", b"wrapped"))
            uow.audit.append(an_audit_entry(r.id))
        uow.commit()
    with uow_factory() as uow:
        uow.records.purge(record.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.documents.list_all(record.id) == []
        assert uow.documents.list_submission_sets(record.id) == []
        assert uow.consents.for_record(record.id, active_only=False) == []
        assert uow.outbox.for_record(record.id) == []
        assert uow.keys.get(record.id) is None
        assert uow.records.get(record.id) == record
        assert len(list(uow.audit.chain(record.id))) == 1
        assert len(uow.documents.list_all(keep.id)) == 1
        assert uow.keys.get(keep.id) == WrappedKey("master-1", b"wrapped")


def test_dates_survive_the_round_trip_exactly(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Leap day birth dates and far-future retention instants (REC-4 +10 years)."""
    record = close(
        a_record(demographics=Demographics("X", "Y", date(2000, 2, 29), "other")),
        reason=ClosureReason.PATIENT_REQUEST,
        at=datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    )
    with uow_factory() as uow:
        uow.records.add(record)
        assert uow.records.get(record.id) == record
