"""Documents over HTTP: ITI-65, ITI-67, ITI-68, changes of a DocumentReference (API.md
"Documents", Details §8-§13, §19, §20, §24-§26; SPEC.md DOC-1..7, R-PS-1..5, R-EM-1, SEC-3)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from opendmp.domain.identifiers import Ins
from tests.api.support import (
    EMERGENCY,
    FHIR,
    FHIR_JSON,
    NURSE,
    OTHER_GP,
    Api,
    Doc,
    consent,
    outcome_code,
    provide_bundle,
)
from tests.support import LABELS, an_ins


@pytest.fixture
def patient(api: Api) -> tuple[Ins, str]:
    """A record opened by the GP (who is then authorized), the nurse authorized by the patient."""
    ins = an_ins()
    record_id = api.open_record(ins)
    api.authorize(record_id, NURSE, ins)
    return ins, record_id


def _search(api: Api, query: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return api.http.get(f"/fhir/DocumentReference?{query}", headers=headers or api.professional())


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json()["entry"]}


def _labels(resource: dict[str, Any]) -> list[str]:
    return [label["coding"][0]["code"] for label in resource["securityLabel"]]


def test_itI_65_submission_answers_a_transaction_response_doc_1(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    response = api.submit(provide_bundle(ins, [Doc(), Doc(type_code="11502-2")]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created"] * 5
    locations = [e["response"]["location"] for e in body["entry"]]
    assert locations[0].startswith(f"{FHIR}/List/")
    assert locations[1].startswith(f"{FHIR}/DocumentReference/")
    assert locations[2].startswith(f"{FHIR}/Binary/")
    found = _search(api, f"patient=Patient/{record_id}")
    assert found.json()["total"] == 2


def test_iti_65_is_served_at_the_base_with_a_trailing_slash_too(
    api: Api, patient: tuple[Ins, str]
) -> None:
    """`POST [base]/` answers like `POST [base]`: no redirect a client may not follow."""
    ins, _ = patient
    response = api.http.post(
        "/fhir/", json=provide_bundle(ins, [Doc()]), headers={**FHIR_JSON, **api.professional()}
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "transaction-response"


def test_the_subject_may_be_a_patient_reference_api_14(api: Api, patient: tuple[Ins, str]) -> None:
    ins, record_id = patient
    response = api.submit(
        provide_bundle(ins, [Doc()], subject_reference=f"{FHIR}/Patient/{record_id}")
    )
    assert response.status_code == 200, response.text


def test_an_invalid_document_rejects_the_whole_bundle_with_every_issue_doc_1(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    bundle = provide_bundle(ins, [Doc(), Doc(type_code="00000-0")])
    bundle["entry"][1]["resource"]["content"][0]["attachment"]["size"] = 3
    response = api.submit(bundle)
    assert response.status_code == 422, response.text
    issues = response.json()["issue"]
    assert len(issues) >= 2 and all(i.get("expression") for i in issues)
    assert _search(api, f"patient=Patient/{record_id}").json()["total"] == 0  # nothing stored


def test_submitting_for_an_ins_without_a_record_is_422_api_26(api: Api) -> None:
    response = api.submit(provide_bundle(an_ins(), [Doc()]))
    assert response.status_code == 422 and outcome_code(response) == "DMP-0432"


def test_malformed_bodies_are_400_operation_outcomes(api: Api) -> None:
    bad_json = api.http.post(
        "/fhir", content=b'{"resourceType": ', headers={**FHIR_JSON, **api.professional()}
    )
    assert bad_json.status_code == 400 and outcome_code(bad_json) == "DMP-0801"
    xml = api.http.post(
        "/fhir",
        content=b"<Bundle/>",
        headers={"Content-Type": "application/fhir+xml", **api.professional()},
    )
    assert xml.status_code == 400 and outcome_code(xml) == "DMP-0802"
    not_a_bundle = api.http.post(
        "/fhir", json={"resourceType": "Patient"}, headers={**FHIR_JSON, **api.professional()}
    )
    assert not_a_bundle.status_code == 400 and outcome_code(not_a_bundle) == "DMP-0601"


def test_retrieve_returns_the_exact_bytes_and_their_content_type_iti_68_doc_2(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, _ = patient
    data = bytes(range(256)) * 3 + b"%%EOF"
    doc_id = api.submit_one(ins, data=data, content_type="application/octet-stream")
    reference = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional()).json()
    url = reference["content"][0]["attachment"]["url"]
    assert url == f"{FHIR}/Binary/{doc_id}"
    raw = api.http.get(url, headers={**api.professional(), "Accept": "*/*"})
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["X-Content-Type-Options"] == "nosniff"
    as_json = api.http.get(url, headers={**api.professional(), "Accept": "application/fhir+json"})
    binary = as_json.json()
    assert as_json.headers["content-type"].startswith("application/fhir+json")
    assert binary["resourceType"] == "Binary" and base64.b64decode(binary["data"]) == data
    assert binary["securityContext"]["reference"] == f"DocumentReference/{doc_id}"
    as_xml = api.http.get(url, headers={**api.professional(), "Accept": "application/fhir+xml"})
    assert as_xml.headers["content-type"].startswith("application/fhir+xml")
    assert base64.b64encode(data).decode() in as_xml.text


def test_text_documents_keep_their_declared_content_type_doc_2(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, _ = patient
    data = "Compte rendu\u00e9".encode("latin-1")
    doc_id = api.submit_one(ins, data=data, content_type="text/plain")
    raw = api.http.get(f"/fhir/Binary/{doc_id}", headers=api.professional())
    assert raw.content == data and raw.headers["content-type"] == "text/plain"


def test_every_search_parameter_narrows_the_results_iti_67_api_13(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    a = api.submit_one(ins, date="2026-03-01T08:00:00+01:00", event="E1", unique="a")
    b = api.submit_one(
        ins,
        type_code="57833-6",
        class_code="42",
        date="2025-06-15T10:00:00+02:00",
        author=OTHER_GP,
        facility="SA07",
        setting="ETABLISSEMENT",
        labels=("MASQUE_PS",),
        unique="b",
    )
    c = api.submit_one(ins, type_code="11502-2", date="2024-01-10T10:00:00+01:00", unique="c")
    master = api.http.get(f"/fhir/DocumentReference/{a}", headers=api.professional()).json()
    identifier = master["masterIdentifier"]
    patient_id = f"patient=Patient/{record_id}"
    cases = {
        f"patient.identifier=urn:oid:{ins.system}|{ins.value}": {a, b, c},
        f"{patient_id}&type=http://loinc.org|57833-6": {b},
        f"{patient_id}&type=11502-2,57833-6": {b, c},
        f"{patient_id}&category=42": {b},
        f"{patient_id}&date=ge2026-01-01": {a},
        f"{patient_id}&date=lt2025-01-01": {c},
        f"{patient_id}&period=2025-06": {b},
        f"{patient_id}&author.identifier=urn:oid:1.2.250.1.71.4.2.1|{OTHER_GP}": {b},
        f"{patient_id}&facility=SA07": {b},
        f"{patient_id}&setting=AMBULATOIRE": {a, c},
        f"{patient_id}&event=E1": {a},
        f"{patient_id}&security-label=MASQUE_PS": {b},
        f"{patient_id}&identifier={identifier['system']}|{identifier['value']}": {a},
        f"{patient_id}&status=current": {a, b, c},
        f"{patient_id}&status=entered-in-error": set(),
    }
    for query, expected in cases.items():
        assert _ids(_search(api, query)) == expected, query
    newest_first = [
        e["resource"]["id"] for e in _search(api, f"{patient_id}&_sort=-date").json()["entry"]
    ]
    assert newest_first == [a, b, c]
    oldest_first = [
        e["resource"]["id"] for e in _search(api, f"{patient_id}&_sort=date").json()["entry"]
    ]
    assert oldest_first == [c, b, a]


def test_paging_follows_next_links_and_count_is_capped_at_200_sec_3(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    api.submit(provide_bundle(ins, [Doc() for _ in range(5)]))
    seen: list[str] = []
    url: str | None = f"/fhir/DocumentReference?patient=Patient/{record_id}&_count=2&colour=red"
    while url:
        page = api.http.get(url, headers=api.professional()).json()
        assert page["total"] == 5
        assert "colour" not in page["link"][0]["url"]  # unknown: ignored, not echoed (§13)
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == 5
    capped = _search(api, f"patient=Patient/{record_id}&_count=5000").json()
    assert "_count=200" in capped["link"][0]["url"]


def test_search_errors_are_400_api_13(api: Api, patient: tuple[Ins, str]) -> None:
    _, record_id = patient
    no_patient = _search(api, "type=11488-4")
    assert no_patient.status_code == 400 and outcome_code(no_patient) == "DMP-0620"
    strict = api.http.get(
        f"/fhir/DocumentReference?patient=Patient/{record_id}&colour=red",
        headers={**api.professional(), "Prefer": "handling=strict"},
    )
    assert strict.status_code == 400 and outcome_code(strict) == "DMP-0622"
    bad_date = _search(api, f"patient=Patient/{record_id}&date=yesterday")
    assert bad_date.status_code == 400 and outcome_code(bad_date) == "DMP-0621"


def test_replacement_supersedes_the_old_version_doc_3(api: Api, patient: tuple[Ins, str]) -> None:
    ins, record_id = patient
    old = api.submit_one(ins)
    new = api.submit_one(ins, replaces=old)
    assert (
        api.http.get(f"/fhir/DocumentReference/{old}", headers=api.professional()).json()["status"]
        == "superseded"
    )
    replacement = api.http.get(f"/fhir/DocumentReference/{new}", headers=api.professional()).json()
    assert replacement["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old}"
    assert _ids(_search(api, f"patient=Patient/{record_id}")) == {new}
    assert _ids(_search(api, f"patient=Patient/{record_id}&status=superseded")) == {old}
    stranger = api.submit(provide_bundle(ins, [Doc(replaces=new, author=NURSE)]), api.nurse())
    assert stranger.status_code == 403, stranger.text


def test_meta_add_masks_from_other_professionals_and_meta_delete_unmasks_doc_7_r_ps_4(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, _ = patient
    doc_id = api.submit_one(ins)
    mask = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "meta", "valueMeta": {"security": [{"system": LABELS, "code": "MASQUE_PS"}]}}
        ],
    }
    added = api.http.post(
        f"/fhir/DocumentReference/{doc_id}/$meta-add",
        json=mask,
        headers={**FHIR_JSON, **api.person(ins)},
    )
    assert added.status_code == 200, added.text
    codes = [c["code"] for c in added.json()["parameter"][0]["valueMeta"]["security"]]
    assert codes == ["N", "MASQUE_PS"]
    hidden = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.nurse())
    unknown = api.http.get("/fhir/DocumentReference/no-such-document", headers=api.nurse())
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()  # API.md §6: a hidden document looks unknown
    assert api.http.get(f"/fhir/Binary/{doc_id}", headers=api.nurse()).status_code == 404
    author = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional())
    assert _labels(author.json()) == ["N", "MASQUE_PS"]
    assert author.json()["meta"]["security"] == [
        label["coding"][0] for label in author.json()["securityLabel"]
    ]
    removed = api.http.post(
        f"/fhir/DocumentReference/{doc_id}/$meta-delete",
        json=mask,
        headers={**FHIR_JSON, **api.person(ins)},
    )
    assert removed.status_code == 200, removed.text
    assert api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.nurse()).status_code == 200


def test_json_patch_masks_archives_and_guards_its_paths_api_8_doc_4(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, _ = patient
    doc_id = api.submit_one(ins)
    url = f"/fhir/DocumentReference/{doc_id}"
    patch_json = {"Content-Type": "application/json-patch+json", **api.professional()}
    mask = [
        {
            "op": "add",
            "path": "/securityLabel/-",
            "value": {"coding": [{"system": LABELS, "code": "MASQUE_PS"}]},
        }
    ]
    masked = api.http.patch(url, json=mask, headers=patch_json)
    assert masked.status_code == 200, masked.text
    assert _labels(masked.json()) == ["N", "MASQUE_PS"]
    assert api.http.get(url, headers=api.nurse()).status_code == 404
    drop_n = [{"op": "remove", "path": "/securityLabel/0"}]
    kept = api.http.patch(url, json=drop_n, headers=patch_json)
    assert kept.status_code == 200 and _labels(kept.json()) == ["N", "MASQUE_PS"]  # N back (§8)
    archive = [
        {
            "op": "replace",
            "path": "/extension[url:'https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived']/valueBoolean",
            "value": True,
        }
    ]
    archived = api.http.patch(url, json=archive, headers=patch_json)
    assert archived.status_code == 200, archived.text
    assert archived.json()["extension"][0]["valueBoolean"] is True
    assert archived.json()["status"] == "current"  # DOC-4: still current and readable
    forbidden_path = api.http.patch(
        url, json=[{"op": "replace", "path": "/description", "value": "x"}], headers=patch_json
    )
    assert forbidden_path.status_code == 400 and outcome_code(forbidden_path) == "DMP-0640"
    wrong_type = api.http.patch(url, json=mask, headers={**FHIR_JSON, **api.professional()})
    assert wrong_type.status_code == 400 and outcome_code(wrong_type) == "DMP-0802"


def test_if_match_protects_against_lost_updates(api: Api, patient: tuple[Ins, str]) -> None:
    ins, _ = patient
    doc_id = api.submit_one(ins)
    url = f"/fhir/DocumentReference/{doc_id}"
    current = api.http.get(url, headers=api.professional())
    etag = current.headers["ETag"]
    headers = {"Content-Type": "application/json-patch+json", **api.professional()}
    mask = [
        {
            "op": "add",
            "path": "/securityLabel/-",
            "value": {"coding": [{"system": LABELS, "code": "MASQUE_PS"}]},
        }
    ]
    assert api.http.patch(url, json=mask, headers={**headers, "If-Match": etag}).status_code == 200
    stale = api.http.patch(
        url,
        json=[{"op": "remove", "path": "/securityLabel/1"}],
        headers={**headers, "If-Match": etag},
    )
    assert stale.status_code == 412 and outcome_code(stale) == "DMP-0807"


def test_deletion_is_logical_doc_5_api_9(api: Api, patient: tuple[Ins, str]) -> None:
    ins, record_id = patient
    doc_id = api.submit_one(ins)
    by_nurse = api.http.delete(f"/fhir/DocumentReference/{doc_id}", headers=api.nurse())
    assert by_nurse.status_code == 403
    deleted = api.http.delete(f"/fhir/DocumentReference/{doc_id}", headers=api.professional())
    assert deleted.status_code == 200 and deleted.json()["resourceType"] == "OperationOutcome"
    read = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional())
    assert read.status_code == 200 and read.json()["status"] == "entered-in-error"
    assert _ids(_search(api, f"patient=Patient/{record_id}")) == set()
    assert _ids(_search(api, f"patient=Patient/{record_id}&status=entered-in-error")) == {doc_id}
    assert (
        api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.person(ins)).status_code
        == 404
    )


def test_a_blocked_professional_gets_403_even_for_a_document_id_r_ps_1_api_20(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    doc_id = api.submit_one(ins)
    block = api.http.post(
        "/fhir/Consent",
        json=consent(record_id, NURSE, provision="deny"),
        headers={**FHIR_JSON, **api.person(ins)},
    )
    assert block.status_code == 201, block.text
    for response in (
        _search(api, f"patient=Patient/{record_id}", api.nurse()),
        api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.nurse()),
        api.http.get(f"/fhir/Binary/{doc_id}", headers=api.nurse()),
    ):
        assert response.status_code == 403 and outcome_code(response) == "DMP-0412"
        assert response.json()["issue"][0]["details"]["text"] == "R-PS-1"
    may_submit = api.submit(provide_bundle(ins, [Doc(author=NURSE)]), api.nurse())
    assert may_submit.status_code == 200, may_submit.text  # R-PS-1: it may still submit


def test_an_unauthorized_professional_is_refused_at_record_level_r_ps_2(
    api: Api, patient: tuple[Ins, str]
) -> None:
    _, record_id = patient
    response = _search(api, f"patient=Patient/{record_id}", api.professional(OTHER_GP))
    assert response.status_code == 403 and outcome_code(response) == "DMP-0413"


def test_break_the_glass_needs_a_reason_r_em_1_api_12(api: Api, patient: tuple[Ins, str]) -> None:
    ins, record_id = patient
    doc_id = api.submit_one(ins)
    silent = api.professional(EMERGENCY, purpose_of_use="bris_de_glace")
    refused = _search(api, f"patient=Patient/{record_id}", silent)
    assert refused.status_code == 403 and outcome_code(refused) == "DMP-0416"
    stated = api.professional(EMERGENCY, purpose_of_use="BTG", purpose_reason="inconscient")
    assert _ids(_search(api, f"patient=Patient/{record_id}", stated)) == {doc_id}


def test_restricted_credentials_look_up_by_identifier_only_api_11(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    doc_id = api.submit_one(ins, unique="lookup")
    master = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional()).json()
    identifier = master["masterIdentifier"]
    establishment = api.organization()
    assert _search(api, f"patient=Patient/{record_id}", establishment).status_code == 403
    lookup = _search(
        api,
        f"patient=Patient/{record_id}&identifier={identifier['system']}|{identifier['value']}",
        establishment,
    )
    assert _ids(lookup) == {doc_id}


def test_iti_66_lists_the_submission_sets(api: Api, patient: tuple[Ins, str]) -> None:
    ins, record_id = patient
    api.submit_one(ins)
    api.submit_one(ins, labels=("MASQUE_PS",))
    mine = api.http.get(
        f"/fhir/List?patient=Patient/{record_id}&code=submissionset", headers=api.person(ins)
    )
    assert mine.status_code == 200 and mine.json()["total"] == 2
    lists = api.http.get(
        f"/fhir/List?patient=Patient/{record_id}&code=submissionset", headers=api.nurse()
    )
    assert lists.json()["total"] == 1  # the set of the masked document holds nothing she may see
    entry = lists.json()["entry"][0]["resource"]
    assert entry["resourceType"] == "List" and entry["code"]["coding"][0]["code"] == "submissionset"
    folders = api.http.get(
        f"/fhir/List?patient=Patient/{record_id}&code=folder", headers=api.nurse()
    )
    assert folders.json()["total"] == 0


def test_the_patient_reads_masked_documents_but_not_invisible_patient_ones_r_pat_1(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    masked = api.submit_one(ins, labels=("MASQUE_PS",))
    pending = api.submit_one(ins, labels=("INVISIBLE_PATIENT",))
    assert _ids(_search(api, f"patient=Patient/{record_id}", api.person(ins))) == {masked}
    assert api.http.get(f"/fhir/Binary/{pending}", headers=api.person(ins)).status_code == 404


def test_body_over_the_limit_is_413_with_an_outcome_sec_3(api: Api) -> None:
    headers = {**FHIR_JSON, **api.professional(), "Content-Length": str(64 * 1024 * 1024 + 1)}
    declared = api.http.post("/fhir", content=b"{}", headers=headers)
    assert declared.status_code == 413 and outcome_code(declared) == "DMP-0803"
    assert declared.json()["issue"][0]["details"]["text"] == "SEC-3"
    assert declared.headers["X-Request-Id"]


def test_a_streamed_body_is_counted_as_it_arrives_sec_3(api: Api, application: Any) -> None:
    from dataclasses import replace

    from opendmp.web.app import create_app
    from tests.api.support import http_client

    small = replace(application, settings=replace(application.settings, max_request_bytes=1000))
    small = replace(
        small,
        services=replace(
            application.services,
            deployment=replace(
                application.services.deployment,
                limits=replace(application.services.deployment.limits, max_request_bytes=1000),
            ),
        ),
    )
    chunks = [b"[" + b" " * 400] * 3 + [b"]"]
    with http_client(create_app(small)) as client:
        response = client.post(
            "/fhir",
            content=iter(chunks),
            headers={**FHIR_JSON, "Authorization": api.professional()["Authorization"]},
        )
    assert response.status_code == 413 and outcome_code(response) == "DMP-0803"


def test_a_document_over_20_mb_is_413_sec_3(api: Api, patient: tuple[Ins, str]) -> None:
    ins, _ = patient
    response = api.submit(provide_bundle(ins, [Doc(data=b"x" * (20 * 1024 * 1024 + 1))]))
    assert response.status_code == 413, response.text[:300]


def test_the_patient_submits_and_deletes_own_documents_doc_6_api_15(
    api: Api, patient: tuple[Ins, str]
) -> None:
    ins, record_id = patient
    response = api.submit(provide_bundle(ins, [Doc(by_patient=True)]), api.person(ins))
    assert response.status_code == 200, response.text
    doc_id = response.json()["entry"][1]["response"]["location"].split("/")[-3]
    document = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional()).json()
    assert document["contained"][0]["resourceType"] == "Patient"  # author = the patient
    assert api.http.delete(
        f"/fhir/DocumentReference/{doc_id}", headers=api.nurse()
    ).status_code in (
        403,
        404,
    )
    deleted = api.http.delete(f"/fhir/DocumentReference/{doc_id}", headers=api.person(ins))
    assert deleted.status_code == 200
    assert _ids(_search(api, f"patient=Patient/{record_id}", api.person(ins))) == set()
