"""Unauthenticated endpoints, the request frame and the CapabilityStatement (API.md Basics;
SPEC.md §9, SEC-3, SEC-4)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

from opendmp.bootstrap import Application, build
from opendmp.settings import Settings
from opendmp.web.app import create_app
from opendmp.web.route_table import served_routes
from tests.api.support import BASE, Api, Doc, http_client, outcome_code, provide_bundle
from tests.support import an_ins


def test_metadata_is_a_capability_statement_without_authentication(api: Api) -> None:
    response = api.http.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["implementation"]["url"] == f"{BASE}/fhir"
    rest = statement["rest"][0]
    assert rest["interaction"][0]["code"] == "transaction"
    resources = {r["type"]: r for r in rest["resource"]}
    assert set(resources) == {
        "AuditEvent",
        "Binary",
        "Consent",
        "DocumentReference",
        "List",
        "Patient",
    }
    patient_ops = {o["name"] for o in resources["Patient"]["operation"]}
    assert patient_ops == {"dmp-open", "dmp-close", "dmp-reopen", "dmp-settings", "everything"}
    doc_ops = {o["name"]: o["definition"] for o in resources["DocumentReference"]["operation"]}
    assert doc_ops["meta-add"] == "http://hl7.org/fhir/OperationDefinition/Resource-meta-add"
    params = {p["name"] for p in resources["DocumentReference"]["searchParam"]}
    assert {
        "patient",
        "patient.identifier",
        "status",
        "type",
        "category",
        "date",
        "period",
    } <= params
    assert {"author.identifier", "facility", "setting", "event", "security-label"} <= params
    assert "pdsm-comprehensive-provide-document-bundle" in rest["interaction"][0]["documentation"]
    assert "IHE.MHD.DocumentResponder" in " ".join(statement["instantiates"])


_INTERACTIONS = {
    "read": ("GET", "/fhir/{type}/{id}"),
    "search-type": ("GET", "/fhir/{type}"),
    "create": ("POST", "/fhir/{type}"),
    "patch": ("PATCH", "/fhir/{type}/{id}"),
    "delete": ("DELETE", "/fhir/{type}/{id}"),
}


def _served(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path with any parameter written {id}) of every route of the app (OpenAPI)."""
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{id}", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_declared_interaction_is_served_and_every_fhir_route_declared(app: FastAPI) -> None:
    """What the CapabilityStatement declares is what is served (API.md Basics)."""
    served = _served(app)
    declared = set()
    for spec in served_routes():
        if not spec.resource_type:
            declared.add(("POST", "/fhir"))
            continue
        for interaction in spec.interactions:
            method, pattern = _INTERACTIONS[interaction]
            declared.add((method, pattern.replace("{type}", spec.resource_type)))
        for op in spec.operations:
            base = f"/fhir/{spec.resource_type}"
            candidates = {
                (m, p)
                for m in ("GET", "POST")
                for p in (f"{base}/${op.name}", f"{base}/{{id}}/${op.name}")
            }
            found = candidates & served
            assert found, f"{spec.resource_type} ${op.name} is declared but not served"
            declared |= found
    assert declared <= served
    fhir_routes = {(m, p) for m, p in served if p.startswith("/fhir") and p != "/fhir/metadata"}
    assert fhir_routes <= declared


def test_health_ready_and_smart_configuration(api: Api) -> None:
    assert api.http.get("/health").json() == {"status": "ok"}
    ready = api.http.get("/ready")
    assert ready.status_code == 200 and ready.json()["database"] is True
    smart = api.http.get("/.well-known/smart-configuration").json()
    assert smart["token_endpoint"] == f"{BASE}/auth/dev/token"
    assert smart["jwks_uri"] == f"{BASE}/auth/dev/jwks.json"
    assert "permission-v2" in smart["capabilities"]
    keys = api.http.get("/auth/dev/jwks.json").json()["keys"]
    assert keys and all("d" not in key for key in keys)  # never the private part


def test_ready_answers_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    """SPEC.md §9: readiness is the database answering."""
    settings = Settings(home=tmp_path, demo_mode=True)
    application = build(settings, create_keys=True)
    broken = Settings(
        home=tmp_path, demo_mode=True, database_url="postgresql://nobody@127.0.0.1:9/none"
    )
    app = create_app(build(broken))
    with http_client(app) as client:
        response = client.get("/ready")
    assert response.status_code == 503 and response.json()["database"] is False
    application.engine.dispose()  # type: ignore[attr-defined]


def test_metrics_count_requests_by_route_template_without_personal_data(api: Api) -> None:
    """SPEC.md §9, SEC-4: route templates and statuses, never an id or a query value."""
    ins = an_ins()
    api.http.get(f"/fhir/Patient?identifier=urn:oid:{ins.system}|{ins.value}")
    api.http.get("/fhir/DocumentReference/some-document-id", headers=api.professional())
    text = api.http.get("/metrics").text
    assert 'route="/fhir/Patient",status="401"' in text
    assert 'route="/fhir/DocumentReference/{document_id}",status="404"' in text
    assert "opendmp_http_request_duration_seconds_bucket" in text
    assert ins.value not in text and "some-document-id" not in text


def test_every_response_carries_a_request_id_taken_from_the_request_when_sane(api: Api) -> None:
    given = api.http.get("/health", headers={"X-Request-Id": "client-42.a"})
    assert given.headers["X-Request-Id"] == "client-42.a"
    fresh = api.http.get("/health", headers={"X-Request-Id": "bad id\twith <junk>"})
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-Id"])
    assert api.http.get("/fhir/metadata").headers["X-Request-Id"]
    assert api.http.get("/nowhere").headers["X-Request-Id"]


def test_unknown_url_and_method_are_operation_outcomes(api: Api) -> None:
    missing = api.http.get("/fhir/Observation")
    assert missing.status_code == 404 and outcome_code(missing) == "DMP-0804"
    wrong = api.http.put("/fhir/metadata")
    assert wrong.status_code == 405 and outcome_code(wrong) == "DMP-0805"


def test_the_demo_issuer_exists_only_in_demo_mode_sec_2(application: Application) -> None:
    settings = Settings(home=application.settings.home, demo_mode=False)
    app = create_app(build(settings, engine=application.engine))
    with http_client(app) as client:
        assert (
            client.post("/auth/dev/token", json={"sub": "ops", "actor": "operator"}).status_code
            == 404
        )
        assert client.get("/auth/dev/jwks.json").status_code == 404
        assert "token_endpoint" not in client.get("/.well-known/smart-configuration").json()


def test_cors_answers_the_configured_origins(application: Application) -> None:
    settings = replace(application.settings, cors_origins="https://app.example")
    app = create_app(replace(application, settings=settings))
    with http_client(app) as client:
        preflight = client.options(
            "/fhir/DocumentReference",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        other = client.get("/fhir/metadata", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_profile_mhd_declares_and_requires_the_mhd_bundle_profiles_spec_10_api_17(
    application: Application,
) -> None:
    settings = replace(application.settings, profile="mhd")
    services = replace(
        application.services, deployment=replace(application.services.deployment, profile="mhd")
    )
    app = create_app(replace(application, settings=settings, services=services))
    with http_client(app) as client:
        api = Api(client)
        statement = client.get("/fhir/metadata").json()
        assert (
            "IHE.MHD.Minimal.ProvideBundle"
            in statement["rest"][0]["interaction"][0]["documentation"]
        )
        ins = an_ins()
        api.open_record(ins)
        refused = api.submit(provide_bundle(ins, [Doc()]))  # declares the PDSm profile only
        assert refused.status_code == 422 and outcome_code(refused) == "DMP-0612"
