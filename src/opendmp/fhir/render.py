"""Domain objects → FHIR R4 JSON: DocumentReference, SubmissionSet List, Patient, Binary,
searchset (IHE MHD 4.2 comprehensive metadata + PDSm; API.md §4, §8, §24).

Renderers take the base URL of the FHIR endpoint (`https://host/fhir`) and return plain
JSON dicts; `fhir.resources.R4B` parses every one of them back (tests/unit/test_fhir_render).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opendmp.domain.documents import DocumentEntry, SubmissionSet
from opendmp.domain.identifiers import OID_INS_NIA, Ins
from opendmp.domain.record import Record, RecordState
from opendmp.fhir.audit_events import audit_event
from opendmp.fhir.authors import contained_author
from opendmp.fhir.consent import consent
from opendmp.fhir.datatypes import (
    DESIGNATION_TYPE_URL,
    IDNST_SYSTEM,
    IS_ARCHIVED_URL,
    MHD_IDENTIFIER_TYPE,
    MHD_LIST_TYPES,
    OPENDMP_SD,
    RFC3986,
    SOURCE_ID_URL,
    coding_json,
    concept_json,
    format_date,
    format_datetime,
    identifier_of_unique_id,
    oid_uri,
    uuid_urn,
)
from opendmp.fhir.labels import security_codings

RECORD_STATUS_URL = OPENDMP_SD + "record-status"
RECORD_CLOSURE_URL = OPENDMP_SD + "record-closure"
FR_CORE_IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

__all__ = [
    "audit_event",
    "binary",
    "consent",
    "document_reference",
    "patient",
    "patient_identifier",
    "searchset",
    "submission_set_list",
]


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def _typed_identifier(code: str, identifier: dict[str, str], use: str) -> dict[str, Any]:
    typed: dict[str, Any] = {
        "use": use,
        "type": {"coding": [{"system": MHD_IDENTIFIER_TYPE, "code": code}]},
    }
    return typed | identifier


def patient_identifier(ins: Ins) -> dict[str, Any]:
    """The INS as FR Core writes it: `urn:oid:` system, type INS-NIR or INS-NIA."""
    kind = "INS-NIA" if ins.system == OID_INS_NIA else "INS-NIR"
    return {
        "use": "official",
        "type": {"coding": [{"system": FR_CORE_IDENTIFIER_TYPE, "code": kind}]},
        "system": oid_uri(ins.system),
        "value": ins.value,
    }


def _subject(record_id: str, ins: Ins | None) -> dict[str, Any]:
    subject: dict[str, Any] = {"reference": f"Patient/{record_id}"}
    if ins is not None:
        subject["identifier"] = {"system": oid_uri(ins.system), "value": ins.value}
    return subject


def document_reference(
    entry: DocumentEntry, base_url: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """MHD comprehensive + PDSm DocumentReference; labels in force at `now` (DOC-7 lapse)."""
    labels = entry.effective_labels(now) if now is not None else entry.labels
    security = [coding_json(c) for c in security_codings(entry.confidentiality, labels)]
    contained: list[dict[str, Any]] = []
    authors: list[dict[str, str]] = []
    for position, author in enumerate(entry.authors):
        resources, reference = contained_author(author, f"author-{position}", subject=entry.subject)
        contained += resources
        authors.append(reference)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": entry.id,
        "meta": {"versionId": str(entry.version), "security": security},
        "extension": [{"url": IS_ARCHIVED_URL, "valueBoolean": entry.is_archived}],
        "masterIdentifier": identifier_of_unique_id(entry.unique_id),
        "status": entry.status.value,
        "subject": _subject(entry.record_id, entry.subject),
        "date": format_datetime(entry.date),
        "securityLabel": [{"coding": [c]} for c in security],
        "content": [_content(entry, base_url)],
    }
    if entry.type.code:  # absent only under MHD Minimal Metadata (API.md §25)
        resource["type"] = concept_json(entry.type)
    if entry.category.code:
        resource["category"] = [concept_json(entry.category)]
    entry_uuid = uuid_urn(entry.id)
    if entry_uuid is not None:  # MHD: identifier entryUUID (official)
        resource["identifier"] = [
            _typed_identifier("entryUUID", {"system": RFC3986, "value": entry_uuid}, "official")
        ]
    if contained:
        resource["contained"] = contained
        resource["author"] = authors
    if entry.custodian:
        resource["custodian"] = {"identifier": {"system": IDNST_SYSTEM, "value": entry.custodian}}
    if entry.description:
        resource["description"] = entry.description
    if entry.replaces:
        resource["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{entry.replaces}"}}
        ]
    context = _context(entry)
    if context:
        resource["context"] = context
    return resource


def _content(entry: DocumentEntry, base_url: str) -> dict[str, Any]:
    """ITI-68: attachment.url is the Binary; hash is base64 of the SHA-1 (FHIR R4)."""
    attachment: dict[str, Any] = {
        "contentType": entry.content_type,
        "url": f"{_base(base_url)}/Binary/{entry.id}",
        "size": entry.size,
        "hash": base64.b64encode(bytes.fromhex(entry.sha1)).decode("ascii"),
        "creation": format_datetime(entry.date),
    }
    if entry.language:
        attachment["language"] = entry.language
    if entry.title:
        attachment["title"] = entry.title
    content: dict[str, Any] = {"attachment": attachment}
    if entry.format is not None:
        content["format"] = coding_json(entry.format)
    return content


def _context(entry: DocumentEntry) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if entry.events:
        context["event"] = [concept_json(c) for c in entry.events]
    period: dict[str, str] = {}
    if entry.period_start is not None:
        period["start"] = format_datetime(entry.period_start)
    if entry.period_end is not None:
        period["end"] = format_datetime(entry.period_end)
    if period:
        context["period"] = period
    if entry.facility_type is not None:
        context["facilityType"] = concept_json(entry.facility_type)
    if entry.practice_setting is not None:
        context["practiceSetting"] = concept_json(entry.practice_setting)
    return context


def submission_set_list(ss: SubmissionSet, base_url: str) -> dict[str, Any]:
    """ITI-66: the SubmissionSet as an MHD List (designationType, sourceId, uniqueId, source)."""
    del base_url  # references are relative to the server base
    identifiers = [_typed_identifier("uniqueId", identifier_of_unique_id(ss.unique_id), "usual")]
    entry_uuid = uuid_urn(ss.id)
    if entry_uuid is not None:
        identifiers.append(
            _typed_identifier("entryUUID", {"system": RFC3986, "value": entry_uuid}, "official")
        )
    resource: dict[str, Any] = {
        "resourceType": "List",
        "id": ss.id,
        "extension": [
            {
                "url": SOURCE_ID_URL,
                "valueIdentifier": {"system": RFC3986, "value": oid_uri(ss.source_id)},
            },
        ],
        "identifier": identifiers,
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": MHD_LIST_TYPES, "code": "submissionset"}]},
        "subject": {"reference": f"Patient/{ss.record_id}"},
        "date": format_datetime(ss.date),
        "entry": [{"item": {"reference": f"DocumentReference/{d}"}} for d in ss.document_ids],
    }
    if ss.content_type.code:  # absent only under MHD Minimal Metadata (API.md §25)
        resource["extension"].insert(
            0, {"url": DESIGNATION_TYPE_URL, "valueCodeableConcept": concept_json(ss.content_type)}
        )
    if ss.title:
        resource["title"] = ss.title
    if ss.authors:  # List.source is 0..1: the first author (a PractitionerRole carries the
        contained, source = contained_author(ss.authors[0], "author-0")  # institution)
        resource["contained"] = contained
        resource["source"] = source
    return resource


def patient(record: Record, base_url: str, *, state_only: bool) -> dict[str, Any]:
    """PDQm Patient with the record's state (API.md §4); `state_only` for a PS on a closed
    record (API.md §5, §23): identifier, `active` and the state extensions only."""
    del base_url
    is_open = record.state is RecordState.OPEN
    extensions: list[dict[str, Any]] = [
        {"url": RECORD_STATUS_URL, "valueCode": "open" if is_open else "closed"}
    ]
    if not is_open and record.closed_at is not None:
        closure: list[dict[str, Any]] = [
            {"url": "date", "valueDateTime": format_datetime(record.closed_at)}
        ]
        if record.closure_reason is not None:
            closure.append({"url": "reason", "valueCode": record.closure_reason.value})
        extensions.append({"url": RECORD_CLOSURE_URL, "extension": closure})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": record.id,
        "meta": {"versionId": str(record.version)},
        "extension": extensions,
        "identifier": [patient_identifier(record.ins)],
        "active": is_open,
    }
    if state_only:
        return resource
    people = record.demographics
    name: dict[str, Any] = {"use": "official"}
    if people.family:
        name["family"] = people.family
    if people.given:
        name["given"] = [people.given]
    if len(name) > 1:
        resource["name"] = [name]
    resource["gender"] = people.sex
    if people.birth_date is not None:
        resource["birthDate"] = format_date(people.birth_date)
    if record.representatives:
        resource["contact"] = [
            {
                "relationship": [
                    {"coding": [{"system": ROLE_CODE_SYSTEM, "code": rep.relationship}]}
                ],
                **({"name": {"text": rep.name}} if rep.name else {}),
            }
            for rep in record.representatives
        ]
    return resource


def binary(entry: DocumentEntry, data: bytes) -> dict[str, Any]:
    """ITI-68 with `Accept: application/fhir+json`: the exact bytes as a Binary (DOC-2)."""
    return {
        "resourceType": "Binary",
        "id": entry.id,
        "contentType": entry.content_type,
        "securityContext": {"reference": f"DocumentReference/{entry.id}"},
        "data": base64.b64encode(data).decode("ascii"),
    }


def searchset(
    resources: Sequence[dict[str, Any]],
    total: int,
    self_url: str,
    next_url: str | None = None,
    *,
    base_url: str | None = None,
) -> dict[str, Any]:
    """A `searchset` Bundle with `total` and `link[self|next]` (API.md Basics, paging)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    entries = []
    for resource in resources:
        entry: dict[str, Any] = {"resource": resource, "search": {"mode": "match"}}
        if base_url and resource.get("id"):
            entry["fullUrl"] = f"{_base(base_url)}/{resource['resourceType']}/{resource['id']}"
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    }
