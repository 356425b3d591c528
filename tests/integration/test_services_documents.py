"""Documents through the services, on SQLite and PostgreSQL (DOC-1..8, R rules, SEC-1, SEC-5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from opendmp.domain.consents import Provision
from opendmp.domain.documents import Coding, DocumentStatus, Label
from opendmp.domain.errors import (
    BusinessRuleViolation,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from opendmp.domain.identifiers import Ins
from opendmp.domain.notifications import NotificationKind
from opendmp.domain.record import PatientSettings, Record
from opendmp.services.access_history import access_history
from opendmp.services.consents import ConsentCommand, record_consent
from opendmp.services.context import ServiceContext
from opendmp.services.find_documents import find_documents, find_submission_sets
from opendmp.services.ports import AuditQuery, DocumentQuery
from opendmp.services.records import open_record, update_settings
from opendmp.services.retrieve_document import read_document, retrieve_document
from opendmp.services.submit_documents import submit_documents
from opendmp.services.update_documents import change_labels, delete_document, set_archived
from tests.support import (
    LOINC,
    SettableClock,
    a_draft,
    a_submission,
    an_ins,
    call,
    emergency,
    nurse,
    open_command,
    patient,
    physician,
)


def _record(services: ServiceContext) -> tuple[Record, Ins]:
    ins = an_ins()
    return open_record(services, call(physician()), open_command(ins)), ins


def _authorize(services: ServiceContext, record: Record, ins: Ins, idnps: str) -> None:
    record_consent(
        services,
        call(patient(ins)),
        ConsentCommand(record.id, idnps, Provision.PERMIT),
    )


def test_submit_then_retrieve_the_exact_bytes_doc_1_doc_2(services: ServiceContext) -> None:
    record, _ = _record(services)
    body = bytes(range(256)) * 40
    result = submit_documents(
        services, call(physician()), a_submission(record.id, a_draft("b1", data=body))
    )
    entry = result.documents[0]
    assert entry.size == len(body) and entry.status is DocumentStatus.CURRENT
    document, data = retrieve_document(services, call(physician()), entry.id)
    assert data == body and document.id == entry.id


def test_an_invalid_document_rejects_the_whole_bundle_doc_1(
    services: ServiceContext, blob_dir: object
) -> None:
    record, _ = _record(services)
    good = a_draft("v1")
    bad = a_draft("v2", type=Coding(LOINC, "00000-0"))
    with pytest.raises(ValidationFailed) as refused:
        submit_documents(services, call(physician()), a_submission(record.id, good, bad))
    assert any("type" in (issue.path or "") for issue in refused.value.issues)
    _assert_nothing_stored(services, record)


def test_a_wrong_hash_or_size_is_refused_doc_1(services: ServiceContext) -> None:
    record, _ = _record(services)
    with pytest.raises(ValidationFailed):
        submit_documents(
            services,
            call(physician()),
            a_submission(record.id, a_draft("h1", declared_hash="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        )
    with pytest.raises(ValidationFailed):
        submit_documents(
            services, call(physician()), a_submission(record.id, a_draft("h2", declared_size=3))
        )
    _assert_nothing_stored(services, record)


def test_a_failure_at_write_time_leaves_nothing_behind_sec_5(services: ServiceContext) -> None:
    """The second document reuses a uniqueId already in the record: the insert fails after
    the blobs were staged; no row, no blob, no trace of success remains."""
    record, _ = _record(services)
    first = submit_documents(services, call(physician()), a_submission(record.id, a_draft("d1")))
    with pytest.raises(Conflict):
        submit_documents(
            services,
            call(physician()),
            a_submission(record.id, a_draft("d2"), a_draft("d1"), unique="dup"),
        )
    with services.uow() as uow:
        documents = uow.documents.list_all(record.id)
        assert [d.id for d in documents] == [first.documents[0].id]
        assert len(uow.documents.list_submission_sets(record.id)) == 1
    assert sorted(services.blobs.keys(f"{record.id}/")) == [f"{record.id}/{first.documents[0].id}"]


def _assert_nothing_stored(services: ServiceContext, record: Record) -> None:
    with services.uow() as uow:
        assert uow.documents.list_all(record.id) == []
        assert uow.documents.list_submission_sets(record.id) == []
    assert list(services.blobs.keys(f"{record.id}/")) == []


def test_replacement_supersedes_the_old_version_doc_3(services: ServiceContext) -> None:
    record, _ = _record(services)
    old = submit_documents(services, call(physician()), a_submission(record.id, a_draft("o1")))
    new = submit_documents(
        services,
        call(physician()),
        a_submission(record.id, a_draft("o2", replaces=old.documents[0].id)),
    )
    with services.uow() as uow:
        stored = uow.documents.get(record.id, old.documents[0].id)
    assert stored is not None and stored.status is DocumentStatus.SUPERSEDED
    assert stored.replaced_by == new.documents[0].id
    found = find_documents(services, call(physician()), record.id, DocumentQuery())
    assert [d.id for d in found.items] == [new.documents[0].id]


def test_only_the_author_or_its_structure_replaces_doc_3(services: ServiceContext) -> None:
    record, _ = _record(services)
    old = submit_documents(services, call(physician()), a_submission(record.id, a_draft("a1")))
    stranger = physician("899900000077", structure="1690000011")
    with pytest.raises((Forbidden, NotFound)):
        submit_documents(
            services,
            call(stranger),
            a_submission(record.id, a_draft("a2", author=stranger, replaces=old.documents[0].id)),
        )


def test_archive_keeps_the_document_current_and_readable_doc_4(services: ServiceContext) -> None:
    record, _ = _record(services)
    result = submit_documents(services, call(physician()), a_submission(record.id, a_draft("ar")))
    archived = set_archived(services, call(physician()), result.documents[0].id, is_archived=True)
    assert archived.is_archived and archived.status is DocumentStatus.CURRENT
    assert retrieve_document(services, call(physician()), archived.id)[1]


def test_deletion_is_logical_and_hidden_from_searches_doc_5(services: ServiceContext) -> None:
    record, ins = _record(services)
    result = submit_documents(services, call(physician()), a_submission(record.id, a_draft("x1")))
    deleted = delete_document(services, call(physician()), result.documents[0].id)
    assert deleted.status is DocumentStatus.ENTERED_IN_ERROR
    assert find_documents(services, call(physician()), record.id, DocumentQuery()).total == 0
    asked = DocumentQuery(statuses=frozenset({DocumentStatus.ENTERED_IN_ERROR}))
    assert find_documents(services, call(physician()), record.id, asked).total == 1
    with pytest.raises(NotFound):  # API.md §9: the patient gets 404 for a deleted document
        read_document(services, call(patient(ins)), deleted.id)


def test_masked_documents_are_hidden_from_other_professionals_r_ps_4(
    services: ServiceContext,
) -> None:
    record, ins = _record(services)
    _authorize(services, record, ins, nurse().id)
    result = submit_documents(services, call(physician()), a_submission(record.id, a_draft("m1")))
    change_labels(
        services,
        call(patient(ins)),
        result.documents[0].id,
        frozenset({Label.MASQUE_PS}),
    )
    assert find_documents(services, call(nurse()), record.id, DocumentQuery()).total == 0
    with pytest.raises(NotFound):
        retrieve_document(services, call(nurse()), result.documents[0].id)
    # the author still sees it (R-PS-4)
    assert find_documents(services, call(physician()), record.id, DocumentQuery()).total == 1


def test_default_masking_applies_to_new_documents_doc_8(services: ServiceContext) -> None:
    """DOC-8: "masked by default" puts MASQUE_PS on every new document."""
    record, ins = _record(services)
    update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(mask_new_documents=True),
    )
    result = submit_documents(services, call(physician()), a_submission(record.id, a_draft("k1")))
    assert Label.MASQUE_PS in result.documents[0].labels


def test_invisible_patient_lapses_after_one_month_doc_7_not_4(
    services: ServiceContext, clock: SettableClock
) -> None:
    record, ins = _record(services)
    update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(email="p@example.org"),
    )
    submit_documents(
        services,
        call(physician()),
        a_submission(record.id, a_draft("ip", labels=("INVISIBLE_PATIENT",))),
    )
    owner = call(patient(ins))
    assert find_documents(services, owner, record.id, DocumentQuery()).total == 0
    from opendmp.services import jobs

    clock.advance(timedelta(days=15))
    assert jobs.invisible_patient_notices(services).done == 1
    assert jobs.invisible_patient_notices(services).done == 0  # once only
    with services.uow() as uow:
        kinds = [m.notification.kind for m in uow.outbox.for_record(record.id)]
    assert kinds.count(NotificationKind.DOCUMENT_AWAITS_CONSULTATION) == 1
    clock.advance(timedelta(days=17))
    assert find_documents(services, owner, record.id, DocumentQuery()).total == 1
    assert jobs.lapse_invisible_patient(services).done == 1


def test_a_blocked_professional_may_submit_but_not_read_r_ps_1(services: ServiceContext) -> None:
    record, ins = _record(services)
    blocked = physician("899900000055")
    record_consent(
        services,
        call(patient(ins)),
        ConsentCommand(record.id, blocked.id, Provision.DENY),
    )
    submitted = submit_documents(
        services, call(blocked), a_submission(record.id, a_draft("bl", author=blocked))
    )
    with pytest.raises(Forbidden) as refused:
        find_documents(services, call(blocked), record.id, DocumentQuery())
    assert refused.value.rule == "R-PS-1"
    with pytest.raises(Forbidden):
        retrieve_document(services, call(blocked), submitted.documents[0].id)
    with pytest.raises(Forbidden):
        retrieve_document(
            services,
            call(replace(blocked, access_mode=emergency().access_mode, purpose_reason="x")),
            submitted.documents[0].id,
        )


def test_an_unauthorized_professional_is_refused_and_the_refusal_traced_r_ps_2_aud_1(
    services: ServiceContext,
) -> None:
    record, ins = _record(services)
    stranger = physician("899900000066")
    with pytest.raises(Forbidden):
        find_documents(services, call(stranger), record.id, DocumentQuery())
    history = access_history(
        services,
        call(patient(ins)),
        record.id,
        AuditQuery(count=200),
    )
    refusals = [e for e in history.items if e.actor_id == stranger.id]
    assert refusals and refusals[0].outcome.value == "4" and refusals[0].rule


def test_break_the_glass_reads_and_notifies_r_em_1_r_em_3(services: ServiceContext) -> None:
    record, ins = _record(services)
    update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(email="p@example.org"),
    )
    submit_documents(services, call(physician()), a_submission(record.id, a_draft("e1")))
    found = find_documents(services, call(emergency()), record.id, DocumentQuery())
    assert found.total == 1
    with services.uow() as uow:
        kinds = [m.notification.kind for m in uow.outbox.for_record(record.id)]
    assert NotificationKind.EMERGENCY_ACCESS in kinds
    history = access_history(
        services,
        call(patient(ins)),
        record.id,
        AuditQuery(count=200),
    )
    assert any(e.access_mode == "bris_de_glace" and e.purpose_reason for e in history.items)


def test_break_the_glass_refused_when_the_patient_refused_it_r_em_1(
    services: ServiceContext,
) -> None:
    record, ins = _record(services)
    update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(allow_break_the_glass=False),
    )
    with pytest.raises(Forbidden):
        find_documents(services, call(emergency()), record.id, DocumentQuery())


def test_a_professional_sees_only_its_own_traces_r_ps_7(services: ServiceContext) -> None:
    record, ins = _record(services)
    _authorize(services, record, ins, nurse().id)
    find_documents(services, call(nurse()), record.id, DocumentQuery())
    mine = access_history(services, call(nurse()), record.id, AuditQuery(count=200))
    assert mine.items and {e.actor_id for e in mine.items} == {nurse().id}


def test_submission_sets_are_listed_iti_66(services: ServiceContext) -> None:
    record, _ = _record(services)
    result = submit_documents(
        services, call(physician()), a_submission(record.id, a_draft("s1"), a_draft("s2"))
    )
    sets = find_submission_sets(services, call(physician()), record.id)
    assert [s.id for s in sets] == [result.submission_set.id]
    assert set(sets[0].document_ids) == {d.id for d in result.documents}


def test_a_patient_document_is_deleted_by_the_patient_doc_6(services: ServiceContext) -> None:
    record, ins = _record(services)
    owner = patient(ins)
    from opendmp.domain.documents import Author, AuthorKind
    from tests.support import FACILITY, SETTING

    draft = a_draft(
        "pd",
        authors=(Author(AuthorKind.PATIENT, owner.id, "Moi"),),
        facility_type=Coding(
            FACILITY.replace(
                "TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite",
                "TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS",
            ),
            "EXP_PATIENT",
        ),
        practice_setting=Coding(
            SETTING.replace(
                "TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice",
                "TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS",
            ),
            "EXP_PATIENT",
        ),
    )
    result = submit_documents(services, call(owner), a_submission(record.id, draft))
    assert result.documents[0].is_patient_document
    bare = replace(
        draft,
        unique_id="1.2.250.1.999.1.pd2",
        custodian=None,
        facility_type=None,
        practice_setting=None,
    )
    filled = submit_documents(services, call(owner), a_submission(record.id, bare)).documents[0]
    assert filled.custodian == services.deployment.service_organization  # API.md §15
    assert filled.facility_type is not None and filled.facility_type.code == "EXP_PATIENT"
    with pytest.raises((Forbidden, NotFound)):
        delete_document(services, call(nurse()), result.documents[0].id)
    deleted = delete_document(services, call(owner), result.documents[0].id)
    assert deleted.status is DocumentStatus.ENTERED_IN_ERROR


def test_submitting_for_an_unknown_subject_is_a_business_rule_violation(
    services: ServiceContext,
) -> None:
    """API.md §26."""
    with pytest.raises(BusinessRuleViolation):
        submit_documents(services, call(physician()), a_submission("no-such-record", a_draft("u")))


def _kinds(services: ServiceContext, record: Record) -> list[NotificationKind]:
    with services.uow() as uow:
        return [m.notification.kind for m in uow.outbox.for_record(record.id)]


def test_new_documents_are_notified_only_to_patients_who_opted_in(
    services: ServiceContext,
) -> None:
    """NOT-3: a new document notifies the patient if opted in, never one hidden from them."""
    record, ins = _record(services)
    submit_documents(services, call(physician()), a_submission(record.id, a_draft("n0")))
    assert NotificationKind.NEW_DOCUMENT not in _kinds(services, record)
    update_settings(
        services,
        call(patient(ins)),
        record.id,
        PatientSettings(notify_new_documents=True, email="p@example.org"),
    )
    submit_documents(
        services,
        call(physician()),
        a_submission(record.id, a_draft("n1", labels=("INVISIBLE_PATIENT",))),
    )
    assert NotificationKind.NEW_DOCUMENT not in _kinds(services, record)
    submit_documents(services, call(physician()), a_submission(record.id, a_draft("n2")))
    assert _kinds(services, record).count(NotificationKind.NEW_DOCUMENT) == 1
