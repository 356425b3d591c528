"""Who may access: Consent (API.md "Who may access", Details §7; SPEC.md R-PS-1..3, R-PAT-2).

`POST Consent` authorizes (permit), blocks (deny) or names an administrator; a professional
posting a permit naming itself declares itself authorized (R-PS-2).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter

from opendmp.domain.errors import InvalidRequest, NotFound
from opendmp.domain.identifiers import Ins
from opendmp.fhir import render
from opendmp.fhir.consent import consent as consent_resource
from opendmp.fhir.consent import parse_consent
from opendmp.fhir.outcomes import information_outcome
from opendmp.fhir.references import PatientRef, ReferenceKind, ins_of, parse_reference
from opendmp.services import consents
from opendmp.services.context import Call
from opendmp.services.records import find_record
from opendmp.web.deps import CurrentCall, FhirBase, FhirBody, QueryParams, RuntimeDep, Strict
from opendmp.web.lookup import record_for_rendering, record_id_of
from opendmp.web.responses import FhirResponse, resource_response
from opendmp.web.runtime import Runtime

router = APIRouter(prefix="/fhir", tags=["Consent"])

_KNOWN = frozenset({"patient", "patient.identifier"})
_IGNORED = frozenset({"_format", "_pretty", "_summary", "_total", "_count"})


def _resolver(runtime: Runtime, call: Call) -> Callable[[Ins], str | None]:
    """Consent.patient by INS: looked up as the caller (traced); none is a 404 (API.md §6)."""

    def resolve(ins: Ins) -> str | None:
        record = find_record(runtime.application.services, call, ins)
        if record is None:
            raise NotFound("DMP-0404", "no such record")
        return record.id

    return resolve


@router.post("/Consent")
def record_consent(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, body: FhirBody
) -> FhirResponse:
    services = runtime.application.services
    command = parse_consent(body, base_url=base, resolve_ins=_resolver(runtime, call))
    recorded = consents.record_consent(services, call, command)
    record = record_for_rendering(services, recorded.record_id)
    return resource_response(
        consent_resource(recorded, record, base),
        status=201,
        location=f"{base}/Consent/{recorded.id}",
    )


def parse_consent_search(
    params: list[tuple[str, str]], *, strict: bool, base: str, any_system: bool
) -> PatientRef:
    unknown = sorted({name for name, _ in params if name not in _KNOWN | _IGNORED})
    if strict and unknown:
        raise InvalidRequest(
            "DMP-0622",
            f"unknown search parameters {', '.join(unknown)} (Prefer: handling=strict)",
            path=unknown[0],
        )
    record_id, ins = None, None
    for name, value in params:
        if name == "patient":
            parsed = parse_reference(value, base)
            if parsed.kind is ReferenceKind.LOCAL and parsed.resource_type == "Patient":
                record_id = parsed.id
            elif value and "/" not in value and "|" not in value:
                record_id = value
            else:
                raise InvalidRequest("DMP-0620", "patient must be Patient/<id>", path="patient")
        elif name == "patient.identifier":
            system, _, code = value.rpartition("|")
            ins = ins_of(system, code, any_system=any_system)
            if ins is None:
                raise InvalidRequest(
                    "DMP-0620",
                    "patient.identifier must be <INS system>|<INS>",
                    path="patient.identifier",
                )
    if record_id is None and ins is None:
        raise InvalidRequest(
            "DMP-0620", "patient or patient.identifier is required", path="patient"
        )
    return PatientRef(record_id=record_id, ins=ins)


@router.get("/Consent")
def search_consents(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, params: QueryParams, strict: Strict
) -> FhirResponse:
    """The authorized, blocked and administrator professionals of a record (R-PAT-1, TD1.6)."""
    services = runtime.application.services
    patient = parse_consent_search(params, strict=strict, base=base, any_system=runtime.any_system)
    record_id = record_id_of(services, call, patient)
    found = consents.list_consents(services, call, record_id)
    record = record_for_rendering(services, record_id)
    resources = [consent_resource(c, record, base) for c in found]
    kept = [(n, v) for n, v in params if n in _KNOWN]
    self_url = f"{base}/Consent" + (f"?{urlencode(kept)}" if kept else "")
    return FhirResponse(render.searchset(resources, len(resources), self_url, base_url=base))


@router.get("/Consent/{consent_id}")
def read_consent(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, consent_id: str
) -> FhirResponse:
    services = runtime.application.services
    found = consents.get_consent(services, call, consent_id)
    record = record_for_rendering(services, found.record_id)
    return resource_response(consent_resource(found, record, base))


@router.delete("/Consent/{consent_id}")
def end_consent(call: CurrentCall, runtime: RuntimeDep, consent_id: str) -> FhirResponse:
    """Revoke an authorization, unblock, or remove an administrator (the row is kept, ended)."""
    consents.end_consent(runtime.application.services, call, consent_id)
    return FhirResponse(information_outcome("consent ended"))
