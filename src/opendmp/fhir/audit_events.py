"""Audit entries → FHIR AuditEvent following IHE BALP (API.md §18, §27; SPEC.md AUD-1).

`agent.who.identifier` names the actor (IDNPS, IDNST or INS); `agent.purposeOfUse` is the
TRE_R248 access mode with the stated emergency reason in `.text`; `entity` holds the
patient (`what.reference` + the INS), the resource acted on and the `XrequestId`.
"""

from __future__ import annotations

from typing import Any

from opendmp.domain import terminology
from opendmp.domain.actors import ActorKind
from opendmp.domain.audit import AuditEntry
from opendmp.domain.identifiers import OID_INS_NIR
from opendmp.domain.policy import Action
from opendmp.domain.record import Record
from opendmp.fhir.datatypes import (
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    OPENDMP_CS,
    format_datetime,
    oid_uri,
)

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
PROFESSIONS = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
OPERATOR_SYSTEM = "https://opendmp.org/fhir/sid/operator"
ACTION_SYSTEM = OPENDMP_CS + "action"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"

# Action → (FHIR restful interaction, AuditEvent.action C/R/U/D/E) as BALP records them.
_INTERACTIONS: dict[str, tuple[str, str]] = {
    Action.RECORD_OPEN: ("create", "C"),
    Action.RECORD_STATE_READ: ("read", "R"),
    Action.RECORD_SEARCH_DEMOGRAPHIC: ("search-type", "E"),
    Action.RECORD_ACTIVATE: ("operation", "E"),
    Action.RECORD_CLOSE: ("operation", "E"),
    Action.RECORD_REOPEN: ("operation", "E"),
    Action.RECORD_EXPORT: ("operation", "E"),
    Action.RECORD_DESTROY: ("operation", "E"),
    Action.SETTINGS_READ: ("operation", "R"),
    Action.SETTINGS_WRITE: ("operation", "U"),
    Action.CONSENT_LIST: ("search-type", "E"),
    Action.CONSENT_SELF_REVOKE: ("delete", "D"),
    Action.CONSENT_REVOKE: ("delete", "D"),
    Action.CONSENT_UNBLOCK: ("delete", "D"),
    Action.DOCUMENT_SUBMIT: ("create", "C"),
    Action.DOCUMENT_REPLACE: ("create", "C"),
    Action.DOCUMENT_SEARCH: ("search-type", "E"),
    Action.DOCUMENT_LOOKUP: ("search-type", "E"),
    Action.DOCUMENT_READ: ("read", "R"),
    Action.DOCUMENT_DELETE: ("delete", "D"),
    Action.AUDIT_READ: ("search-type", "E"),
}


def _interaction(action: str) -> tuple[str, str]:
    if action in _INTERACTIONS:
        return _INTERACTIONS[action]
    if action.startswith("record:consent:"):
        return "create", "C"
    if action.startswith("record:document:"):  # labels, archive: PATCH / $meta-*
        return "patch", "U"
    return "operation", "E"


def _who(entry: AuditEntry, record: Record | None) -> dict[str, Any]:
    """agent.who: the actor by identifier (API.md §18)."""
    who: dict[str, Any] = {}
    system = None
    if entry.actor_kind == ActorKind.PROFESSIONAL:
        system = IDNPS_SYSTEM
    elif entry.actor_kind == ActorKind.ORGANIZATION:
        system = IDNST_SYSTEM
    elif entry.actor_kind == ActorKind.PERSON:
        system = oid_uri(_person_system(entry.actor_id, record))
    elif entry.actor_kind == ActorKind.OPERATOR:
        system = OPERATOR_SYSTEM
    if system and entry.actor_id:
        who["identifier"] = {"system": system, "value": entry.actor_id}
    display = entry.actor_name or (entry.actor_id if entry.actor_kind == ActorKind.SYSTEM else "")
    if display:
        who["display"] = display
    return who or {"display": entry.actor_kind}


def _person_system(ins_value: str, record: Record | None) -> str:
    if record is not None:
        if record.ins.value == ins_value:
            return record.ins.system
        for representative in record.representatives:
            if representative.ins.value == ins_value:
                return representative.ins.system
    return OID_INS_NIR


def _purpose(entry: AuditEntry) -> dict[str, Any]:
    """TRE_R248 access mode, the stated reason in `.text` (API.md §27)."""
    modes = terminology.access_modes()
    concept = next((c for c in modes.concepts if c.code == entry.access_mode), None)
    coding: dict[str, str] = {"code": entry.access_mode or "normal"}
    if concept is not None:
        coding = {"system": concept.system, "code": concept.code, "display": concept.display}
    purpose: dict[str, Any] = {"coding": [coding]}
    if entry.purpose_reason:
        purpose["text"] = entry.purpose_reason
    return purpose


def _agents(entry: AuditEntry, record: Record | None, base_url: str) -> list[dict[str, Any]]:
    human = entry.actor_kind in (ActorKind.PROFESSIONAL, ActorKind.PERSON, ActorKind.OPERATOR)
    user_type = (
        {"system": SECURITY_ROLE, "code": "humanuser", "display": "human user"}
        if human
        else {"system": DCM, "code": "110150", "display": "Application"}
    )
    user: dict[str, Any] = {
        "type": {"coding": [user_type]},
        "who": _who(entry, record),
        "requestor": True,
        "purposeOfUse": [_purpose(entry)],
    }
    if entry.actor_profession:
        user["role"] = [{"coding": [{"system": PROFESSIONS, "code": entry.actor_profession}]}]
    agents = [user]
    if entry.actor_structure and entry.actor_kind != ActorKind.ORGANIZATION:
        agents.append(
            {
                "type": {"coding": [{"system": ROLE_CLASS, "code": "PROV"}], "text": "structure"},
                "who": {"identifier": {"system": IDNST_SYSTEM, "value": entry.actor_structure}},
                "requestor": False,
            }
        )
    if entry.client:
        agents.append(
            {
                "type": {
                    "coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]
                },
                "who": {"display": entry.client},
                "requestor": False,
            }
        )
    agents.append(
        {
            "type": {
                "coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]
            },
            "who": {"display": "OpenDMP"},
            "requestor": False,
            "network": {"address": base_url.rstrip("/"), "type": "5"},
        }
    )
    return agents


def _entities(entry: AuditEntry, record: Record | None) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if record is not None:
        entities.append(
            {
                "what": {
                    "reference": f"Patient/{record.id}",
                    "identifier": {"system": oid_uri(record.ins.system), "value": record.ins.value},
                },
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    elif entry.record_id:
        entities.append(
            {
                "what": {"reference": f"Patient/{entry.record_id}"},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    if entry.resource_type and entry.resource_id:
        entities.append(
            {
                "what": {"reference": f"{entry.resource_type}/{entry.resource_id}"},
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    if entry.request_id:
        entities.append(
            {
                "what": {"identifier": {"value": entry.request_id}},
                "type": {"system": BALP_ENTITY_TYPE, "code": "XrequestId"},
            }
        )
    return entities


def audit_event(entry: AuditEntry, record: Record | None, base_url: str) -> dict[str, Any]:
    """One trace as an IHE BALP AuditEvent (outcome 0 success, 4 refused, 8 error)."""
    interaction, crud = _interaction(entry.action)
    description = entry.rule + (f": {entry.detail}" if entry.detail else "")
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": entry.id,
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "Restful Operation",
        },
        "subtype": [
            {"system": RESTFUL, "code": interaction},
            {"system": ACTION_SYSTEM, "code": entry.action},
        ],
        "action": crud,
        "recorded": format_datetime(entry.recorded_at),
        "outcome": entry.outcome.value,
        "agent": _agents(entry, record, base_url),
        "source": {
            "site": base_url.rstrip("/"),
            "observer": {"display": "OpenDMP"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
    }
    if description:
        event["outcomeDesc"] = description
    entities = _entities(entry, record)
    if entities:
        event["entity"] = entities
    return event
