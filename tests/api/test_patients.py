"""Patients and records over HTTP: PDQm ITI-78, `$dmp-open/close/reopen/settings`,
`$everything` (API.md "Patients and records", Details §3-§5, §23, §28; SPEC.md REC rules)."""

from __future__ import annotations

from typing import Any

from tests.api.support import (
    FHIR,
    FHIR_JSON,
    NURSE,
    Api,
    open_parameters,
    outcome_code,
)
from tests.support import an_ins

RECORD_STATUS = "https://opendmp.org/fhir/StructureDefinition/record-status"
RECORD_CLOSURE = "https://opendmp.org/fhir/StructureDefinition/record-closure"


def _pdqm(api: Api, ins: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = api.http.get(
        f"/fhir/Patient?identifier=urn:oid:{ins.system}|{ins.value}", headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _status(patient: dict[str, Any]) -> str:
    return next(e["valueCode"] for e in patient["extension"] if e["url"] == RECORD_STATUS)


def _post(api: Api, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return api.http.post(url, json=body, headers={**FHIR_JSON, **headers})


def _close(reason: str) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueCode": reason}]}


def test_dmp_open_answers_201_with_location_and_the_patient_rec_1_api_3(api: Api) -> None:
    ins = an_ins()
    response = _post(api, "/fhir/Patient/$dmp-open", open_parameters(ins), api.professional())
    assert response.status_code == 201, response.text
    patient = response.json()
    assert response.headers["Location"] == f"{FHIR}/Patient/{patient['id']}"
    assert patient["active"] is True and _status(patient) == "open"
    assert patient["identifier"][0]["value"] == ins.value
    assert patient["birthDate"] == "1985-10-04"
    assert response.headers["ETag"] == f'W/"{patient["meta"]["versionId"]}"'


def test_dmp_open_refusals_rec_1_id_1(api: Api) -> None:
    """Without consent 422; invalid NIR key 422; an existing record 409."""
    ins = an_ins()
    no_consent = _post(
        api, "/fhir/Patient/$dmp-open", open_parameters(ins, consent=False), api.professional()
    )
    assert no_consent.status_code == 422 and outcome_code(no_consent) == "DMP-0301"
    bad_key = ins.__class__(ins.system, ins.value[:-2] + f"{(int(ins.value[-2:]) + 1) % 97:02d}")
    invalid = _post(api, "/fhir/Patient/$dmp-open", open_parameters(bad_key), api.professional())
    assert invalid.status_code == 422, invalid.text
    api.open_record(ins)
    again = _post(api, "/fhir/Patient/$dmp-open", open_parameters(ins), api.professional())
    assert again.status_code == 409 and outcome_code(again) == "DMP-0300"
    assert again.json()["issue"][0]["details"]["text"] == "REC-1"


def test_a_representative_on_an_adults_record_is_refused_api_28_rec_6(api: Api) -> None:
    ins, parent = an_ins(), an_ins()
    response = _post(
        api,
        "/fhir/Patient/$dmp-open",
        open_parameters(ins, representatives=(parent,)),
        api.professional(),
    )
    assert response.status_code == 422 and outcome_code(response) == "DMP-0307"


def test_a_minors_record_names_its_representative_who_may_read_it_rec_6(api: Api) -> None:
    child, parent = an_ins(), an_ins()
    record_id = api.open_record(child, born="2016-05-01", representatives=(parent,))
    read = api.http.get(f"/fhir/Patient/{record_id}", headers=api.person(parent))
    assert read.status_code == 200
    assert read.json()["contact"][0]["relationship"][0]["coding"][0]["code"] == "MTH"


def test_pdqm_tells_whether_a_record_exists_and_its_state_iti_78_api_4(api: Api) -> None:
    ins = an_ins()
    assert _pdqm(api, ins, api.professional())["total"] == 0
    record_id = api.open_record(ins)
    found = _pdqm(api, ins, api.professional(NURSE, profession="60"))
    assert found["total"] == 1
    entry = found["entry"][0]
    assert entry["fullUrl"] == f"{FHIR}/Patient/{record_id}"
    assert entry["resource"]["active"] is True and _status(entry["resource"]) == "open"
    assert found["link"][0]["relation"] == "self"


def test_a_person_finds_only_their_own_record_api_6(api: Api) -> None:
    ins, stranger = an_ins(), an_ins()
    api.open_record(ins)
    assert _pdqm(api, ins, api.person(ins))["total"] == 1
    assert _pdqm(api, ins, api.person(stranger))["total"] == 0  # same answer as no record
    record_id = _pdqm(api, ins, api.person(ins))["entry"][0]["resource"]["id"]
    other = api.http.get(f"/fhir/Patient/{record_id}", headers=api.person(stranger))
    assert other.status_code == 404 and outcome_code(other) == "DMP-0404"
    assert (
        "details" not in other.json()["issue"][0]
        or "text" not in other.json()["issue"][0]["details"]
    )


def test_patient_search_needs_a_criterion_and_strict_refuses_unknown_parameters(api: Api) -> None:
    none = api.http.get("/fhir/Patient", headers=api.professional())
    assert none.status_code == 400 and outcome_code(none) == "DMP-0808"
    ins = an_ins()
    url = f"/fhir/Patient?identifier=urn:oid:{ins.system}|{ins.value}&colour=blue"
    assert api.http.get(url, headers=api.professional()).status_code == 200
    strict = api.http.get(url, headers={**api.professional(), "Prefer": "handling=strict"})
    assert strict.status_code == 400 and outcome_code(strict) == "DMP-0622"


def test_demographic_search_only_in_centre_15_mode_r_em_2(api: Api) -> None:
    api.open_record(an_ins())
    url = "/fhir/Patient?family=durand&birthdate=1985-10-04"
    normal = api.http.get(url, headers=api.professional())
    assert normal.status_code == 403
    regulator = api.professional(
        "899900000007", purpose_of_use="centre_15", purpose_reason="appel au 15"
    )
    found = api.http.get(url, headers=regulator)
    assert found.status_code == 200, found.text
    assert found.json()["total"] >= 1
    assert found.json()["entry"][0]["resource"]["name"][0]["family"] == "DURAND"


def test_closing_reopening_and_the_state_a_professional_sees_rec_3_rec_5_api_5_api_23(
    api: Api,
) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    doc_id = api.submit_one(ins)
    url = f"/fhir/Patient/{record_id}"
    by_ps = _post(api, f"{url}/$dmp-close", _close("patient-request"), api.professional())
    assert by_ps.status_code == 403 and outcome_code(by_ps) == "DMP-0422"
    closed = _post(api, f"{url}/$dmp-close", _close("patient-request"), api.person(ins))
    assert closed.status_code == 200, closed.text
    assert closed.json()["active"] is False and _status(closed.json()) == "closed"
    state = api.http.get(url, headers=api.professional()).json()
    assert state["active"] is False and "name" not in state and "birthDate" not in state
    closure = next(e for e in state["extension"] if e["url"] == RECORD_CLOSURE)
    assert {"url": "reason", "valueCode": "patient-request"} in closure["extension"]
    assert state["identifier"][0]["value"] == ins.value
    search = api.http.get(
        f"/fhir/DocumentReference?patient={record_id}", headers=api.professional()
    )
    assert search.status_code == 422 and outcome_code(search) == "DMP-0430"
    lists = api.http.get(f"/fhir/List?patient={record_id}", headers=api.professional())
    assert lists.status_code == 422
    read = api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional())
    assert read.status_code == 422
    everything = api.http.get(f"{url}/$everything", headers=api.professional()).json()
    assert [e["resource"]["resourceType"] for e in everything["entry"]] == ["Patient"]
    own = api.http.get(f"/fhir/Binary/{doc_id}", headers=api.person(ins))
    assert own.status_code == 200  # the patient keeps read access (REC-3)
    again = _post(api, f"{url}/$dmp-reopen", {"resourceType": "Parameters"}, api.person(ins))
    assert again.status_code == 200 and again.json()["active"] is True
    assert (
        api.http.get(f"/fhir/DocumentReference/{doc_id}", headers=api.professional()).status_code
        == 200
    )


def test_a_professional_closes_on_death_rec_3(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    response = _post(
        api, f"/fhir/Patient/{record_id}/$dmp-close", _close("death"), api.professional()
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and "name" not in response.json()
    bad = _post(api, f"/fhir/Patient/{record_id}/$dmp-close", _close("bored"), api.person(ins))
    assert bad.status_code == 400 and outcome_code(bad) == "DMP-0663"


def test_patient_settings_are_read_and_changed_by_the_patient_only_r_pat_2(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    url = f"/fhir/Patient/{record_id}/$dmp-settings"
    current = api.http.get(url, headers=api.person(ins)).json()
    values = {p["name"]: p.get("valueBoolean") for p in current["parameter"]}
    assert values["allowBreakTheGlass"] is True and values["allowMaskedInEmergency"] is False
    change = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "allowBreakTheGlass", "valueBoolean": False},
            {"name": "email", "valueString": "camille@example.org"},
        ],
    }
    changed = _post(api, url, change, api.person(ins))
    assert changed.status_code == 200, changed.text
    after = {
        p["name"]: p.get("valueBoolean", p.get("valueString")) for p in changed.json()["parameter"]
    }
    assert after["allowBreakTheGlass"] is False and after["email"] == "camille@example.org"
    assert after["allowCentre15"] is True  # unchanged
    assert api.http.get(url, headers=api.professional()).status_code == 403
    unknown = _post(
        api, url, {"resourceType": "Parameters", "parameter": [{"name": "x"}]}, api.person(ins)
    )
    assert unknown.status_code == 400 and outcome_code(unknown) == "DMP-0664"


def test_everything_is_what_the_caller_may_see(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    visible = api.submit_one(ins)
    masked = api.submit_one(ins, labels=("MASQUE_PS",))
    api.authorize(record_id, NURSE, ins)
    body = api.http.get(f"/fhir/Patient/{record_id}/$everything", headers=api.nurse()).json()
    assert body["type"] == "searchset"
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    assert kinds[0] == "Patient" and "List" in kinds
    ids = {
        e["resource"]["id"]
        for e in body["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    }
    assert visible in ids and masked not in ids  # R-PS-4
    mine = api.http.get(f"/fhir/Patient/{record_id}/$everything", headers=api.person(ins)).json()
    assert {visible, masked} <= {e["resource"]["id"] for e in mine["entry"]}


def test_operators_never_read_medical_content_api_28(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    doc_id = api.submit_one(ins)
    operator = api.operator()
    assert (
        api.http.get(f"/fhir/DocumentReference?patient={record_id}", headers=operator).status_code
        == 403
    )
    assert api.http.get(f"/fhir/Binary/{doc_id}", headers=operator).status_code == 403
