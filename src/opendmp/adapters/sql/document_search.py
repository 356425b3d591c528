"""ITI-67 search in SQL: the query's filters and the caller's `SearchScope` (SPEC.md §5).

The scope narrows the query before it runs (HAPI's search narrowing); the service checks each
returned row with `decide` again. Labels are those in force at `context.now` (DOC-7:
INVISIBLE_PATIENT counts only until `invisible_patient_until`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from opendmp.adapters.sql import tables as t
from opendmp.domain.documents import AuthorKind, Label
from opendmp.domain.policy import SearchScope
from opendmp.services.ports import DocumentQuery, SearchContext, SortOrder

d = t.documents
a = t.document_authors


def has_label(label: Label, now: datetime) -> ColumnElement[bool]:
    """Whether a document carries `label` at `now` (DOC-7)."""
    if label is Label.MASQUE_PS:
        return d.c.is_masked_ps == true()
    if label is Label.INVISIBLE_PATIENT:
        return and_(d.c.invisible_patient_until.is_not(None), d.c.invisible_patient_until > now)
    return d.c.is_invisible_rl == true()


def _any_label(labels: frozenset[Label], now: datetime) -> ColumnElement[bool]:
    return or_(false(), *(has_label(label, now) for label in sorted(labels)))


def _authors_where(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(a.c.record_id == d.c.record_id, a.c.document_id == d.c.id, *conditions)


def is_own(actor_id: str) -> ColumnElement[bool]:
    """API.md §10: the caller submitted the document or is among its authors."""
    return or_(d.c.submitter_id == actor_id, _authors_where(a.c.author_id == actor_id))


def is_of_structure(structure: str | None) -> ColumnElement[bool]:
    """API.md §10: the structure submitted it, is an author institution or an author."""
    if not structure:
        return false()
    return or_(
        d.c.submitter_structure == structure,
        _authors_where(
            or_(
                a.c.institution == structure,
                and_(a.c.kind == AuthorKind.ORGANIZATION.value, a.c.author_id == structure),
            )
        ),
    )


def scope_conditions(scope: SearchScope, context: SearchContext) -> list[ColumnElement[bool]]:
    """`SearchScope.admits`, as SQL over the stored rows."""
    conditions: list[ColumnElement[bool]] = []
    if scope.hidden_labels:
        conditions.append(not_(_any_label(scope.hidden_labels, context.now)))
    if scope.hidden_labels_unless_own:
        conditions.append(
            or_(
                not_(_any_label(scope.hidden_labels_unless_own, context.now)),
                is_own(context.actor_id),
                is_of_structure(context.actor_structure),
            )
        )
    if scope.denied_types:
        conditions.append(d.c.type_code.not_in(sorted(scope.denied_types)))
    if scope.hidden_statuses:
        conditions.append(d.c.status.not_in(sorted(s.value for s in scope.hidden_statuses)))
    if scope.only_own_structure:
        conditions.append(is_of_structure(context.actor_structure))
    return conditions


def query_conditions(query: DocumentQuery, now: datetime) -> list[ColumnElement[bool]]:
    """The ITI-67 parameters (API.md, Documents); an empty set filters nothing."""
    conditions: list[ColumnElement[bool]] = []
    if query.statuses:
        conditions.append(d.c.status.in_(sorted(s.value for s in query.statuses)))
    if query.unique_ids:
        conditions.append(d.c.unique_id.in_(sorted(query.unique_ids)))
    if query.type_codes:
        conditions.append(d.c.type_code.in_(sorted(query.type_codes)))
    if query.category_codes:
        conditions.append(d.c.category_code.in_(sorted(query.category_codes)))
    if query.date_from is not None:
        conditions.append(d.c.date >= query.date_from)
    if query.date_to is not None:
        conditions.append(d.c.date < query.date_to)
    # context.period overlaps [from, to); a period without end is the instant of its start.
    if query.period_from is not None:
        conditions.append(func.coalesce(d.c.period_end, d.c.period_start) >= query.period_from)
    if query.period_to is not None:
        conditions.append(d.c.period_start < query.period_to)
    if query.author_ids:
        conditions.append(_authors_where(a.c.author_id.in_(sorted(query.author_ids))))
    if query.facility_codes:
        conditions.append(d.c.facility_code.in_(sorted(query.facility_codes)))
    if query.setting_codes:
        conditions.append(d.c.practice_code.in_(sorted(query.setting_codes)))
    if query.event_codes:
        e = t.document_events
        conditions.append(
            exists().where(
                e.c.record_id == d.c.record_id,
                e.c.document_id == d.c.id,
                e.c.code.in_(sorted(query.event_codes)),
            )
        )
    if query.security_labels:
        conditions.append(_any_label(query.security_labels, now))
    return conditions


def search_conditions(
    query: DocumentQuery, scope: SearchScope, context: SearchContext
) -> list[ColumnElement[bool]]:
    return [*query_conditions(query, context.now), *scope_conditions(scope, context)]


def sort_order(sort: SortOrder) -> list[UnaryExpression[object]]:
    """By date, then id so that paging is stable."""
    if sort is SortOrder.DATE_ASC:
        return [d.c.date.asc(), d.c.id.asc()]
    return [d.c.date.desc(), d.c.id.desc()]
