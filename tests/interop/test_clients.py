"""Real FHIR clients used as their users use them (issue 3 §5): `fhirpy` (sync client) and
SMART on FHIR's `fhirclient` submit an ITI-65 Bundle, search DocumentReference by patient
(ITI-67) and retrieve the bytes through `attachment.url` (ITI-68), against `opendmp serve`.

SPEC.md DOC-1 (the PDSm comprehensive Bundle of tests.api.support), DOC-2 (the exact bytes and
their content type), API.md Documents. Runs on SQLite and on PostgreSQL (smoke subset).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from fhirclient import client as smart_client
from fhirclient.auth import FHIROAuth2Auth
from fhirclient.models.bundle import Bundle
from fhirclient.models.documentreference import DocumentReference
from fhirpy import SyncFHIRClient

from tests.api.support import Api, Doc, provide_bundle
from tests.interop.server import ServerProcess
from tests.interop.support import fresh_ins


def documents() -> list[Doc]:
    """A binary PDF body (every byte value) and a UTF-8 text one: byte-exactness matters."""
    pdf = b"%PDF-1.4\n" + bytes(range(256)) + secrets.token_bytes(48 * 1024)
    text = "Compte rendu : patiente vue en consultation, évolution favorable.\n".encode()
    return [Doc(data=pdf), Doc(data=text, content_type="text/plain", type_code="11490-0")]


def test_fhirpy_submits_searches_and_retrieves_the_exact_bytes_iti_65_67_68_doc_2(
    server: ServerProcess, api: Api
) -> None:
    ins = fresh_ins()
    record_id = api.open_record(ins)
    client = SyncFHIRClient(server.fhir_url, authorization=api.professional()["Authorization"])
    sent = documents()

    response = client.execute("", method="post", data=provide_bundle(ins, sent))

    assert response["resourceType"] == "Bundle" and response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 5
    by_patient = client.resources("DocumentReference").search(patient=record_id).fetch_all()
    by_ins = (
        client.resources("DocumentReference")
        .search(**{"patient.identifier": f"urn:oid:{ins.system}|{ins.value}"})
        .fetch_all()
    )
    assert sorted(d["id"] for d in by_patient) == sorted(d["id"] for d in by_ins)
    assert len(by_patient) == len(sent)
    found = {}
    for reference in by_patient:
        attachment: dict[str, Any] = reference["content"][0]["attachment"]
        binary = client.execute(attachment["url"], method="get")  # Accept: application/fhir+json
        assert binary["resourceType"] == "Binary"
        data = base64.b64decode(binary["data"])
        assert binary["contentType"] == attachment["contentType"]
        assert attachment["size"] == len(data)
        assert attachment["hash"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
        found[data] = attachment["contentType"]
    assert found == {doc.data: doc.content_type for doc in sent}


def test_fhirclient_reads_the_capability_statement_submits_searches_and_retrieves_doc_2(
    server: ServerProcess, api: Api
) -> None:
    """fhirclient parses every resource with its strict R4 models: the CapabilityStatement,
    the transaction-response and the DocumentReferences must be valid FHIR R4 to it."""
    ins = fresh_ins()
    record_id = api.open_record(ins)
    smart = smart_client.FHIRClient(
        settings={"app_id": "opendmp-interop", "api_base": server.fhir_url}
    )
    try:
        smart.server.get_capability()
        capability = smart.server.capabilityStatement
        assert capability.fhirVersion == "4.0.1" and capability.kind == "instance"
        token = api.professional()["Authorization"].removeprefix("Bearer ")
        smart.server.auth = FHIROAuth2Auth(
            state={"app_id": "opendmp-interop", "access_token": token}
        )
        sent = documents()
        request = Bundle(provide_bundle(ins, sent))  # the request, checked by the models too

        posted = smart.server.post_json("", request.as_json())

        response = Bundle(posted.json())
        assert response.type == "transaction-response"
        assert [e.response.status for e in response.entry] == ["201 Created"] * 5
        search = DocumentReference.where({"patient": record_id})
        references = list(search.perform_resources_iter(smart.server))
        assert len(references) == len(sent)
        got = {}
        for reference in references:
            assert isinstance(reference, DocumentReference)
            attachment = reference.content[0].attachment
            got[smart.server.request_data(attachment.url, headers={"Accept": "*/*"})] = (
                attachment.contentType
            )
        assert got == {doc.data: doc.content_type for doc in sent}
    finally:
        smart.server.session.close()


def test_both_clients_follow_next_links_through_every_page_iti_67_sec_3(
    dmp_server: ServerProcess,
) -> None:
    """API.md Basics: `searchset` pages with `total` and `link[next]`; a client that follows
    `next` (fhirpy `fetch_all`, fhirclient `perform_iter`) gets every document once."""
    with dmp_server.client() as http:
        api = Api(http)
        ins = fresh_ins()
        record_id = api.open_record(ins)
        sent = [Doc(data=f"%PDF-1.4 page test {n}\n".encode()) for n in range(5)]
        submitted = api.submit(provide_bundle(ins, sent))
        assert submitted.status_code == 200, submitted.text
        authorization = api.professional()["Authorization"]
    client = SyncFHIRClient(dmp_server.fhir_url, authorization=authorization)
    pages = client.resources("DocumentReference").search(patient=record_id).limit(2)
    assert pages.count() == 5
    assert len({d["id"] for d in pages.fetch_all()}) == 5
    smart = smart_client.FHIRClient(
        settings={"app_id": "opendmp-interop", "api_base": dmp_server.fhir_url}
    )
    try:
        smart.server.auth = FHIROAuth2Auth(
            state={"app_id": "opendmp-interop", "access_token": authorization.split()[1]}
        )
        search = DocumentReference.where({"patient": record_id, "_count": "2"})
        bundles = list(search.perform_iter(smart.server))
        assert [len(b.entry or []) for b in bundles] == [2, 2, 1]
        assert len({e.resource.id for b in bundles for e in b.entry}) == 5
    finally:
        smart.server.session.close()
