"""The access history over HTTP: AuditEvent as IHE BALP (API.md Details §18, §27; SPEC.md
AUD-1, AUD-3, R-PS-7, R-EM-3)."""

from __future__ import annotations

from typing import Any

from tests.api.support import EMERGENCY, NURSE, Api
from tests.support import an_ins

ACCESS_MODES = "https://mos.esante.gouv.fr/NOS/TRE_R248-ModeAcces/FHIR/TRE-R248-ModeAcces"


def _events(
    api: Api, record_id: str, headers: dict[str, str], query: str = ""
) -> list[dict[str, Any]]:
    response = api.http.get(f"/fhir/AuditEvent?patient=Patient/{record_id}{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json()["entry"]]


def _request_id(event: dict[str, Any]) -> str | None:
    return next(
        (
            e["what"]["identifier"]["value"]
            for e in event.get("entity", [])
            if e.get("type", {}).get("code") == "XrequestId"
        ),
        None,
    )


def test_each_access_is_traced_with_the_request_id_aud_1_api_18(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    doc_id = api.submit_one(ins)
    read = api.http.get(
        f"/fhir/Binary/{doc_id}",
        headers={**api.professional(), "X-Request-Id": "trace-me-1", "User-Agent": "LGC/4.2"},
    )
    assert read.status_code == 200 and read.headers["X-Request-Id"] == "trace-me-1"
    events = _events(api, record_id, api.person(ins), "&_count=200")
    traced = [e for e in events if _request_id(e) == "trace-me-1"]
    assert len(traced) == 1
    event = traced[0]
    assert event["resourceType"] == "AuditEvent" and event["outcome"] == "0"
    user = event["agent"][0]
    assert user["who"]["identifier"]["value"] == "899900000001"
    assert user["purposeOfUse"][0]["coding"][0]["code"] == "normal"
    assert any(a["who"].get("display") == "LGC/4.2" for a in event["agent"])  # client software
    patient_entity = event["entity"][0]["what"]
    assert patient_entity["reference"] == f"Patient/{record_id}"
    assert patient_entity["identifier"]["value"] == ins.value
    assert {"reference": f"Binary/{doc_id}"} in [e["what"] for e in event["entity"]]


def test_refusals_are_traced_with_outcome_4_aud_1(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    refused = api.http.get(
        f"/fhir/DocumentReference?patient=Patient/{record_id}",
        headers={**api.professional(NURSE, profession="60"), "X-Request-Id": "refused-1"},
    )
    assert refused.status_code == 403
    events = _events(api, record_id, api.person(ins), "&_count=200")
    traced = [e for e in events if _request_id(e) == "refused-1"]
    assert traced and traced[0]["outcome"] == "4"


def test_break_the_glass_is_traced_with_its_mode_and_reason_r_em_3_api_27(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    emergency = api.professional(EMERGENCY, purpose_of_use="bris_de_glace", purpose_reason="coma")
    assert (
        api.http.get(
            f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=emergency
        ).status_code
        == 200
    )
    events = _events(api, record_id, api.person(ins), "&_count=200")
    purposes = [e["agent"][0]["purposeOfUse"][0] for e in events]
    emergency_purpose = next(p for p in purposes if p["coding"][0]["code"] == "bris_de_glace")
    assert emergency_purpose["text"] == "coma"
    assert emergency_purpose["coding"][0]["system"] == ACCESS_MODES


def test_a_professional_sees_only_its_own_traces_r_ps_7(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    api.authorize(record_id, NURSE, ins)
    api.http.get(f"/fhir/DocumentReference?patient=Patient/{record_id}", headers=api.nurse())
    nurse_view = _events(api, record_id, api.nurse(), "&_count=200")
    assert nurse_view and all(
        e["agent"][0]["who"]["identifier"]["value"] == NURSE for e in nurse_view
    )
    everyone = _events(api, record_id, api.person(ins), "&_count=200")
    assert len(everyone) > len(nurse_view)


def test_audit_search_pages_and_filters_by_date_and_agent(api: Api) -> None:
    ins = an_ins()
    record_id = api.open_record(ins)
    api.http.get(f"/fhir/Patient/{record_id}", headers=api.professional())
    response = api.http.get(
        f"/fhir/AuditEvent?patient=Patient/{record_id}&_count=1", headers=api.person(ins)
    )
    page = response.json()
    assert page["total"] >= 2 and len(page["entry"]) == 1
    assert any(link["relation"] == "next" for link in page["link"])
    by_agent = _events(api, record_id, api.person(ins), "&agent=Practitioner/899900000001")
    assert by_agent and all(
        e["agent"][0]["who"]["identifier"]["value"] == "899900000001" for e in by_agent
    )
    assert _events(api, record_id, api.person(ins), "&date=lt2000-01-01") == []
    stranger = api.http.get(
        f"/fhir/AuditEvent?patient=Patient/{record_id}", headers=api.person(an_ins())
    )
    assert stranger.status_code == 404
