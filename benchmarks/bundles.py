"""ITI-65 Provide Document Bundles with the full PDSm (comprehensive) metadata, as a DMP
client sends them (API.md "Documents"; DOC-1 under profile `dmp`).

Shaped after `tests/fixtures/fhir/opendmp/Bundle-dmp-submission-corrected.json`: a List
(SubmissionSet), then for each document its DocumentReference and Binary. The author is a
contained Practitioner + Organization + PractitionerRole (authorPerson, authorInstitution,
authorRole), the subject is `Patient/<id>` when the record id is known, else the INS.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benchmarks.datagen import (
    CONFIDENTIALITY,
    MHD,
    PDSM,
    DocumentSpec,
    Patient,
    Professional,
    attachment_hash,
    fixed_coding,
)
from opendmp.domain.documents import Coding
from opendmp.domain.identifiers import OID_IDNPS, OID_IDNST

RFC3986 = "urn:ietf:rfc:3986"
MHD_IDENTIFIER_TYPE = MHD + "CodeSystem/IHE.MHD.MHDIdentifierType"


@dataclass(frozen=True, slots=True)
class BundleDocument:
    spec: DocumentSpec
    data: bytes
    unique_id: str  # an OID, sent as urn:oid:


def _coding(coding: Coding) -> dict[str, str]:
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def _concept(coding: Coding) -> dict[str, Any]:
    return {"coding": [_coding(coding)]}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _subject(patient: Patient, record_reference: str | None) -> dict[str, Any]:
    if record_reference:
        return {"reference": record_reference}
    return {
        "identifier": {"system": f"urn:oid:{patient.ins_system}", "value": patient.ins},
        "type": "Patient",
    }


def _contained(patient: Patient, author: Professional) -> list[dict[str, Any]]:
    """Source patient, and the author as Practitioner + Organization + PractitionerRole."""
    return [
        {
            "resourceType": "Patient",
            "id": "patient-source",
            "identifier": [{"system": f"urn:oid:{patient.ins_system}", "value": patient.ins}],
        },
        {
            "resourceType": "Practitioner",
            "id": "author",
            "identifier": [{"system": f"urn:oid:{OID_IDNPS}", "value": author.idnps}],
            "name": [{"text": author.name}],
        },
        {
            "resourceType": "Organization",
            "id": "author-org",
            "identifier": [{"system": f"urn:oid:{OID_IDNST}", "value": author.structure}],
        },
        {
            "resourceType": "PractitionerRole",
            "id": "author-role",
            "practitioner": {"reference": "#author"},
            "organization": {"reference": "#author-org"},
            "code": [_concept(fixed_coding(f"profession:{author.profession}"))],
        },
    ]


def _document_reference(
    patient: Patient, doc: BundleDocument, binary_url: str, subject: dict[str, Any]
) -> dict[str, Any]:
    spec, author = doc.spec, doc.spec.author
    return {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PDSM + "pdsm-comprehensive-document-reference"]},
        "contained": _contained(patient, author),
        "masterIdentifier": {"system": RFC3986, "value": f"urn:oid:{doc.unique_id}"},
        "status": "current",
        "type": _concept(spec.kind.type),
        "category": [_concept(spec.kind.category)],
        "subject": subject,
        "date": _instant(spec.date),
        "author": [{"reference": "#author-role"}],
        "securityLabel": [_concept(CONFIDENTIALITY)],
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "language": "fr-FR",
                    "url": binary_url,
                    "size": len(doc.data),
                    "hash": attachment_hash(doc.data),
                    "title": spec.title,
                    "creation": _instant(spec.date),
                },
                "format": _coding(fixed_coding("format")),
            }
        ],
        "context": {
            "period": {"start": _instant(spec.date)},
            "facilityType": _concept(fixed_coding(f"facility:{author.facility}")),
            "practiceSetting": _concept(fixed_coding(f"practice:{author.producer.practice}")),
            "sourcePatientInfo": {"reference": "#patient-source"},
        },
        "custodian": {"identifier": {"system": f"urn:oid:{OID_IDNST}", "value": author.structure}},
    }


def provide_bundle(
    patient: Patient,
    documents: Sequence[BundleDocument],
    *,
    submission_unique_id: str,
    source_oid: str,
    submitted: datetime,
    record_reference: str | None = None,
    activity: str = "07",
) -> dict[str, Any]:
    """One ITI-65 transaction: SubmissionSet List, DocumentReferences, Binaries (base64)."""
    if not documents:
        raise ValueError("a Provide Document Bundle holds at least one document")
    subject = _subject(patient, record_reference)
    author = documents[0].spec.author
    entries: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for position, doc in enumerate(documents):
        ref_url = f"urn:uuid:00000000-0000-4000-8000-{2 * position + 2:012d}"
        bin_url = f"urn:uuid:00000000-0000-4000-8000-{2 * position + 3:012d}"
        items.append({"item": {"reference": ref_url}})
        entries.append(
            {
                "fullUrl": ref_url,
                "resource": _document_reference(patient, doc, bin_url, subject),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        entries.append(
            {
                "fullUrl": bin_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/pdf",
                    "data": base64.b64encode(doc.data).decode("ascii"),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    submission_set = {
        "resourceType": "List",
        "meta": {"profile": [PDSM + "pdsm-submissionset-comprehensive"]},
        "contained": _contained(patient, author),
        "extension": [
            {
                "url": MHD + "StructureDefinition/ihe-designationType",
                "valueCodeableConcept": _concept(fixed_coding(f"activity:{activity}")),
            },
            {
                "url": MHD + "StructureDefinition/ihe-sourceId",
                "valueIdentifier": {"system": RFC3986, "value": f"urn:oid:{source_oid}"},
            },
            {
                "url": MHD + "StructureDefinition/ihe-sourcePatientId",
                "valueReference": {"reference": "#patient-source"},
            },
        ],
        "identifier": [
            {
                "use": "usual",
                "system": RFC3986,
                "value": f"urn:oid:{submission_unique_id}",
                "type": {"coding": [{"system": MHD_IDENTIFIER_TYPE, "code": "uniqueId"}]},
            }
        ],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": MHD + "CodeSystem/MHDlistTypes", "code": "submissionset"}]},
        "subject": subject,
        "date": _instant(submitted),
        "source": {"reference": "#author-role"},
        "entry": items,
    }
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PDSM + "pdsm-comprehensive-provide-document-bundle"]},
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                "resource": submission_set,
                "request": {"method": "POST", "url": "List"},
            },
            *entries,
        ],
    }
