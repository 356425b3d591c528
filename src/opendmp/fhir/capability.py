"""CapabilityStatement generated from the route table (API.md Basics: `GET /fhir/metadata`).

The web layer owns the routes and passes them as `RouteSpec`s, so what is declared is what
is served (`web/route_table.py`). The DMP operations
(`$dmp-open`, `$dmp-close`, `$dmp-reopen`, `$dmp-settings`) have OpenDMP canonical URLs,
`$everything`, `$meta-add`, `$meta-delete` the HL7 ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from opendmp.fhir.iti65 import MHD_COMPREHENSIVE_BUNDLES, MHD_MINIMAL_BUNDLE

OPERATION_BASE = "https://opendmp.org/fhir/OperationDefinition/"
HL7_OPERATION = "http://hl7.org/fhir/OperationDefinition/"
MHD_CS = "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/"
PDQM_CS = "https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/"
PDSM_BUNDLE = (
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
    "pdsm-comprehensive-provide-document-bundle"
)
INSTANTIATES = (
    MHD_CS + "IHE.MHD.DocumentRecipient",
    MHD_CS + "IHE.MHD.DocumentRecipient.Comprehensive",
    MHD_CS + "IHE.MHD.DocumentResponder",
    PDQM_CS + "IHE.PDQm.PatientDemographicsSupplier",
)


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    type: str  # FHIR search-param-type: token, reference, date, string, …
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class OperationSpec:
    name: str  # without the `$`
    definition: str
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One resource type the server exposes; `resource_type=""` is the system level."""

    resource_type: str
    interactions: tuple[str, ...] = ()  # read, search-type, create, patch, delete, transaction…
    search_params: tuple[SearchParam, ...] = ()
    operations: tuple[OperationSpec, ...] = ()
    documentation: str = ""


def operation(name: str, documentation: str = "") -> OperationSpec:
    """An operation of this server: OpenDMP's `dmp-*`, HL7's for the standard ones."""
    standard = {
        "everything": "Patient-everything",
        "meta-add": "Resource-meta-add",
        "meta-delete": "Resource-meta-delete",
        "meta": "Resource-meta",
    }
    if name in standard:
        return OperationSpec(name, HL7_OPERATION + standard[name], documentation)
    return OperationSpec(name, OPERATION_BASE + name, documentation)


def _resource(route: RouteSpec) -> dict[str, Any]:
    resource: dict[str, Any] = {"type": route.resource_type}
    if route.documentation:
        resource["documentation"] = route.documentation
    if route.interactions:
        resource["interaction"] = [{"code": code} for code in route.interactions]
    if route.search_params:
        resource["searchParam"] = [
            {"name": p.name, "type": p.type}
            | ({"documentation": p.documentation} if p.documentation else {})
            for p in route.search_params
        ]
    if route.operations:
        resource["operation"] = [_operation(o) for o in route.operations]
    return resource


def _operation(spec: OperationSpec) -> dict[str, Any]:
    result = {"name": spec.name, "definition": spec.definition}
    if spec.documentation:
        result["documentation"] = spec.documentation
    return result


def capability_statement(
    routes: Sequence[RouteSpec],
    base_url: str,
    profile: str,
    *,
    software_version: str = "0.1.0",
    released: date | None = None,
) -> dict[str, Any]:
    """The server's CapabilityStatement (kind instance, FHIR 4.0.1, SMART on FHIR security)."""
    system = [r for r in routes if not r.resource_type]
    resources = sorted((r for r in routes if r.resource_type), key=lambda r: r.resource_type)
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": f"OpenDMP, metadata profile `{profile}` (SPEC.md §10)",
        "security": {
            "cors": True,
            "service": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                            "code": "SMART-on-FHIR",
                        }
                    ]
                }
            ],
            "description": "Bearer JWT (OpenID Connect) from a trusted issuer; SMART v2 scopes.",
        },
        "resource": [_resource(r) for r in resources],
    }
    interactions = [code for r in system for code in r.interactions]
    if interactions:
        rest["interaction"] = [
            {"code": code} | _transaction_doc(code, profile) for code in interactions
        ]
    operations = [o for r in system for o in r.operations]
    if operations:
        rest["operation"] = [_operation(o) for o in operations]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": (released or date.today()).isoformat(),
        "publisher": "OpenDMP",
        "kind": "instance",
        "instantiates": list(INSTANTIATES),
        "software": {"name": "OpenDMP", "version": software_version},
        "implementation": {
            "description": "OpenDMP national shared health record",
            "url": base_url.rstrip("/"),
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


def _transaction_doc(code: str, profile: str) -> dict[str, str]:
    if code != "transaction":
        return {}
    accepted = (
        [PDSM_BUNDLE]
        if profile == "dmp"
        else [MHD_MINIMAL_BUNDLE, *sorted(MHD_COMPREHENSIVE_BUNDLES)]
    )
    return {"documentation": "ITI-65 Provide Document Bundle: " + ", ".join(accepted)}
