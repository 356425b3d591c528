"""Document entries and submission sets (SPEC.md §4, DOC-1..7; IHE ITI-65, ITI-67)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.document_search import search_conditions, sort_order
from opendmp.adapters.sql.statements import insert_unless_exists
from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    SubmissionSet,
    Submitter,
    invisible_patient_lapse,
)
from opendmp.domain.errors import Conflict
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.domain.policy import SearchScope
from opendmp.services.ports import DocumentQuery, Page, SearchContext

# codings as JSON values


def _coding_json(coding: Coding) -> dict[str, str]:
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def _coding_from_json(data: dict[str, str]) -> Coding:
    return Coding(data["system"], data["code"], data.get("display", ""))


def _author_json(author: Author) -> dict[str, Any]:
    return {
        "kind": author.kind.value,
        "id": author.id,
        "name": author.name,
        "institution": author.institution,
        "role": _coding_json(author.role) if author.role else None,
    }


def _author_from_json(data: dict[str, Any]) -> Author:
    role = data.get("role")
    return Author(
        kind=AuthorKind(data["kind"]),
        id=data.get("id", ""),
        name=data.get("name", ""),
        institution=data.get("institution"),
        role=_coding_from_json(role) if role else None,
    )


# codings as three columns


def _coding_columns(prefix: str, coding: Coding | None) -> dict[str, str | None]:
    return {
        f"{prefix}_system": coding.system if coding else None,
        f"{prefix}_code": coding.code if coding else None,
        f"{prefix}_display": coding.display if coding else None,
    }


def _coding_from_row(row: Row[Any], prefix: str) -> Coding | None:
    mapping = row._mapping
    code = mapping[f"{prefix}_code"]
    if code is None:
        return None
    return Coding(mapping[f"{prefix}_system"], code, mapping[f"{prefix}_display"] or "")


def _required_coding(row: Row[Any], prefix: str) -> Coding:
    coding = _coding_from_row(row, prefix)
    if coding is None:
        raise ValueError(f"{prefix} coding missing from a stored row")
    return coding


def _document_values(document: DocumentEntry) -> dict[str, Any]:
    labels = document.labels
    return {
        "record_id": document.record_id,
        "id": document.id,
        "unique_id": document.unique_id,
        "status": document.status.value,
        **_coding_columns("type", document.type),
        **_coding_columns("category", document.category),
        "date": document.date,
        "authors": [_author_json(a) for a in document.authors],
        "submitter_kind": document.submitter.kind,
        "submitter_id": document.submitter.id,
        "submitter_structure": document.submitter.structure,
        "submitted_at": document.submitted_at,
        "submission_set_id": document.submission_set_id,
        "content_type": document.content_type,
        "size": document.size,
        "sha1": document.sha1,
        "title": document.title,
        "language": document.language,
        **_coding_columns("format", document.format),
        **_coding_columns("facility", document.facility_type),
        **_coding_columns("practice", document.practice_setting),
        "period_start": document.period_start,
        "period_end": document.period_end,
        "events": [_coding_json(e) for e in document.events],
        "custodian": document.custodian,
        "confidentiality": [_coding_json(c) for c in document.confidentiality],
        "is_masked_ps": Label.MASQUE_PS in labels,
        # DOC-7: stored as the lapse instant, so SQL can tell whether it is still in force.
        "invisible_patient_until": (
            invisible_patient_lapse(document.submitted_at.astimezone(UTC))
            if Label.INVISIBLE_PATIENT in labels
            else None
        ),
        "is_invisible_rl": Label.INVISIBLE_REPRESENTANTS_LEGAUX in labels,
        "subject_system": document.subject.system if document.subject else None,
        "subject_value": document.subject.value if document.subject else None,
        "is_archived": document.is_archived,
        "replaces": document.replaces,
        "replaced_by": document.replaced_by,
        "description": document.description,
        "version": document.version,
    }


def _labels(row: Row[Any]) -> frozenset[Label]:
    labels = set()
    if row.is_masked_ps:
        labels.add(Label.MASQUE_PS)
    if row.invisible_patient_until is not None:
        labels.add(Label.INVISIBLE_PATIENT)
    if row.is_invisible_rl:
        labels.add(Label.INVISIBLE_REPRESENTANTS_LEGAUX)
    return frozenset(labels)


def _document(row: Row[Any]) -> DocumentEntry:
    subject = Ins(row.subject_system, row.subject_value) if row.subject_value else None
    return DocumentEntry(
        id=DocumentId(row.id),
        record_id=RecordId(row.record_id),
        unique_id=row.unique_id,
        status=DocumentStatus(row.status),
        type=_required_coding(row, "type"),
        category=_required_coding(row, "category"),
        date=row.date,
        authors=tuple(_author_from_json(a) for a in row.authors),
        submitter=Submitter(row.submitter_kind, row.submitter_id, row.submitter_structure),
        submitted_at=row.submitted_at,
        submission_set_id=row.submission_set_id,
        content_type=row.content_type,
        size=row.size,
        sha1=row.sha1,
        title=row.title,
        language=row.language,
        format=_coding_from_row(row, "format"),
        facility_type=_coding_from_row(row, "facility"),
        practice_setting=_coding_from_row(row, "practice"),
        period_start=row.period_start,
        period_end=row.period_end,
        events=tuple(_coding_from_json(e) for e in row.events),
        custodian=row.custodian,
        confidentiality=tuple(_coding_from_json(c) for c in row.confidentiality),
        labels=_labels(row),
        subject=subject,
        is_archived=row.is_archived,
        replaces=DocumentId(row.replaces) if row.replaces else None,
        replaced_by=DocumentId(row.replaced_by) if row.replaced_by else None,
        description=row.description,
        version=row.version,
    )


def _submission_set(row: Row[Any]) -> SubmissionSet:
    return SubmissionSet(
        id=row.id,
        record_id=RecordId(row.record_id),
        unique_id=row.unique_id,
        source_id=row.source_id,
        content_type=_required_coding(row, "content_type"),
        date=row.date,
        authors=tuple(_author_from_json(a) for a in row.authors),
        submitter=Submitter(row.submitter_kind, row.submitter_id, row.submitter_structure),
        submitted_at=row.submitted_at,
        document_ids=tuple(DocumentId(d) for d in row.document_ids),
        title=row.title,
    )


# Built once (every ITI-68 and document read starts here): each call only binds.
_FIND = select(t.documents).where(t.documents.c.id == bindparam("document_id")).limit(1)


class SqlDocumentRepository:
    """`DocumentRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, document: DocumentEntry) -> None:
        """DOC-1: a uniqueId already in the record is refused (DMP-0410), nothing written."""
        if not insert_unless_exists(self._connection, t.documents, _document_values(document)):
            if self.get_by_unique_id(document.record_id, document.unique_id) is not None:
                raise Conflict(
                    "DMP-0410",
                    f"the record already holds a document with uniqueId {document.unique_id}",
                    rule="DOC-1",
                    path="DocumentReference.masterIdentifier",
                )
            raise Conflict("DMP-0409", f"document {document.id} already exists")
        self._write_index_rows(document)

    def get(self, record_id: RecordId, document_id: DocumentId) -> DocumentEntry | None:
        return self._one(
            select(t.documents).where(
                t.documents.c.record_id == record_id, t.documents.c.id == document_id
            )
        )

    def find(self, document_id: DocumentId) -> DocumentEntry | None:
        row = self._connection.execute(_FIND, {"document_id": document_id}).first()
        return _document(row) if row is not None else None

    def get_for_update(self, record_id: RecordId, document_id: DocumentId) -> DocumentEntry | None:
        statement = select(t.documents).where(
            t.documents.c.record_id == record_id, t.documents.c.id == document_id
        )
        return self._one(statement.with_for_update())

    def get_by_unique_id(self, record_id: RecordId, unique_id: str) -> DocumentEntry | None:
        return self._one(
            select(t.documents).where(
                t.documents.c.record_id == record_id, t.documents.c.unique_id == unique_id
            )
        )

    def update(self, document: DocumentEntry, *, expected_version: int) -> None:
        """Optimistic lock: the row must still carry `expected_version` (DMP-0409, DOC-3)."""
        if document.version <= expected_version:
            raise ValueError("an updated document must carry a higher version than expected")
        values = _document_values(document)
        del values["record_id"], values["id"]
        result = self._connection.execute(
            update(t.documents)
            .where(
                t.documents.c.record_id == document.record_id,
                t.documents.c.id == document.id,
                t.documents.c.version == expected_version,
            )
            .values(values)
        )
        if result.rowcount != 1:
            raise Conflict(
                "DMP-0409",
                f"document {document.id} changed meanwhile (expected version {expected_version})",
            )
        for table in (t.document_authors, t.document_events):
            self._connection.execute(
                delete(table).where(
                    table.c.record_id == document.record_id,
                    table.c.document_id == document.id,
                )
            )
        self._write_index_rows(document)

    def search(
        self, record_id: RecordId, query: DocumentQuery, scope: SearchScope, context: SearchContext
    ) -> Page[DocumentEntry]:
        """ITI-67 with the caller's scope applied in SQL, labels as of `context.now`."""
        conditions = [
            t.documents.c.record_id == record_id,
            *search_conditions(query, scope, context),
        ]
        # The page and the total in one round trip; a page past the end counts apart.
        statement = (
            select(t.documents, func.count().over().label("search_total"))
            .where(*conditions)
            .order_by(*sort_order(query.sort))
            .offset(query.offset)
            .limit(query.count)
        )
        rows = self._connection.execute(statement).all()
        if rows:
            total = int(rows[0].search_total)
        elif query.offset == 0 and query.count > 0:
            total = 0
        else:  # `_count=0` (the total only), or an offset past the last match
            total = self._connection.execute(
                select(func.count()).select_from(t.documents).where(*conditions)
            ).scalar_one()
        items = [_document(row) for row in rows]
        return Page(items=items, total=total, offset=query.offset, count=query.count)

    def count_by_month_and_type(self) -> list[tuple[str, str, int]]:
        submitted = t.documents.c.submitted_at
        month = (
            func.to_char(func.timezone("UTC", submitted), "YYYY-MM")
            if self._connection.dialect.name == "postgresql"
            else func.strftime("%Y-%m", submitted)
        )
        statement = (
            select(month, t.documents.c.type_code, func.count())
            .group_by(month, t.documents.c.type_code)
            .order_by(month, t.documents.c.type_code)
        )
        return [(str(m), str(code), int(n)) for m, code, n in self._connection.execute(statement)]

    def list_all(self, record_id: RecordId) -> list[DocumentEntry]:
        return self._many(
            select(t.documents)
            .where(t.documents.c.record_id == record_id)
            .order_by(t.documents.c.date, t.documents.c.id)
        )

    def invisible_patient_between(
        self, *, submitted_after: datetime, submitted_before: datetime, limit: int
    ) -> list[DocumentEntry]:
        """DOC-7, NOT-4: still labelled INVISIBLE_PATIENT, submitted in [after, before)."""
        return self._many(
            select(t.documents)
            .where(
                t.documents.c.invisible_patient_until.is_not(None),
                t.documents.c.submitted_at >= submitted_after,
                t.documents.c.submitted_at < submitted_before,
            )
            .order_by(t.documents.c.submitted_at, t.documents.c.record_id, t.documents.c.id)
            .limit(limit)
        )

    def add_submission_set(self, submission_set: SubmissionSet) -> None:
        """DOC-1: a submission set's uniqueId is unique in the record too (DMP-0410)."""
        values = {
            "record_id": submission_set.record_id,
            "id": submission_set.id,
            "unique_id": submission_set.unique_id,
            "source_id": submission_set.source_id,
            **_coding_columns("content_type", submission_set.content_type),
            "date": submission_set.date,
            "authors": [_author_json(a) for a in submission_set.authors],
            "submitter_kind": submission_set.submitter.kind,
            "submitter_id": submission_set.submitter.id,
            "submitter_structure": submission_set.submitter.structure,
            "submitted_at": submission_set.submitted_at,
            "document_ids": list(submission_set.document_ids),
            "title": submission_set.title,
        }
        if not insert_unless_exists(self._connection, t.submission_sets, values):
            raise Conflict(
                "DMP-0410",
                f"the record already holds submission set {submission_set.unique_id}",
                rule="DOC-1",
                path="List.identifier",
            )

    def list_submission_sets(self, record_id: RecordId) -> list[SubmissionSet]:
        rows = self._connection.execute(
            select(t.submission_sets)
            .where(t.submission_sets.c.record_id == record_id)
            .order_by(t.submission_sets.c.submitted_at, t.submission_sets.c.id)
        )
        return [_submission_set(row) for row in rows]

    def _write_index_rows(self, document: DocumentEntry) -> None:
        """Authors and events as rows, for `author.identifier` and `event` searches."""
        authors = [
            {
                "record_id": document.record_id,
                "document_id": document.id,
                "position": position,
                "kind": author.kind.value,
                "author_id": author.id,
                "institution": author.institution,
            }
            for position, author in enumerate(document.authors)
        ]
        if authors:
            self._connection.execute(insert(t.document_authors), authors)
        events = [
            {
                "record_id": document.record_id,
                "document_id": document.id,
                "position": position,
                "system": event.system,
                "code": event.code,
            }
            for position, event in enumerate(document.events)
        ]
        if events:
            self._connection.execute(insert(t.document_events), events)

    def _one(self, statement: Any) -> DocumentEntry | None:
        row = self._connection.execute(statement).first()
        return _document(row) if row is not None else None

    def _many(self, statement: Any) -> list[DocumentEntry]:
        return [_document(row) for row in self._connection.execute(statement)]
