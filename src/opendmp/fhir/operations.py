"""Parameters of the DMP operations: `$dmp-open`, `$dmp-close`, `$dmp-settings` (API.md
"Patients and records", Details §3, §5; SPEC.md REC-1, REC-3, REC-6, §5.4).

The INS key (ID-1) and the business rules (consent given, a minor's representatives) are
checked by the services; here only what the Parameters must hold.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any

from opendmp.domain.errors import InvalidRequest
from opendmp.domain.record import ClosureReason, Demographics, PatientSettings, Representative
from opendmp.fhir.datatypes import as_dict, as_list, codings, human_name, text
from opendmp.fhir.references import ins_from_identifiers
from opendmp.fhir.validation import Issues, failure, structure_issues
from opendmp.services.records import OpenRecordCommand

_SETTINGS = {
    "allowCentre15": "allow_centre_15",
    "allowBreakTheGlass": "allow_break_the_glass",
    "allowMaskedInEmergency": "allow_masked_in_emergency",
    "maskNewDocuments": "mask_new_documents",
    "notifyNewDocuments": "notify_new_documents",
    "email": "email",
}


def _parameters(resource: object) -> list[tuple[str, dict[str, Any], str]]:
    """(name, parameter, path) of each Parameters.parameter, after a structure check."""
    errors = structure_issues(resource, path="Parameters", expected="Parameters")
    if errors:
        raise failure(errors)
    assert isinstance(resource, dict)
    return [
        (text(as_dict(p).get("name")), as_dict(p), f"Parameters.parameter[{i}]")
        for i, p in enumerate(as_list(resource.get("parameter")))
    ]


def parse_open_parameters(resource: object, *, any_system: bool = False) -> OpenRecordCommand:
    """`$dmp-open`: `patient` (Patient with INS and demographics), `consent`, `representative`."""
    issues = Issues()
    patient: dict[str, Any] | None = None
    patient_path = "Parameters.parameter"
    has_consent = False
    representatives: list[Representative] = []
    for name, parameter, path in _parameters(resource):
        if name == "patient":
            patient, patient_path = as_dict(parameter.get("resource")), f"{path}.resource"
        elif name == "consent":
            has_consent = parameter.get("valueBoolean") is True
        elif name == "representative":
            person = as_dict(parameter.get("resource"))
            rep = _representative(person, f"{path}.resource", issues, any_system=any_system)
            if rep is not None:
                representatives.append(rep)
    if patient is None or patient.get("resourceType") != "Patient":
        issues.invalid("DMP-0660", "the `patient` parameter holds a Patient", patient_path)
        issues.raise_if_any()
    assert patient is not None
    issues.extend(structure_issues(patient, path=patient_path))
    ins = ins_from_identifiers(patient.get("identifier"), any_system=any_system)
    if ins is None:
        issues.rule(
            "DMP-0661", "the Patient carries its INS", f"{patient_path}.identifier", rule="ID-2"
        )
    issues.raise_if_any()
    assert ins is not None
    names = [as_dict(n) for n in as_list(patient.get("name"))]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    born = text(patient.get("birthDate"))
    return OpenRecordCommand(
        ins=ins,
        demographics=Demographics(
            family=text(official.get("family")),
            given=" ".join(text(g) for g in as_list(official.get("given"))),
            birth_date=date.fromisoformat(born) if len(born) == 10 else None,
            sex=text(patient.get("gender")) or "unknown",
        ),
        has_consent=has_consent,
        representatives=tuple(representatives),
    )


def _representative(
    person: dict[str, Any], path: str, issues: Issues, *, any_system: bool
) -> Representative | None:
    """REC-6: a RelatedPerson with the representative's INS and an HL7 RoleCode (FTH, MTH…)."""
    if person.get("resourceType") != "RelatedPerson":
        issues.invalid("DMP-0662", "a representative is a RelatedPerson", path)
        return None
    issues.extend(structure_issues(person, path=path))
    ins = ins_from_identifiers(person.get("identifier"), any_system=any_system)
    relationship = next(
        (c.code for r in as_list(person.get("relationship")) for c in codings(r) if c.code), ""
    )
    if ins is None:
        issues.rule("DMP-0662", "the representative carries its INS", f"{path}.identifier")
    if not relationship:
        issues.rule(
            "DMP-0662",
            "the representative's relationship is an HL7 v3 RoleCode (FTH, MTH, …)",
            f"{path}.relationship",
            rule="REC-6",
        )
    if ins is None or not relationship:
        return None
    return Representative(ins=ins, relationship=relationship, name=human_name(person.get("name")))


def parse_close_parameters(resource: object) -> ClosureReason:
    """`$dmp-close`: `reason` as valueCode `patient-request` | `death` (API.md §5)."""
    reasons = [(p, path) for name, p, path in _parameters(resource) if name == "reason"]
    if not reasons:
        raise InvalidRequest(
            "DMP-0663", "the `reason` parameter is required", path="Parameters.parameter"
        )
    parameter, path = reasons[0]
    try:
        return ClosureReason(text(parameter.get("valueCode")))
    except ValueError:
        raise InvalidRequest(
            "DMP-0663", "reason is patient-request or death", path=f"{path}.valueCode"
        ) from None


def parse_settings_parameters(resource: object, current: PatientSettings) -> PatientSettings:
    """`POST $dmp-settings`: the named settings change, the others stay (SPEC.md §5.4)."""
    issues = Issues()
    changes: dict[str, Any] = {}
    for name, parameter, path in _parameters(resource):
        field_name = _SETTINGS.get(name)
        if field_name is None:
            issues.invalid("DMP-0664", f"unknown setting {name!r}", f"{path}.name")
        elif field_name == "email":
            changes["email"] = text(parameter.get("valueString")) or None
        elif isinstance(parameter.get("valueBoolean"), bool):
            changes[field_name] = parameter["valueBoolean"]
        else:
            issues.invalid("DMP-0664", f"{name} is a valueBoolean", f"{path}.valueBoolean")
    issues.raise_if_any()
    return replace(current, **changes).normalized()


def settings_parameters(settings: PatientSettings) -> dict[str, Any]:
    """`GET $dmp-settings`: the settings as Parameters."""
    by_field = {field: name for name, field in _SETTINGS.items()}
    parameters: list[dict[str, Any]] = []
    for item in fields(settings):
        value = getattr(settings, item.name)
        name = by_field[item.name]
        if isinstance(value, bool):
            parameters.append({"name": name, "valueBoolean": value})
        elif value:
            parameters.append({"name": name, "valueString": str(value)})
    return {"resourceType": "Parameters", "parameter": parameters}
