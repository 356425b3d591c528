"""Access history: AuditEvent as IHE BALP (API.md "Access history", Details §18, §27;
SPEC.md AUD-3, R-PS-7)."""

from __future__ import annotations

from fastapi import APIRouter

from opendmp.fhir import render
from opendmp.fhir.audit_events import audit_event
from opendmp.fhir.search import page_links, parse_audit_search
from opendmp.services.access_history import access_history
from opendmp.web.deps import CurrentCall, FhirBase, QueryParams, RuntimeDep, Strict
from opendmp.web.lookup import record_for_rendering, record_id_of
from opendmp.web.responses import FhirResponse

router = APIRouter(prefix="/fhir", tags=["AuditEvent"])


@router.get("/AuditEvent")
def search_audit_events(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, params: QueryParams, strict: Strict
) -> FhirResponse:
    """Every trace for the patient, RLs and administrators; a PS its own (R-PS-7)."""
    services = runtime.application.services
    patient, query, kept = parse_audit_search(
        params,
        strict=strict,
        max_count=services.deployment.limits.max_count,
        base_url=base,
        any_system=runtime.any_system,
    )
    record_id = record_id_of(services, call, patient)
    page = access_history(services, call, record_id, query)
    record = record_for_rendering(services, record_id)
    self_url, next_url = page_links(
        base, "AuditEvent", kept, offset=page.offset, count=page.count, total=page.total
    )
    resources = [audit_event(entry, record, base) for entry in page.items]
    return FhirResponse(render.searchset(resources, page.total, self_url, next_url, base_url=base))
