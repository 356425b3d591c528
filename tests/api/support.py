"""Helpers for the API tests: a synchronous httpx client over the ASGI app, callers' tokens,
and the FHIR bodies the tests send (a PDSm ITI-65 Bundle, `$dmp-open` Parameters, Consent)."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
import httpx
from fastapi import FastAPI

from opendmp.domain.identifiers import Ins
from tests.support import CLASS, FACILITY, FORMAT, LABELS, LOINC, SETTING, STRUCTURE

BASE = "http://testserver"
FHIR = BASE + "/fhir"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
ACTIVITY = "https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OUTCOME = "https://opendmp.org/fhir/CodeSystem/outcome"
PRODUCER = (
    "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS"
)

GP = "899900000001"  # a physician of STRUCTURE, the usual author
NURSE = "899900000002"  # profession 60, another structure
EMERGENCY = "899900000003"
OTHER_GP = "899900000005"  # a physician with no relation to the records

_unique = itertools.count(1)


class _ChunkStream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class PortalTransport(httpx.BaseTransport):
    """httpx's ASGITransport driven from synchronous tests through an anyio portal: real HTTP
    semantics (headers, status, streamed bodies), the app's own event loop in one thread."""

    def __init__(self, app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            assert isinstance(request.stream, httpx.SyncByteStream)
            request.stream = _ChunkStream(list(request.stream))  # keeps the chunks apart

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return self._portal.call(send)


@contextmanager
def http_client(app: FastAPI) -> Iterator[httpx.Client]:
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        httpx.Client(transport=PortalTransport(app, portal), base_url=BASE) as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """The client, and tokens from the demo issuer's HTTP endpoint (API.md Details §1)."""

    http: httpx.Client
    tokens: dict[tuple[tuple[str, Any], ...], str] = field(default_factory=dict)

    def token(self, **claims: Any) -> str:
        key = tuple(sorted(claims.items()))
        if key not in self.tokens:
            response = self.http.post("/auth/dev/token", json=claims)
            assert response.status_code == 200, response.text
            self.tokens[key] = response.json()["access_token"]
        return self.tokens[key]

    def professional(self, idnps: str = GP, **claims: Any) -> dict[str, str]:
        claims.setdefault("profession", "10")
        claims.setdefault("structure", STRUCTURE)
        return bearer(self.token(sub=idnps, actor="professional", **claims))

    def nurse(self) -> dict[str, str]:
        return self.professional(NURSE, profession="60", structure="1690000011")

    def person(self, ins: Ins) -> dict[str, str]:
        return bearer(self.token(sub=ins.value, actor="person", ins_system=ins.system))

    def operator(self) -> dict[str, str]:
        return bearer(self.token(sub="ops", actor="operator"))

    def organization(self, idnst: str = STRUCTURE) -> dict[str, str]:
        return bearer(self.token(sub=idnst, actor="organization"))

    # -- flows used by many tests ----------------------------------------------------------

    def open_record(self, ins: Ins, headers: dict[str, str] | None = None, **kw: Any) -> str:
        """`$dmp-open` by the GP (who is then authorized, R-PS-2); the record id."""
        response = self.http.post(
            "/fhir/Patient/$dmp-open",
            json=open_parameters(ins, **kw),
            headers={**FHIR_JSON, **(headers or self.professional())},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def submit(
        self, bundle: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.post(
            "/fhir", json=bundle, headers={**FHIR_JSON, **(headers or self.professional())}
        )

    def submit_one(self, ins: Ins, headers: dict[str, str] | None = None, **doc: Any) -> str:
        """Submit one document; its DocumentReference id."""
        response = self.submit(provide_bundle(ins, [Doc(**doc)]), headers)
        assert response.status_code == 200, response.text
        location = response.json()["entry"][1]["response"]["location"]
        return str(location.split("/DocumentReference/")[1].split("/")[0])

    def authorize(self, record_id: str, idnps: str, patient: Ins, **kw: Any) -> None:
        """The patient authorizes a professional (R-PS-2) with a permit Consent."""
        response = self.http.post(
            "/fhir/Consent",
            json=consent(record_id, idnps, **kw),
            headers={**FHIR_JSON, **self.person(patient)},
        )
        assert response.status_code == 201, response.text


def outcome_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return str(body["issue"][0]["details"]["coding"][0]["code"])


def open_parameters(
    ins: Ins,
    *,
    consent: bool = True,
    born: str = "1985-10-04",
    representatives: tuple[Ins, ...] = (),
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "patient",
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": f"urn:oid:{ins.system}", "value": ins.value}],
                "name": [{"use": "official", "family": "DURAND", "given": ["Camille"]}],
                "gender": "female",
                "birthDate": born,
            },
        },
        {"name": "consent", "valueBoolean": consent},
    ]
    for rep in representatives:
        parameters.append(
            {
                "name": "representative",
                "resource": {
                    "resourceType": "RelatedPerson",
                    "patient": {"identifier": {"value": ins.value}},
                    "identifier": [{"system": f"urn:oid:{rep.system}", "value": rep.value}],
                    "relationship": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                    "code": "MTH",
                                }
                            ]
                        }
                    ],
                },
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def consent(
    record_id: str,
    idnps: str,
    *,
    provision: str = "permit",
    administrator: bool = False,
) -> dict[str, Any]:
    """API.md Details §7: scope patient-privacy, LOINC 59284-0, provision.actor by IDNPS."""
    role = (
        {"system": "https://opendmp.org/fhir/CodeSystem/record-role", "code": "administrator"}
        if administrator
        else {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
            "code": "PRCP",
        }
    )
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{record_id}"},
        "provision": {
            "type": provision,
            "actor": [
                {
                    "role": {"coding": [role]},
                    "reference": {"identifier": {"system": IDNPS, "value": idnps}},
                }
            ],
        },
    }


@dataclass
class Doc:
    """One DocumentReference of a PDSm comprehensive Bundle (SPEC.md DOC-1)."""

    data: bytes = b""
    type_code: str = "11488-4"
    class_code: str = "10"
    title: str = "Compte rendu"
    author: str = GP
    labels: tuple[str, ...] = ()
    replaces: str | None = None
    date: str = "2026-03-01T08:00:00+01:00"
    event: str | None = None
    content_type: str = "application/pdf"
    facility: str = "SA01"
    setting: str = "AMBULATOIRE"
    by_patient: bool = False  # DOC-6: authored by the patient (API.md Details §15)
    unique: str = ""

    def __post_init__(self) -> None:
        self.unique = self.unique or f"{next(_unique)}"
        self.data = self.data or f"%PDF-1.4 document {self.unique}\n".encode()


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def provide_bundle(
    ins: Ins, documents: list[Doc], *, subject_reference: str | None = None
) -> dict[str, Any]:
    """An ITI-65 transaction Bundle: a SubmissionSet List, DocumentReferences and Binaries."""
    subject: dict[str, Any] = (
        {"reference": subject_reference}
        if subject_reference
        else {"identifier": {"system": f"urn:oid:{ins.system}", "value": ins.value}}
    )
    run = next(_unique)
    practitioner = {
        "resourceType": "Practitioner",
        "id": "author",
        "identifier": [{"system": IDNPS, "value": documents[0].author}],
    }
    if documents[0].by_patient:
        practitioner = {
            "resourceType": "Patient",
            "id": "author",
            "identifier": [{"system": f"urn:oid:{ins.system}", "value": ins.value}],
        }
    entries: list[dict[str, Any]] = []
    items = []
    for position, doc in enumerate(documents):
        doc_url, bin_url = f"urn:uuid:doc-{run}-{position}", f"urn:uuid:bin-{run}-{position}"
        items.append({"item": {"reference": doc_url}})
        security = [_coding(CONFIDENTIALITY, "N")] + [_coding(LABELS, x) for x in doc.labels]
        author = (
            practitioner
            if doc.by_patient
            else practitioner | {"identifier": [{"system": IDNPS, "value": doc.author}]}
        )
        reference: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "contained": [author],
            "masterIdentifier": {
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:oid:1.2.250.1.999.7.{run}.{doc.unique}",
            },
            "status": "current",
            "type": _coding(LOINC, doc.type_code),
            "category": [_coding(CLASS, doc.class_code)],
            "subject": subject,
            "date": doc.date,
            "author": [{"reference": "#author"}],
            "custodian": {"identifier": {"system": IDNST, "value": STRUCTURE}},
            "securityLabel": security,
            "content": [
                {
                    "attachment": {
                        "contentType": doc.content_type,
                        "language": "fr-FR",
                        "url": bin_url,
                        "size": len(doc.data),
                        "hash": base64.b64encode(hashlib.sha1(doc.data).digest()).decode(),
                        "title": doc.title,
                        "creation": doc.date,
                    },
                    "format": _coding(FORMAT, "urn:ihe:iti:xds-sd:pdf:2008")["coding"][0],
                }
            ],
            "context": {
                "period": {"start": doc.date},
                "facilityType": _coding(FACILITY, doc.facility),
                "practiceSetting": _coding(SETTING, doc.setting),
            },
        }
        if doc.by_patient:  # no custodian, no institution; EXP_PATIENT (API.md §15)
            del reference["custodian"]
            reference["context"]["facilityType"] = _coding(PRODUCER, "EXP_PATIENT")
            reference["context"]["practiceSetting"] = _coding(PRODUCER, "EXP_PATIENT")
        if doc.event:
            reference["context"]["event"] = [_coding("urn:oid:1.2.250.1.999.9", doc.event)]
        if doc.replaces:
            reference["relatesTo"] = [
                {"code": "replaces", "target": {"reference": f"DocumentReference/{doc.replaces}"}}
            ]
        entries.append(
            {
                "fullUrl": doc_url,
                "resource": reference,
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        entries.append(
            {
                "fullUrl": bin_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": doc.content_type,
                    "data": base64.b64encode(doc.data).decode(),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    submission_set = {
        "resourceType": "List",
        "contained": [practitioner],
        "extension": [
            {
                "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType",
                "valueCodeableConcept": _coding(ACTIVITY, "04"),
            },
            {
                "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                "valueIdentifier": {
                    "system": "urn:ietf:rfc:3986",
                    "value": "urn:oid:1.2.250.1.999",
                },
            },
        ],
        "identifier": [
            {
                "use": "usual",
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:oid:1.2.250.1.999.8.{run}",
            }
        ],
        "status": "current",
        "mode": "working",
        "code": _coding(
            "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "submissionset"
        ),
        "subject": subject,
        "date": documents[0].date,
        "source": {"reference": "#author"},
        "entry": items,
    }
    return {
        "resourceType": "Bundle",
        "meta": {
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
                "pdsm-comprehensive-provide-document-bundle"
            ]
        },
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:ss-{run}",
                "resource": submission_set,
                "request": {"method": "POST", "url": "List"},
            },
            *entries,
        ],
    }
