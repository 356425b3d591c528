"""The upstream ITI-65 examples as the interoperability tests send them (issue 3 §5).

The Bundles are the copies under tests/fixtures/fhir (PROVENANCE.md there); the Patients they
name are under tests/fixtures/interop. Record ids are assigned by the server, so an example
naming `Patient/<its own id>` is sent with that reference rewritten to the record opened for
it; every such change is named where the example is used.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from typing import Any

import httpx

from opendmp.domain.identifiers import Ins
from tests.api.support import FHIR_JSON, Api
from tests.interop.support import fresh_ins, load_json

MHD = "fhir/ihe-mhd/fsh-generated-examples/"
PDSM4DMP = "fhir/ans-pdsm4dmp/package-main/example/"
PDSM = "fhir/ans-pdsm/package-add-exemples-iti65/example/"
CORRECTED = "fhir/opendmp/Bundle-dmp-submission-corrected.json"
EX_PATIENT = "interop/ihe-mhd/fsh-generated-examples/Patient-ex-patient.json"
FR_PATIENT_123 = "interop/ans-pdsm/package-add-exemples-iti65/example/Patient-fr-patient-123.json"
TD2_INS = "urn:oid:1.2.250.1.213.1.4.8|123456789012345"  # the INS of the PDSm4DMP td2 examples
CORRECTED_INS = Ins("1.2.250.1.213.1.4.10", "207058575627097")


def open_patient(api: Api, patient: dict[str, Any]) -> httpx.Response:
    """`$dmp-open` with the example's own Patient resource (demographics and identifiers)."""
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "resource": patient},
            {"name": "consent", "valueBoolean": True},
        ],
    }
    return api.http.post(
        "/fhir/Patient/$dmp-open", json=parameters, headers={**FHIR_JSON, **api.professional()}
    )


def opened(api: Api, patient: dict[str, Any]) -> str:
    """The record id: opened now, or found by its INS when a previous test opened it (REC-1)."""
    response = open_patient(api, patient)
    if response.status_code == 409:
        identifier = patient["identifier"][0]
        found = api.http.get(
            "/fhir/Patient",
            params={"identifier": f"{identifier['system']}|{identifier['value']}"},
            headers=api.professional(),
        )
        return str(found.json()["entry"][0]["resource"]["id"])
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ex_patient(api: Api) -> str:
    """IHE's `ex-patient` carries no identifier; the DMP opens records by INS only (ID-2), so
    it is opened with its own demographics and a fresh test INS."""
    patient = load_json(EX_PATIENT)
    ins = fresh_ins()
    patient["identifier"] = [{"system": f"urn:oid:{ins.system}", "value": ins.value}]
    return opened(api, patient)


def rewrite(bundle: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """Every string equal to `old` replaced by `new` (a reference or a conditional one)."""
    text = json.dumps(bundle).replace(json.dumps(old), json.dumps(new))
    result: dict[str, Any] = json.loads(text)
    return result


def mhd_for_new_record(api: Api, name: str) -> dict[str, Any]:
    """An IHE MHD example naming `Patient/ex-patient`, sent for a record opened for it. The IHE
    examples all give their document the same uniqueId: one record each (DOC-1 uniqueness)."""
    return rewrite(load_json(MHD + name), "Patient/ex-patient", f"Patient/{ex_patient(api)}")


@dataclass(frozen=True)
class SentDocument:
    index: int  # its entry in the request (and in the transaction-response)
    resource: dict[str, Any]
    data: bytes
    content_type: str


def sent_documents(bundle: dict[str, Any]) -> list[SentDocument]:
    """The DocumentReferences of a request and their bytes (inline, or the Binary entry named
    by `attachment.url`)."""
    by_url = {e.get("fullUrl"): e["resource"] for e in bundle["entry"]}
    found = []
    for index, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if resource["resourceType"] != "DocumentReference":
            continue
        attachment = resource["content"][0]["attachment"]
        binary = by_url[attachment["url"]] if "url" in attachment else attachment
        content_type = attachment.get("contentType") or binary["contentType"]
        found.append(SentDocument(index, resource, base64.b64decode(binary["data"]), content_type))
    return found


def submit(api: Api, bundle: dict[str, Any]) -> httpx.Response:
    return api.http.post(
        "/fhir", json=copy.deepcopy(bundle), headers={**FHIR_JSON, **api.professional()}
    )


def warnings_of(response: httpx.Response) -> set[tuple[int, str, str]]:
    """The warnings of a transaction-response: (entry, code, expression) (API.md §16)."""
    found = set()
    for index, entry in enumerate(response.json()["entry"]):
        for issue in entry["response"].get("outcome", {}).get("issue", []):
            assert issue["severity"] == "warning", issue
            code = issue["details"]["coding"][0]["code"]
            found.add((index, code, issue["expression"][0]))
    return found


def assert_round_trip(api: Api, bundle: dict[str, Any], response: httpx.Response) -> list[str]:
    """Every DocumentReference reads back with its identity and metadata, its Binary gives
    the exact bytes with their content type (DOC-2, ITI-68), and the SubmissionSet lists them
    (ITI-66). The document ids."""
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(bundle["entry"])  # MHD 4.2 §2:3.65.4.2.2
    headers = api.professional()
    ids = []
    record_id = ""
    for sent in sent_documents(bundle):
        location = answer["entry"][sent.index]["response"]["location"]
        document_id = location.split("/DocumentReference/")[1].split("/")[0]
        ids.append(document_id)
        read = api.http.get(f"/fhir/DocumentReference/{document_id}", headers=headers)
        assert read.status_code == 200, read.text
        got = read.json()
        record_id = got["subject"]["reference"].removeprefix("Patient/")
        assert got["masterIdentifier"]["value"] == sent.resource["masterIdentifier"]["value"]
        assert got["status"] == "current"
        wanted_type = sent.resource.get("type", {}).get("coding", [{}])[0].get("code")
        assert got.get("type", {}).get("coding", [{}])[0].get("code") == wanted_type
        attachment = got["content"][0]["attachment"]
        assert attachment["contentType"] == sent.content_type
        assert attachment["size"] == len(sent.data)
        raw = api.http.get(attachment["url"], headers={**headers, "Accept": "*/*"})
        assert raw.status_code == 200 and raw.content == sent.data
        assert raw.headers["content-type"].split(";")[0] == sent.content_type
        fhir = api.http.get(
            attachment["url"], headers={**headers, "Accept": "application/fhir+json"}
        )
        assert fhir.json()["resourceType"] == "Binary"
        assert base64.b64decode(fhir.json()["data"]) == sent.data
    lists = api.http.get("/fhir/List", params={"patient": record_id}, headers=headers).json()
    items = [
        sorted(e["item"]["reference"].removeprefix("DocumentReference/") for e in r["entry"])
        for r in (entry["resource"] for entry in lists.get("entry", []))
    ]
    assert sorted(ids) in items, items
    return ids
