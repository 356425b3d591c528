"""From what a request names (a record id, an INS) to the record, the way the rules want it.

An INS is looked up through `find_record` (traced, decided: API.md §6). A record is loaded
untraced only to *render* something the caller was just permitted to act on (a Consent, an
AuditEvent): that read is part of the action already traced.
"""

from __future__ import annotations

from opendmp.domain.actors import ActorKind
from opendmp.domain.errors import BusinessRuleViolation, NotFound
from opendmp.domain.record import Record, RecordState
from opendmp.fhir.references import PatientRef
from opendmp.services.context import Call, ServiceContext
from opendmp.services.records import find_record, load_record


def record_id_of(services: ServiceContext, call: Call, patient: PatientRef) -> str:
    """The record a search names; an unknown INS is a 404 like a hidden record (API.md §6)."""
    if patient.ins is None:
        if patient.record_id is None:
            raise NotFound("DMP-0404", "no such record")
        return patient.record_id
    record = find_record(services, call, patient.ins)
    if record is None:
        raise NotFound("DMP-0404", "no such record")
    if patient.record_id is not None and patient.record_id != record.id:
        raise BusinessRuleViolation(
            "DMP-0483",
            "patient and patient.identifier name different patients",
            path="patient.identifier",
        )
    return record.id


def record_for_rendering(services: ServiceContext, record_id: str) -> Record:
    with services.uow() as uow:
        return load_record(uow, record_id)


def is_state_only(call: Call, record: Record) -> bool:
    """A closed record shows professionals and operators its state only (API.md §5, §23)."""
    return call.actor.kind is not ActorKind.PERSON and record.state is not RecordState.OPEN
