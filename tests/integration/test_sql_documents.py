"""Documents and submission sets on SQLite and PostgreSQL (DOC-1, DOC-3, DOC-7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentStatus,
    Label,
    Submitter,
)
from opendmp.domain.errors import Conflict
from opendmp.domain.identifiers import DocumentId, RecordId
from opendmp.domain.policy import SearchScope
from opendmp.domain.record import Record
from opendmp.services.ports import DocumentQuery, SearchContext
from tests.builders import (
    NOW,
    a_document,
    a_record,
    a_submission_set,
    an_audit_entry,
    an_author,
    new_id,
)


@pytest.fixture
def record(uow_factory: SqlUnitOfWorkFactory) -> Record:
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    return record


def test_document_round_trip_keeps_every_field(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """DOC-1: the comprehensive metadata come back as stored, labels included (DOC-7)."""
    document = a_document(
        record.id,
        authors=(
            an_author(),
            Author(AuthorKind.ORGANIZATION, "1750100126", "Clinique", None, None),
            Author(AuthorKind.DEVICE, name="Scanner"),
        ),
        events=(Coding("urn:oid:1.2.250.1.213.2.5", "GLC-01", "Glycémie"),),
        confidentiality=(
            Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N"),
            Coding("urn:oid:1.2.250.1.213.1.1.4.13", "MASQUE_PS", "Masqué"),
        ),
        labels=frozenset(Label),
        period_end=NOW - timedelta(days=1),
        is_archived=True,
        replaces=DocumentId("doc-old"),
        replaced_by=DocumentId("doc-new"),
        description="Première consultation",
        submitter=Submitter("organization", "1750100125", None),
        version=3,
    )
    bare = a_document(
        record.id,
        format=None,
        facility_type=None,
        practice_setting=None,
        period_start=None,
        custodian=None,
        subject=None,
        authors=(),
        confidentiality=(),
    )
    with uow_factory() as uow:
        uow.documents.add(document)
        uow.documents.add(bare)
        uow.commit()
    with uow_factory() as uow:
        assert uow.documents.get(record.id, document.id) == document
        assert uow.documents.get(record.id, bare.id) == bare
        assert uow.documents.find(document.id) == document
        assert uow.documents.get_for_update(record.id, document.id) == document
        assert uow.documents.get_by_unique_id(record.id, document.unique_id) == document
        assert uow.documents.get(RecordId("other"), document.id) is None
        assert uow.documents.find(DocumentId("nope")) is None
        assert uow.documents.list_all(record.id) == sorted(
            [document, bare], key=lambda d: (d.date, d.id)
        )


def test_duplicate_unique_id_is_a_conflict_and_leaves_the_transaction_usable(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """DOC-1: a uniqueId already in the record → DMP-0410; the refusal can still be traced."""
    first = a_document(record.id)
    with uow_factory() as uow:
        uow.documents.add(first)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict) as raised:
            uow.documents.add(a_document(record.id, unique_id=first.unique_id))
        assert raised.value.code == "DMP-0410"
        assert raised.value.rule == "DOC-1"
        uow.audit.append(an_audit_entry(record.id))
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.documents.list_all(record.id)) == 1
        assert uow.audit.head(record.id) is not None


def test_the_same_unique_id_in_another_record_is_fine(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    other = a_record()
    document = a_document(record.id)
    with uow_factory() as uow:
        uow.records.add(other)
        uow.documents.add(document)
        uow.documents.add(a_document(other.id, unique_id=document.unique_id))
        uow.commit()


def test_duplicate_document_id_is_a_conflict(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    document = a_document(record.id)
    with uow_factory() as uow:
        uow.documents.add(document)
        with pytest.raises(Conflict) as raised:
            uow.documents.add(replace(document, unique_id="1.2.3.4"))
        assert raised.value.code == "DMP-0409"


def test_update_is_optimistically_locked(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """DOC-3: two replacements of the same version cannot both win (DMP-0409)."""
    document = a_document(record.id)
    with uow_factory() as uow:
        uow.documents.add(document)
        uow.commit()
    superseded = replace(
        document,
        status=DocumentStatus.SUPERSEDED,
        replaced_by=DocumentId("doc-2"),
        version=2,
    )
    with uow_factory() as uow:
        uow.documents.update(superseded, expected_version=1)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict) as raised:
            uow.documents.update(replace(document, is_archived=True, version=2), expected_version=1)
        assert raised.value.code == "DMP-0409"
    with uow_factory() as uow:
        assert uow.documents.get(record.id, document.id) == superseded
        with pytest.raises(ValueError, match="higher version"):
            uow.documents.update(superseded, expected_version=2)


def test_update_reindexes_authors_and_events(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """`author.identifier` and `event` searches follow an update (ITI-67)."""
    document = a_document(record.id)
    context = SearchContext("someone", None, NOW)
    by_author = DocumentQuery(author_ids=frozenset({"812345678901"}))
    by_event = DocumentQuery(event_codes=frozenset({"E1"}))
    with uow_factory() as uow:
        uow.documents.add(document)
        assert uow.documents.search(record.id, by_author, SearchScope(), context).total == 0
        changed = replace(
            document,
            authors=(an_author(id="812345678901"),),
            events=(Coding("urn:x", "E1"),),
            version=2,
        )
        uow.documents.update(changed, expected_version=1)
        assert uow.documents.search(record.id, by_author, SearchScope(), context).total == 1
        assert uow.documents.search(record.id, by_event, SearchScope(), context).total == 1
        uow.documents.update(replace(changed, authors=(), events=(), version=3), expected_version=2)
        assert uow.documents.search(record.id, by_author, SearchScope(), context).total == 0
        assert uow.documents.search(record.id, by_event, SearchScope(), context).total == 0


def test_labels_round_trip_and_invisible_patient_lapse_is_stored(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """DOC-7: the label stays on the document; only its effect lapses after a month."""
    old = a_document(
        record.id,
        labels=frozenset({Label.INVISIBLE_PATIENT}),
        submitted_at=NOW - timedelta(days=40),
    )
    with uow_factory() as uow:
        uow.documents.add(old)
        stored = uow.documents.get(record.id, old.id)
    assert stored is not None
    assert stored.labels == {Label.INVISIBLE_PATIENT}
    assert stored.effective_labels(NOW) == frozenset()


def test_invisible_patient_between_finds_documents_awaiting_consultation(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """DOC-7, NOT-4: still labelled INVISIBLE_PATIENT, submitted in the window."""
    invisible = frozenset({Label.INVISIBLE_PATIENT})
    in_window = a_document(record.id, labels=invisible, submitted_at=NOW - timedelta(days=15))
    too_recent = a_document(record.id, labels=invisible, submitted_at=NOW - timedelta(days=3))
    unlabelled = a_document(record.id, submitted_at=NOW - timedelta(days=15))
    shown = a_document(
        record.id,
        labels=frozenset({Label.MASQUE_PS}),
        submitted_at=NOW - timedelta(days=16),
    )
    with uow_factory() as uow:
        for document in (in_window, too_recent, unlabelled, shown):
            uow.documents.add(document)
        found = uow.documents.invisible_patient_between(
            submitted_after=NOW - timedelta(days=31),
            submitted_before=NOW - timedelta(days=14),
            limit=10,
        )
    assert found == [in_window]


def test_submission_set_round_trip(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """DOC-1: the SubmissionSet keeps its uniqueId, sourceId, designationType, authors."""
    documents = (a_document(record.id), a_document(record.id))
    first = a_submission_set(record.id, documents)
    second = a_submission_set(record.id, (), submitted_at=NOW + timedelta(minutes=1), title="")
    with uow_factory() as uow:
        for document in documents:
            uow.documents.add(document)
        uow.documents.add_submission_set(second)
        uow.documents.add_submission_set(first)
        uow.commit()
    with uow_factory() as uow:
        assert uow.documents.list_submission_sets(record.id) == [first, second]
        with pytest.raises(Conflict) as raised:
            uow.documents.add_submission_set(
                a_submission_set(record.id, unique_id=first.unique_id, id=new_id())
            )
        assert raised.value.code == "DMP-0410"
