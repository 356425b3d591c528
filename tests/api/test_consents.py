"""Who may access, over HTTP: Consent (API.md "Who may access", Details §7; SPEC.md R-PS-1..3,
R-PAT-2, R-EM-1)."""

from __future__ import annotations

from tests.api.support import (
    EMERGENCY,
    FHIR,
    FHIR_JSON,
    NURSE,
    OTHER_GP,
    Api,
    consent,
    outcome_code,
)
from tests.support import an_ins


def test_a_professional_declares_itself_authorized_then_searches_r_ps_2(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    me = api.professional(OTHER_GP)
    before = api.http.get(f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=me)
    assert before.status_code == 403 and outcome_code(before) == "DMP-0413"
    declared = consent(record_id, OTHER_GP)
    declared["performer"] = [{"reference": f"Practitioner/{OTHER_GP}"}]
    response = api.http.post("/fhir/Consent", json=declared, headers={**FHIR_JSON, **me})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{FHIR}/Consent/{body['id']}"
    assert (
        body["provision"]["type"] == "permit" and body["policyRule"]["coding"][0]["code"] == "OPTIN"
    )
    assert body["patient"]["identifier"]["value"] == ins.value
    after = api.http.get(f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=me)
    assert after.status_code == 200


def test_self_authorization_is_refused_in_emergency_mode_r_em_1(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    emergency = api.professional(EMERGENCY, purpose_of_use="bris_de_glace", purpose_reason="coma")
    response = api.http.post(
        "/fhir/Consent", json=consent(record_id, EMERGENCY), headers={**FHIR_JSON, **emergency}
    )
    assert response.status_code == 403


def test_the_patient_blocks_names_an_administrator_lists_and_ends_consents_r_pat_2_r_ps_3(
    api: Api,
) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    patient = {**FHIR_JSON, **api.person(ins)}
    admin = api.http.post(
        "/fhir/Consent", json=consent(record_id, NURSE, administrator=True), headers=patient
    )
    assert admin.status_code == 201, admin.text
    role = admin.json()["provision"]["actor"][0]["role"]["coding"][0]
    assert role == {
        "system": "https://opendmp.org/fhir/CodeSystem/record-role",
        "code": "administrator",
    }
    block = api.http.post(
        "/fhir/Consent", json=consent(record_id, OTHER_GP, provision="deny"), headers=patient
    )
    assert block.status_code == 201 and block.json()["provision"]["type"] == "deny"
    listed = api.http.get(f"/fhir/Consent?patient=Patient/{record_id}", headers=api.person(ins))
    assert listed.status_code == 200
    kinds = sorted(e["resource"]["provision"]["type"] for e in listed.json()["entry"])
    assert kinds == ["deny", "permit", "permit"]  # the GP who opened it, the admin, the block
    by_ins = api.http.get(
        f"/fhir/Consent?patient.identifier=urn:oid:{ins.system}|{ins.value}",
        headers=api.person(ins),
    )
    assert by_ins.json()["total"] == 3
    consent_id = block.json()["id"]
    read = api.http.get(f"/fhir/Consent/{consent_id}", headers=api.person(ins))
    assert read.status_code == 200 and read.json()["id"] == consent_id
    blocked = api.professional(OTHER_GP)
    state = api.http.get(f"/fhir/Patient/{record_id}", headers=blocked)
    assert state.status_code == 403 and outcome_code(state) == "DMP-0412"  # told why (API.md §6)
    refused = api.http.get(f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=blocked)
    assert refused.status_code == 403 and outcome_code(refused) == "DMP-0412"
    ended = api.http.delete(f"/fhir/Consent/{consent_id}", headers=api.person(ins))
    assert ended.status_code == 200 and ended.json()["resourceType"] == "OperationOutcome"
    again = api.http.get(f"/fhir/Consent/{consent_id}", headers=api.person(ins))
    assert again.status_code == 404
    unblocked = api.http.get(
        f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=blocked
    )
    assert unblocked.status_code == 403 and outcome_code(unblocked) == "DMP-0413"  # not authorized


def test_consent_by_patient_identifier_and_for_someone_elses_record_api_6(api: Api) -> None:
    ins, stranger = an_ins(), an_ins()
    api.open_record(ins)
    body = consent("ignored", NURSE)
    body["patient"] = {"identifier": {"system": f"urn:oid:{ins.system}", "value": ins.value}}
    mine = api.http.post("/fhir/Consent", json=body, headers={**FHIR_JSON, **api.person(ins)})
    assert mine.status_code == 201, mine.text
    theirs = api.http.post(
        "/fhir/Consent", json=body, headers={**FHIR_JSON, **api.person(stranger)}
    )
    body["patient"]["identifier"]["value"] = an_ins().value
    nobody = api.http.post(
        "/fhir/Consent", json=body, headers={**FHIR_JSON, **api.person(stranger)}
    )
    assert theirs.status_code == nobody.status_code == 404  # existence not revealed
    assert theirs.json() == nobody.json()


def test_a_malformed_consent_is_refused_with_its_path(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    body = consent(record_id, NURSE)
    body["scope"]["coding"][0]["code"] = "research"
    response = api.http.post("/fhir/Consent", json=body, headers={**FHIR_JSON, **api.person(ins)})
    assert response.status_code == 422 and outcome_code(response) == "DMP-0632"
    assert response.json()["issue"][0]["expression"] == ["Consent.scope"]
    search = api.http.get("/fhir/Consent", headers=api.person(ins))
    assert search.status_code == 400 and outcome_code(search) == "DMP-0620"
