"""ITI-67 in SQL: query filters, the caller's SearchScope, paging and sort (SPEC.md §4, §5)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    Submitter,
    invisible_patient_lapse,
)
from opendmp.domain.policy import DocumentFacts, SearchScope
from opendmp.domain.record import Record
from opendmp.services.ports import DocumentQuery, SearchContext, SortOrder
from tests.builders import NOW, a_document, a_record, an_author

ME = "812345678901"
MY_STRUCTURE = "1750200200"
OTHER = "899999999999"
OTHER_STRUCTURE = "1750300300"
SENSITIVE = Coding("http://loinc.org", "80788-3", "Projet personnalisé d'accompagnement")
ALL_STATUSES = frozenset(DocumentStatus)


def by_other(record: Record, **changes: object) -> DocumentEntry:
    fields: dict[str, object] = {
        "authors": (an_author(id=OTHER, institution=OTHER_STRUCTURE),),
        "submitter": Submitter("professional", OTHER, OTHER_STRUCTURE),
    }
    fields.update(changes)
    return a_document(record.id, **fields)


@pytest.fixture
def record(uow_factory: SqlUnitOfWorkFactory) -> Record:
    record = a_record()
    with uow_factory() as uow:
        uow.records.add(record)
        uow.commit()
    return record


def store(uow_factory: SqlUnitOfWorkFactory, *documents: DocumentEntry) -> None:
    with uow_factory() as uow:
        for document in documents:
            uow.documents.add(document)
        uow.commit()


def search_ids(
    uow_factory: SqlUnitOfWorkFactory,
    record: Record,
    query: DocumentQuery | None = None,
    scope: SearchScope | None = None,
    *,
    structure: str | None = MY_STRUCTURE,
    now: object = NOW,
) -> set[str]:
    context = SearchContext(ME, structure, now)  # type: ignore[arg-type]
    with uow_factory() as uow:
        page = uow.documents.search(
            record.id,
            query or DocumentQuery(statuses=ALL_STATUSES),
            scope or SearchScope(),
            context,
        )
    assert page.total == len(page.items)
    return {d.id for d in page.items}


def test_default_query_returns_current_documents_only(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """DOC-5: deleted and superseded documents are left out unless `status` asks."""
    current = by_other(record)
    superseded = by_other(record, status=DocumentStatus.SUPERSEDED)
    deleted = by_other(record, status=DocumentStatus.ENTERED_IN_ERROR)
    elsewhere = a_record()
    with uow_factory() as uow:
        uow.records.add(elsewhere)
        uow.commit()
    store(uow_factory, current, superseded, deleted, by_other(elsewhere))
    assert search_ids(uow_factory, record, DocumentQuery()) == {current.id}
    asked = DocumentQuery(statuses=frozenset({DocumentStatus.SUPERSEDED}))
    assert search_ids(uow_factory, record, asked) == {superseded.id}
    assert search_ids(uow_factory, record) == {current.id, superseded.id, deleted.id}


def test_query_filters(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """ITI-67 parameters: identifier, type, category, date, period, author, facility,
    setting, event, security-label."""
    base = by_other(record)
    typed = by_other(record, type=SENSITIVE, category=Coding("x", "44"))
    dated = by_other(record, date=NOW - timedelta(days=30))
    period = by_other(
        record,
        period_start=NOW - timedelta(days=60),
        period_end=NOW - timedelta(days=50),
    )
    authored = by_other(record, authors=(an_author(id=ME),))
    facility = by_other(
        record, facility_type=Coding("f", "SA07"), practice_setting=Coding("p", "X")
    )
    event = by_other(record, events=(Coding("e", "EV1"), Coding("e", "EV2")))
    masked = by_other(record, labels=frozenset({Label.MASQUE_PS}))
    store(uow_factory, base, typed, dated, period, authored, facility, event, masked)

    def ids(**params: object) -> set[str]:
        return search_ids(uow_factory, record, DocumentQuery(**params))  # type: ignore[arg-type]

    assert ids(unique_ids=frozenset({base.unique_id, dated.unique_id})) == {base.id, dated.id}
    assert ids(type_codes=frozenset({"80788-3"})) == {typed.id}
    assert ids(category_codes=frozenset({"44"})) == {typed.id}
    assert ids(date_from=NOW - timedelta(days=31), date_to=NOW - timedelta(days=29)) == {dated.id}
    assert dated.id not in ids(date_from=NOW - timedelta(days=30) + timedelta(microseconds=1))
    assert dated.id not in ids(date_to=NOW - timedelta(days=30))
    assert ids(period_from=NOW - timedelta(days=55), period_to=NOW - timedelta(days=54)) == {
        period.id
    }
    assert period.id not in ids(period_from=NOW - timedelta(days=49))
    assert period.id not in ids(period_to=NOW - timedelta(days=60))
    assert ids(author_ids=frozenset({ME})) == {authored.id}
    assert ids(facility_codes=frozenset({"SA07"})) == {facility.id}
    assert ids(setting_codes=frozenset({"X"})) == {facility.id}
    assert ids(event_codes=frozenset({"EV2", "nope"})) == {event.id}
    assert ids(security_labels=frozenset({Label.MASQUE_PS})) == {masked.id}
    assert ids(type_codes=frozenset({"80788-3"}), category_codes=frozenset({"10"})) == set()


def test_sort_paging_and_total(uow_factory: SqlUnitOfWorkFactory, record: Record) -> None:
    """`_sort=-date` (default) or `date`, `_count`, offset; `total` counts every match."""
    documents = [by_other(record, date=NOW - timedelta(days=n)) for n in range(7)]
    store(uow_factory, *documents)
    context = SearchContext(ME, None, NOW)
    newest_first = [d.id for d in documents]
    with uow_factory() as uow:
        page = uow.documents.search(record.id, DocumentQuery(count=3), SearchScope(), context)
        assert [d.id for d in page.items] == newest_first[:3]
        assert (page.total, page.offset, page.count) == (7, 0, 3)
        page = uow.documents.search(
            record.id, DocumentQuery(count=3, offset=6), SearchScope(), context
        )
        assert [d.id for d in page.items] == newest_first[6:]
        assert page.total == 7
        page = uow.documents.search(
            record.id, DocumentQuery(sort=SortOrder.DATE_ASC, count=2), SearchScope(), context
        )
        assert [d.id for d in page.items] == newest_first[::-1][:2]
        page = uow.documents.search(record.id, DocumentQuery(count=0), SearchScope(), context)
        assert (page.items, page.total) == ([], 7)
        past_the_end = DocumentQuery(count=3, offset=9)  # the total comes from its own count
        page = uow.documents.search(record.id, past_the_end, SearchScope(), context)
        assert (page.items, page.total) == ([], 7)
        none = DocumentQuery(count=3, type_codes=frozenset({"no-such-type"}))
        page = uow.documents.search(record.id, none, SearchScope(), context)
        assert (page.items, page.total) == ([], 0)


def test_masked_documents_are_hidden_unless_own(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """R-PS-4: MASQUE_PS is visible only to its author (person or structure)."""
    masked = frozenset({Label.MASQUE_PS})
    others = by_other(record, labels=masked)
    submitted = by_other(record, labels=masked, submitter=Submitter("professional", ME, None))
    authored = by_other(record, labels=masked, authors=(an_author(id=ME, institution=None),))
    structure = by_other(
        record, labels=masked, submitter=Submitter("organization", "x", MY_STRUCTURE)
    )
    institution = by_other(record, labels=masked, authors=(an_author(institution=MY_STRUCTURE),))
    organization = by_other(
        record,
        labels=masked,
        authors=(Author(AuthorKind.ORGANIZATION, MY_STRUCTURE, "Clinique"),),
    )
    plain = by_other(record)
    store(uow_factory, others, submitted, authored, structure, institution, organization, plain)
    scope = SearchScope(hidden_labels_unless_own=masked)
    everyone_mine = {
        submitted.id,
        authored.id,
        structure.id,
        institution.id,
        organization.id,
        plain.id,
    }
    assert search_ids(uow_factory, record, scope=scope) == everyone_mine
    assert search_ids(uow_factory, record, scope=scope, structure=None) == {
        submitted.id,
        authored.id,
        plain.id,
    }
    assert search_ids(uow_factory, record, scope=SearchScope(hidden_labels=masked)) == {plain.id}


def test_invisible_patient_counts_only_within_its_month(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """R-PAT-1, DOC-7: the label lapses one month after submission, at the exact instant."""
    document = by_other(record, labels=frozenset({Label.INVISIBLE_PATIENT}))
    store(uow_factory, document)
    scope = SearchScope(hidden_labels=frozenset({Label.INVISIBLE_PATIENT}))
    lapse = invisible_patient_lapse(document.submitted_at)
    assert search_ids(uow_factory, record, scope=scope, now=NOW) == set()
    assert (
        search_ids(uow_factory, record, scope=scope, now=lapse - timedelta(microseconds=1)) == set()
    )
    assert search_ids(uow_factory, record, scope=scope, now=lapse) == {document.id}
    label_query = DocumentQuery(security_labels=frozenset({Label.INVISIBLE_PATIENT}))
    assert search_ids(uow_factory, record, label_query, now=NOW) == {document.id}
    assert search_ids(uow_factory, record, label_query, now=lapse) == set()


def test_denied_types_hidden_statuses_and_own_structure(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """R-PS-5 (profession × type), DOC-5 (statuses), R-PS-6 (own structure only)."""
    sensitive = by_other(record, type=SENSITIVE)
    deleted = by_other(record, status=DocumentStatus.ENTERED_IN_ERROR)
    mine = by_other(record, submitter=Submitter("organization", "x", MY_STRUCTURE))
    plain = by_other(record)
    store(uow_factory, sensitive, deleted, mine, plain)
    everything = {sensitive.id, deleted.id, mine.id, plain.id}
    denied = SearchScope(denied_types=frozenset({"80788-3"}))
    assert search_ids(uow_factory, record, scope=denied) == everything - {sensitive.id}
    hidden = SearchScope(hidden_statuses=frozenset({DocumentStatus.ENTERED_IN_ERROR}))
    assert search_ids(uow_factory, record, scope=hidden) == everything - {deleted.id}
    own_structure = SearchScope(only_own_structure=True)
    assert search_ids(uow_factory, record, scope=own_structure) == {mine.id}
    assert search_ids(uow_factory, record, scope=own_structure, structure=None) == set()


def _facts(document: DocumentEntry, structure: str | None) -> DocumentFacts:
    return DocumentFacts(
        labels=document.effective_labels(NOW),
        status=document.status,
        is_archived=document.is_archived,
        type_code=document.type.code,
        is_own=document.is_authored_by(ME),
        is_of_own_structure=document.is_of_structure(structure),
        is_patient_document=document.is_patient_document,
    )


def test_sql_scope_agrees_with_search_scope_admits(
    uow_factory: SqlUnitOfWorkFactory, record: Record
) -> None:
    """The SQL narrowing is exactly `SearchScope.admits` on every document, for every scope."""
    inv = Label.INVISIBLE_PATIENT
    documents = [
        by_other(record),
        by_other(record, labels=frozenset({Label.MASQUE_PS})),
        by_other(record, labels=frozenset({Label.MASQUE_PS}), authors=(an_author(id=ME),)),
        by_other(record, labels=frozenset({inv})),
        by_other(record, labels=frozenset({inv}), submitted_at=NOW - timedelta(days=62)),
        by_other(
            record,
            labels=frozenset({Label.INVISIBLE_REPRESENTANTS_LEGAUX}),
            authors=(an_author(institution=MY_STRUCTURE),),
        ),
        by_other(record, status=DocumentStatus.SUPERSEDED, type=SENSITIVE),
        by_other(record, status=DocumentStatus.ENTERED_IN_ERROR, labels=frozenset(Label)),
        by_other(
            record,
            labels=frozenset({Label.MASQUE_PS, inv}),
            authors=(Author(AuthorKind.ORGANIZATION, MY_STRUCTURE),),
        ),
        by_other(
            record,
            labels=frozenset({Label.MASQUE_PS, Label.INVISIBLE_REPRESENTANTS_LEGAUX}),
            authors=(Author(AuthorKind.PATIENT, "295109912611193"),),
            submitter=Submitter("person", "295109912611193", None),
        ),
        by_other(record, submitter=Submitter("professional", ME, MY_STRUCTURE), type=SENSITIVE),
    ]
    store(uow_factory, *documents)
    label_sets = [frozenset(), frozenset({Label.MASQUE_PS}), frozenset({inv}), frozenset(Label)]
    unless_own = [
        frozenset(),
        frozenset({Label.MASQUE_PS}),
        frozenset({Label.MASQUE_PS, Label.INVISIBLE_REPRESENTANTS_LEGAUX}),
    ]
    types = [frozenset(), frozenset({"80788-3"})]
    statuses = [
        frozenset(),
        frozenset({DocumentStatus.SUPERSEDED, DocumentStatus.ENTERED_IN_ERROR}),
    ]
    checked = 0
    for hidden, own, denied, hidden_status, only_own, structure in itertools.product(
        label_sets, unless_own, types, statuses, [False, True], [MY_STRUCTURE, None]
    ):
        scope = SearchScope(hidden, own, denied, hidden_status, only_own)
        expected = {d.id for d in documents if scope.admits(_facts(d, structure))}
        assert search_ids(uow_factory, record, scope=scope, structure=structure) == expected, scope
        checked += 1
    assert checked == 192
