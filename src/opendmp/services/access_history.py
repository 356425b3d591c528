"""The access history of a record (SPEC.md §6 AUD-3, R-PS-7, R-PAT-1)."""

from __future__ import annotations

from dataclasses import replace

from opendmp.domain.audit import AuditEntry
from opendmp.domain.policy import Action, Obligation
from opendmp.services.access import enforce
from opendmp.services.context import Call, ServiceContext
from opendmp.services.ports import AuditQuery, Page
from opendmp.services.records import load_record


def access_history(
    ctx: ServiceContext, call: Call, record_id: str, query: AuditQuery
) -> Page[AuditEntry]:
    """The patient, RLs and administrators read every trace; a PS only its own (R-PS-7)."""
    query = replace(query, count=max(0, min(query.count, ctx.deployment.limits.max_count)))
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        decision = enforce(ctx, uow, call, Action.AUDIT_READ, record, resource_type="AuditEvent")
        if Obligation.ONLY_OWN_TRACES in decision.obligations:
            query = replace(query, actor_id=call.actor.id)
        page = uow.audit.search(record.id, query)
        uow.commit()
    return page
