"""What this server serves, as the CapabilityStatement declares it (API.md Basics, metadata).

One entry per resource type, built with `fhir.capability`'s types; tests/api checks that every
declared interaction and operation has a route and that every FHIR route is declared.
"""

from __future__ import annotations

from opendmp.fhir.capability import RouteSpec, SearchParam, operation

_PATIENT_OF = (
    SearchParam("patient", "reference", "Patient/<id> (required, or patient.identifier)"),
    SearchParam("patient.identifier", "token", "<INS system>|<INS>"),
)


def _params(*specs: tuple[str, str]) -> tuple[SearchParam, ...]:
    return tuple(SearchParam(name, kind) for name, kind in specs)


def served_routes() -> tuple[RouteSpec, ...]:
    return (
        RouteSpec("", interactions=("transaction",)),
        RouteSpec(
            "Patient",
            interactions=("read", "search-type"),
            search_params=(
                SearchParam("identifier", "token", "the INS: <INS system>|<INS> (PDQm ITI-78)"),
                SearchParam("_id", "token"),
                SearchParam("family", "string", "centre-15 mode only (R-EM-2)"),
                SearchParam("given", "string", "centre-15 mode only (R-EM-2)"),
                SearchParam("birthdate", "date", "centre-15 mode only (R-EM-2)"),
            ),
            operations=(
                operation("dmp-open", "Open a DMP (Parameters: patient, consent, representative)"),
                operation("dmp-close", "Close a DMP (reason: patient-request | death)"),
                operation("dmp-reopen", "Reopen a closed DMP"),
                operation("dmp-settings", "Read (GET) or change (POST) the patient's settings"),
                operation("everything", "What this caller may see of the record"),
            ),
            documentation="PDQm Patient Demographics Supplier; the record's state (API.md §4)",
        ),
        RouteSpec(
            "DocumentReference",
            interactions=("read", "search-type", "patch", "delete"),
            search_params=(
                *_PATIENT_OF,
                *_params(
                    ("status", "token"),
                    ("type", "token"),
                    ("category", "token"),
                    ("date", "date"),
                    ("creation", "date"),
                    ("period", "date"),
                    ("author.identifier", "token"),
                    ("facility", "token"),
                    ("setting", "token"),
                    ("event", "token"),
                    ("security-label", "token"),
                    ("identifier", "token"),
                ),
            ),
            operations=(operation("meta-add"), operation("meta-delete")),
            documentation="ITI-67 Find Document References; JSON Patch (PDSm); $meta-add/delete",
        ),
        RouteSpec(
            "List",
            interactions=("search-type",),
            search_params=(
                *_PATIENT_OF,
                *_params(
                    ("code", "token"),
                    ("status", "token"),
                    ("date", "date"),
                    ("designationType", "token"),
                    ("sourceId", "token"),
                    ("identifier", "token"),
                ),
            ),
            documentation="ITI-66 Find Document Lists (SubmissionSets)",
        ),
        RouteSpec("Binary", interactions=("read",), documentation="ITI-68 Retrieve Document"),
        RouteSpec(
            "Consent",
            interactions=("read", "create", "delete", "search-type"),
            search_params=_PATIENT_OF,
            documentation="Authorized (permit), blocked (deny) professionals, administrators",
        ),
        RouteSpec(
            "AuditEvent",
            interactions=("search-type",),
            search_params=(
                *_PATIENT_OF,
                *_params(("date", "date"), ("agent", "reference"), ("agent.identifier", "token")),
            ),
            documentation="IHE BALP access history (AUD-3, R-PS-7)",
        ),
    )
