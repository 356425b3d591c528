"""Consent ↔ `ConsentCommand` / domain `Consent` (API.md "Who may access", Details §7).

One Consent per relationship between the record and a professional: `provision.type`
permit (authorized, R-PS-2) or deny (blocked, R-PS-1); a permit whose `provision.actor.role`
is `https://opendmp.org/fhir/CodeSystem/record-role#administrator` names an administrator
(R-PS-3), a plain authorization uses HL7 v3 ParticipationType `PRCP`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.errors import DmpError
from opendmp.domain.identifiers import Ins, parse_idnps
from opendmp.domain.record import Record
from opendmp.fhir.datatypes import (
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    OPENDMP_CS,
    RPPS_SYSTEM,
    as_dict,
    as_list,
    codings,
    format_datetime,
    oid_uri,
    professional_id,
    text,
)
from opendmp.fhir.references import ReferenceKind, ins_of, parse_reference
from opendmp.fhir.validation import Issues, failure, structure_issues
from opendmp.services.consents import ConsentCommand

SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
CATEGORY_CODE = "59284-0"  # Patient consent
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
RECORD_ROLE = OPENDMP_CS + "record-role"

# The record a logical patient reference (an INS) names, or None (the web layer's lookup).
ResolveIns = Callable[[Ins], str | None]


def parse_consent(
    resource: object, *, base_url: str, resolve_ins: ResolveIns | None = None
) -> ConsentCommand:
    """`POST Consent` body → command, every problem reported with its path (400 / 422)."""
    errors = structure_issues(resource, path="Consent", expected="Consent")
    if errors:
        raise failure(errors)
    assert isinstance(resource, dict)
    issues = Issues()
    status = text(resource.get("status"))
    if status != "active":
        issues.rule("DMP-0631", "a recorded Consent is active", "Consent.status", rule="R-PS-2")
    if not any(c.code == "patient-privacy" for c in codings(resource.get("scope"))):
        issues.rule("DMP-0632", "Consent.scope must be patient-privacy", "Consent.scope")
    categories = [c for cat in as_list(resource.get("category")) for c in codings(cat)]
    if not any(c.system == LOINC and c.code == CATEGORY_CODE for c in categories):
        issues.rule(
            "DMP-0633", f"Consent.category must be LOINC {CATEGORY_CODE}", "Consent.category"
        )
    record_id = _record(as_dict(resource.get("patient")), base_url, resolve_ins, issues)
    provision = as_dict(resource.get("provision"))
    kind = _provision_type(provision, issues)
    actors = as_list(provision.get("actor"))
    professional, name, role = "", "", ConsentRole.PARTICIPANT
    if len(actors) != 1:
        issues.rule(
            "DMP-0636",
            "Consent.provision.actor names exactly one professional",
            "Consent.provision.actor",
        )
    else:
        actor = as_dict(actors[0])
        professional, name = _professional(as_dict(actor.get("reference")), issues)
        role = _role(as_dict(actor.get("role")), issues)
    if role is ConsentRole.ADMINISTRATOR and kind is Provision.DENY:
        issues.rule(
            "DMP-0638",
            "an administrator is named by a permit Consent",
            "Consent.provision.type",
            rule="R-PS-3",
        )
    issues.raise_if_any()
    assert record_id is not None and kind is not None
    return ConsentCommand(
        record_id=record_id,
        professional_id=professional,
        provision=kind,
        role=role,
        professional_name=name,
    )


def _record(
    patient: dict[str, Any], base_url: str, resolve_ins: ResolveIns | None, issues: Issues
) -> str | None:
    """Consent.patient: `Patient/<id>` (this server) or the INS when a resolver is given."""
    path = "Consent.patient"
    raw = text(patient.get("reference"))
    if raw:
        parsed = parse_reference(raw, base_url)
        if parsed.kind is ReferenceKind.LOCAL and parsed.resource_type == "Patient":
            return parsed.id
        issues.rule("DMP-0634", "Consent.patient must be Patient/<id> of this server", path)
        return None
    identifier = as_dict(patient.get("identifier"))
    ins = ins_of(text(identifier.get("system")), text(identifier.get("value")), any_system=False)
    if ins is None or resolve_ins is None:
        issues.rule("DMP-0634", "Consent.patient names the record (Patient/<id>)", path)
        return None
    record_id = resolve_ins(ins)
    if record_id is None:
        issues.rule("DMP-0634", "no record for this INS", f"{path}.identifier", rule="DOC-1")
    return record_id


def _provision_type(provision: dict[str, Any], issues: Issues) -> Provision | None:
    value = text(provision.get("type"))
    try:
        return Provision(value)
    except ValueError:
        issues.rule(
            "DMP-0635",
            "Consent.provision.type is permit (authorized) or deny (blocked)",
            "Consent.provision.type",
            rule="R-PS-1",
        )
        return None


def _professional(reference: dict[str, Any], issues: Issues) -> tuple[str, str]:
    """provision.actor.reference: `Practitioner/<IDNPS>` or the IDNPS identifier (ID-3)."""
    path = "Consent.provision.actor[0].reference"
    display = text(reference.get("display"))
    identifier = as_dict(reference.get("identifier"))
    value = ""
    if identifier:
        system = text(identifier.get("system"))
        if system not in (IDNPS_SYSTEM, RPPS_SYSTEM, IDNPS_SYSTEM.removeprefix("urn:oid:")):
            issues.rule(
                "DMP-0636",
                f"the professional is named by its IDNPS ({IDNPS_SYSTEM})",
                f"{path}.identifier.system",
                rule="ID-3",
            )
            return "", display
        value = professional_id([identifier])
        path = f"{path}.identifier.value"
    else:
        parsed = parse_reference(text(reference.get("reference")), "")
        if parsed.kind is ReferenceKind.LOCAL and parsed.resource_type == "Practitioner":
            value = parsed.id
        else:
            issues.rule(
                "DMP-0636", "the professional is Practitioner/<IDNPS> or its IDNPS identifier", path
            )
            return "", display
    try:
        parse_idnps(value, path=path)
    except DmpError as error:
        issues.extend([error])
    return value, display


def _role(role: dict[str, Any], issues: Issues) -> ConsentRole:
    for coding in codings(role):
        if coding.system == RECORD_ROLE and coding.code == ConsentRole.ADMINISTRATOR.value:
            return ConsentRole.ADMINISTRATOR
        if coding.system == PARTICIPATION_TYPE and coding.code == ConsentRole.PARTICIPANT.value:
            return ConsentRole.PARTICIPANT
    issues.rule(
        "DMP-0637",
        f"provision.actor.role is {PARTICIPATION_TYPE}#PRCP or {RECORD_ROLE}#administrator",
        "Consent.provision.actor[0].role",
    )
    return ConsentRole.PARTICIPANT


def _performer(item: Consent, record: Record) -> dict[str, Any]:
    kind, who = item.performer_kind, item.performer_id
    if kind == "person":
        if who == record.ins.value:
            return {"reference": f"Patient/{record.id}"}
        system = next((r.ins.system for r in record.representatives if r.ins.value == who), None)
        return {
            "type": "RelatedPerson",
            "identifier": {"system": oid_uri(system or record.ins.system), "value": who},
        }
    if kind == "organization":
        return {"type": "Organization", "identifier": {"system": IDNST_SYSTEM, "value": who}}
    if kind == "professional":
        return {"reference": f"Practitioner/{who}"}
    return {"display": f"{kind} {who}".strip()}


def consent(item: Consent, record: Record, base_url: str) -> dict[str, Any]:
    """A recorded relationship as FHIR Consent (API.md Details §7)."""
    del base_url
    role = (
        {"system": RECORD_ROLE, "code": ConsentRole.ADMINISTRATOR.value}
        if item.role is ConsentRole.ADMINISTRATOR
        else {"system": PARTICIPATION_TYPE, "code": ConsentRole.PARTICIPANT.value}
    )
    actor_reference: dict[str, Any] = {
        "type": "Practitioner",
        "identifier": {"system": IDNPS_SYSTEM, "value": item.professional_id},
    }
    if item.professional_name:
        actor_reference["display"] = item.professional_name
    provision: dict[str, Any] = {
        "type": item.provision.value,
        "actor": [{"role": {"coding": [role]}, "reference": actor_reference}],
    }
    if item.ended_at is not None:
        provision["period"] = {
            "start": format_datetime(item.recorded_at),
            "end": format_datetime(item.ended_at),
        }
    return {
        "resourceType": "Consent",
        "id": item.id,
        "status": "active" if item.is_active else "inactive",
        "scope": {"coding": [{"system": SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": LOINC, "code": CATEGORY_CODE}]}],
        "patient": {
            "reference": f"Patient/{record.id}",
            "identifier": {"system": oid_uri(record.ins.system), "value": record.ins.value},
        },
        "dateTime": format_datetime(item.recorded_at),
        "performer": [_performer(item, record)],
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": provision,
    }
