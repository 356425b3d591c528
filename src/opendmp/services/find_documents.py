"""ITI-67 Find Document References and ITI-66 Find Document Lists (SPEC.md §5, DOC-5).

Narrowed before the query (`policy.narrow`), then every returned row checked again with
`policy.decide` (STYLE.md: "can see" separate from "will see").
"""

from __future__ import annotations

from dataclasses import replace

from opendmp.domain.actors import ActorKind, Card
from opendmp.domain.documents import DocumentEntry, SubmissionSet
from opendmp.domain.errors import Forbidden
from opendmp.domain.policy import Action, decide, narrow
from opendmp.services.access import about_document, enforce_facts, gather
from opendmp.services.context import Call, ServiceContext
from opendmp.services.ports import DocumentQuery, Page, SearchContext
from opendmp.services.records import load_record


def find_documents(
    ctx: ServiceContext, call: Call, record_id: str, query: DocumentQuery
) -> Page[DocumentEntry]:
    """R-PS-1..6, R-EM-1/2, R-PAT-1/3: what this caller may find in the record."""
    query = replace(query, count=max(0, min(query.count, ctx.deployment.limits.max_count)))
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        action = Action.DOCUMENT_LOOKUP if _is_lookup(call, query) else Action.DOCUMENT_SEARCH
        facts = gather(ctx, uow, call.actor, action, record)
        enforce_facts(ctx, uow, call, facts, record, resource_type="DocumentReference")
        scope = narrow(facts)
        if scope is None:
            uow.commit()
            raise Forbidden("DMP-0403", "this caller may not search this record")
        now = ctx.clock.now()
        page = uow.documents.search(
            record.id,
            query,
            scope,
            SearchContext(actor_id=call.actor.id, actor_structure=_structure(call), now=now),
        )
        visible = [d for d in page.items if decide(about_document(facts, d, now=now)).is_permitted]
        uow.commit()
    return Page(visible, page.total - (len(page.items) - len(visible)), page.offset, query.count)


def _is_lookup(call: Call, query: DocumentQuery) -> bool:
    """Footnote (5): restricted credentials may only look a reference up by its identifier."""
    actor = call.actor
    restricted = actor.kind is ActorKind.ORGANIZATION or actor.card is Card.CPE
    return restricted and bool(query.unique_ids)


def _structure(call: Call) -> str | None:
    return call.actor.id if call.actor.kind is ActorKind.ORGANIZATION else call.actor.structure


def find_submission_sets(ctx: ServiceContext, call: Call, record_id: str) -> list[SubmissionSet]:
    """ITI-66: the submission sets of the record, limited to documents the caller may find."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        facts = gather(ctx, uow, call.actor, Action.DOCUMENT_SEARCH, record)
        enforce_facts(ctx, uow, call, facts, record, resource_type="List")
        sets = uow.documents.list_submission_sets(record.id)
        now = ctx.clock.now()
        visible_ids = {
            doc.id
            for doc in uow.documents.list_all(record.id)
            if decide(about_document(facts, doc, now=now)).is_permitted
        }
        uow.commit()
    return [
        replace(s, document_ids=tuple(i for i in s.document_ids if i in visible_ids))
        for s in sets
        if any(i in visible_ids for i in s.document_ids)
    ]
