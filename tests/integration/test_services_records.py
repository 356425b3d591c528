"""The record's life through the services, on SQLite and PostgreSQL (REC-1..6, ID-1, NOT-5)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from opendmp.domain.errors import BusinessRuleViolation, Conflict, ErrorKind, NotFound
from opendmp.domain.identifiers import Ins
from opendmp.domain.notifications import NotificationKind
from opendmp.domain.record import ClosureReason, PatientSettings, RecordState, Representative
from opendmp.services import jobs
from opendmp.services.context import ServiceContext
from opendmp.services.import_records import import_records
from opendmp.services.records import (
    close_record,
    find_record,
    open_record,
    read_record,
    read_settings,
    reopen_record,
    request_destruction,
    update_settings,
)
from opendmp.services.submit_documents import submit_documents
from tests.support import (
    SettableClock,
    a_draft,
    a_submission,
    an_ins,
    call,
    nurse,
    open_command,
    operator,
    patient,
    physician,
)


def test_a_professional_opens_a_record_with_consent_rec_1(services: ServiceContext) -> None:
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    assert record.state is RecordState.OPEN and record.is_activated
    assert find_record(services, call(physician()), ins) == record


def test_opening_without_consent_is_refused_rec_1(services: ServiceContext) -> None:
    with pytest.raises(BusinessRuleViolation) as refused:
        open_record(services, call(physician()), open_command(an_ins(), has_consent=False))
    assert refused.value.rule == "REC-1"


def test_an_invalid_nir_key_is_refused_everywhere_id_1(services: ServiceContext) -> None:
    bad = Ins("1.2.250.1.213.1.4.8", "295109912611199")
    with pytest.raises(BusinessRuleViolation) as refused:
        open_record(services, call(physician()), open_command(bad))
    assert refused.value.kind is ErrorKind.BUSINESS_RULE
    with pytest.raises(BusinessRuleViolation):
        find_record(services, call(physician()), bad)


def test_a_second_record_for_the_same_ins_is_a_conflict_rec_1(services: ServiceContext) -> None:
    ins = an_ins()
    open_record(services, call(physician()), open_command(ins))
    with pytest.raises(Conflict):
        open_record(services, call(nurse()), open_command(ins))


def test_the_patient_opens_their_own_record_online_rec_1(services: ServiceContext) -> None:
    ins = an_ins()
    record = open_record(services, call(patient(ins)), open_command(ins))
    assert record.channel.value == "self-service"


def test_bulk_import_opens_records_awaiting_activation_rec_2(services: ServiceContext) -> None:
    first, second = an_ins(), an_ins()
    lines = [
        "ins,ins_system,family,given,birth_date,sex\n",
        f"{first.value},{first.system},MARTIN,Luc,1970-01-02,male\n",
        f"{second.value},{second.system},PETIT,Ana,1980-05-06,female\n",
        f"295109912611199,{first.system},FAUX,Cle,1990-01-01,female\n",
    ]
    report = import_records(services, call(operator()), lines)
    assert report.opened == 2
    assert [(line, rule_code[:4]) for line, rule_code, _ in report.rejected] == [(4, "DMP-")]
    record = find_record(services, call(physician()), first)
    assert record is not None and not record.is_activated


def test_closing_keeps_the_record_readable_by_the_patient_only_rec_3(
    services: ServiceContext,
) -> None:
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    closed = close_record(services, call(patient(ins)), record.id, ClosureReason.PATIENT_REQUEST)
    assert closed.state is RecordState.CLOSED
    assert read_record(services, call(patient(ins)), record.id).state is RecordState.CLOSED
    # a PS gets the state only; document operations are a business-rule refusal (API.md §5)
    assert read_record(services, call(physician()), record.id).state is RecordState.CLOSED
    with pytest.raises(BusinessRuleViolation):
        submit_documents(services, call(physician()), a_submission(record.id, a_draft("c1")))


def test_reopen_restores_the_record_rec_5_and_notifies_not_5(services: ServiceContext) -> None:
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    update_settings(
        services, call(patient(ins)), record.id, PatientSettings(email="patient@example.org")
    )
    close_record(services, call(patient(ins)), record.id, ClosureReason.PATIENT_REQUEST)
    reopened = reopen_record(services, call(patient(ins)), record.id)
    assert reopened.state is RecordState.OPEN
    with services.uow() as uow:
        kinds = [m.notification.kind for m in uow.outbox.for_record(record.id)]
    assert NotificationKind.RECORD_CLOSED in kinds and NotificationKind.RECORD_REOPENED in kinds


def test_settings_force_masked_off_when_both_emergencies_refused(services: ServiceContext) -> None:
    """SPEC.md §5.4."""
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    saved = update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(
            allow_centre_15=False, allow_break_the_glass=False, allow_masked_in_emergency=True
        ),
    )
    assert saved.allow_masked_in_emergency is False
    assert read_settings(services, call(patient(ins)), record.id) == saved


def test_a_representative_acts_for_a_minor_until_majority_rec_6(
    services: ServiceContext, clock: SettableClock
) -> None:
    child, parent = an_ins(), an_ins()
    born = (clock.now() - timedelta(days=365 * 17)).date()
    record = open_record(
        services,
        call(physician()),
        open_command(child, born=born, representatives=(Representative(parent, "MTH"),)),
    )
    assert read_record(services, call(patient(parent)), record.id).id == record.id
    clock.advance(timedelta(days=366 * 2))
    with pytest.raises(NotFound):
        read_record(services, call(patient(parent)), record.id)


def test_a_representative_for_an_adult_is_refused(services: ServiceContext) -> None:
    """API.md §28."""
    with pytest.raises(BusinessRuleViolation):
        open_record(
            services,
            call(physician()),
            open_command(
                an_ins(), born=date(1970, 1, 1), representatives=(Representative(an_ins(), "MTH"),)
            ),
        )


def test_retention_destroys_by_crypto_shredding_rec_4(
    services: ServiceContext, clock: SettableClock
) -> None:
    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    result = submit_documents(services, call(physician()), a_submission(record.id, a_draft("r1")))
    close_record(services, call(patient(ins)), record.id, ClosureReason.PATIENT_REQUEST)
    request_destruction(services, call(patient(ins)), record.id)
    assert jobs.destroy_due_records(services).done == 0
    clock.advance(timedelta(days=91))
    assert jobs.destroy_due_records(services).done == 1
    with services.uow() as uow:
        assert uow.keys.get(record.id) is None
        assert uow.records.get_by_ins(ins.value) is None
        assert uow.documents.get(record.id, result.documents[0].id) is None
        trail = list(uow.audit.chain(record.id))
    assert [e.rule for e in trail] == ["REC-4"]  # only the pseudonymous tombstone (AUD-4)
    assert ins.value not in repr(trail)
    assert list(services.blobs.keys(f"{record.id}/")) == []


def test_statistics_count_without_personal_data(services: ServiceContext) -> None:
    """SPEC.md §9: records by state, documents by month and type; no identifier."""
    from opendmp.services.statistics import statistics

    ins = an_ins()
    record = open_record(services, call(physician()), open_command(ins))
    submit_documents(services, call(physician()), a_submission(record.id, a_draft("st1")))
    figures = statistics(services)
    assert figures.records_by_state["open"] >= 1
    month = services.clock.now().strftime("%Y-%m")
    assert (month, "11488-4") in {(m, code) for m, code, _ in figures.documents_by_month_and_type}
    assert ins.value not in repr(figures)
