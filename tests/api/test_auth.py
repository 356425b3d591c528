"""Bearer tokens at the edge (SPEC.md SEC-2; API.md Authentication, Details §1): every refusal
is a 401 OperationOutcome with `WWW-Authenticate: Bearer` and the stable code of the reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx

from opendmp.adapters.demo_tokens import DemoIssuer
from opendmp.bootstrap import Application, build
from opendmp.settings import Settings
from opendmp.web.app import create_app
from tests.api.support import Api, bearer, http_client, outcome_code
from tests.support import SettableClock, an_ins


def _search(api: Api, headers: dict[str, str]) -> httpx.Response:
    ins = an_ins()
    return api.http.get(
        f"/fhir/Patient?identifier=urn:oid:{ins.system}|{ins.value}", headers=headers
    )


def _refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert outcome_code(response) == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["issue"][0]["code"] == "login"


def test_no_token_is_401_with_a_bearer_challenge_sec_2(api: Api) -> None:
    response = _search(api, {})
    _refused(response, "DMP-0401")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="OpenDMP"'
    _refused(_search(api, {"Authorization": "Basic dXNlcjpwYXNz"}), "DMP-0401")


def test_a_tampered_token_fails_its_signature_sec_2(api: Api) -> None:
    header, payload, signature = api.token(
        sub="899900000001", actor="professional", profession="60"
    ).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["profession"] = "10"  # promote oneself to physician
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = _search(api, bearer(f"{header}.{forged}.{signature}"))
    _refused(response, "DMP-0402")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_for_another_audience_is_refused_sec_2(application: Application, api: Api) -> None:
    settings = application.settings
    other = DemoIssuer(settings.effective_demo_key_file, settings.demo_issuer, "https://elsewhere")
    token = other.issue({"sub": "ops", "actor": "operator"})
    _refused(_search(api, bearer(token)), "DMP-0704")


def test_unknown_issuer_expired_token_and_alg_none_are_refused_sec_2(
    application: Application, api: Api
) -> None:
    settings = application.settings
    stranger = DemoIssuer(
        settings.home / "stranger.jwk", "https://idp.invalid", settings.demo_audience
    )
    _refused(_search(api, bearer(stranger.issue({"sub": "ops", "actor": "operator"}))), "DMP-0701")
    old = DemoIssuer(
        settings.effective_demo_key_file,
        settings.demo_issuer,
        settings.demo_audience,
        clock=SettableClock(datetime(2020, 1, 1, tzinfo=UTC)),
    )
    _refused(_search(api, bearer(old.issue({"sub": "ops", "actor": "operator"}))), "DMP-0705")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = (
        base64.urlsafe_b64encode(
            json.dumps({"iss": settings.demo_issuer, "sub": "ops", "actor": "operator"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    _refused(_search(api, bearer(f"{none_header}.{body}.")), "DMP-0702")


def test_verified_claims_that_describe_no_caller_are_401(
    application: Application, api: Api
) -> None:
    """A professional's token without a TRE_G15 profession (fhir/claims.py)."""
    settings = application.settings
    issuer = DemoIssuer(
        settings.effective_demo_key_file, settings.demo_issuer, settings.demo_audience
    )
    token = issuer.issue({"sub": "899900000001", "actor": "professional"})
    _refused(_search(api, bearer(token)), "DMP-0714")


def test_a_configured_trusted_issuer_is_accepted_and_the_demo_one_is_not(
    application: Application,
) -> None:
    """OPENDMP_TRUSTED_ISSUERS (docs/authentication.md); demo mode off: no demo issuer."""
    idp = DemoIssuer(
        application.settings.home / "idp.jwk", "https://idp.example", "https://dmp.example/fhir"
    )
    trusted = json.dumps(
        [
            {
                "issuer": idp.issuer,
                "audience": idp.audience,
                "jwks": idp.jwks(),
                "algorithms": ["ES256"],
            }
        ]
    )
    settings = Settings(home=application.settings.home, trusted_issuers=trusted)
    demo = DemoIssuer(
        application.settings.effective_demo_key_file,
        application.settings.demo_issuer,
        application.settings.demo_audience,
    )
    app = create_app(build(settings, engine=application.engine))
    ins = an_ins()
    url = f"/fhir/Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|{ins.value}"
    claims = {"sub": "899900000001", "actor": "professional", "profession": "10"}
    with http_client(app) as client:
        accepted = client.get(url, headers=bearer(idp.issue(claims)))
        refused = client.get(url, headers=bearer(demo.issue(claims)))
    assert accepted.status_code == 200 and accepted.json()["total"] == 0
    assert refused.status_code == 401 and outcome_code(refused) == "DMP-0701"


def test_dev_token_answers_the_oauth_shape_and_refuses_bad_bodies_api_1(api: Api) -> None:
    response = api.http.post(
        "/auth/dev/token",
        json={"sub": "899900000001", "actor": "professional", "profession": "10"},
    )
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    unknown = api.http.post("/auth/dev/token", json={"sub": "ops", "actor": "operator", "x": 1})
    assert unknown.status_code == 400 and outcome_code(unknown) == "DMP-0721"
    invalid = api.http.post("/auth/dev/token", json={"sub": "12", "actor": "professional"})
    assert invalid.status_code == 400 and outcome_code(invalid) == "DMP-0722"
    not_json = api.http.post(
        "/auth/dev/token", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and outcome_code(not_json) == "DMP-0801"
    form = api.http.post("/auth/dev/token", data={"sub": "ops"})
    assert form.status_code == 400 and outcome_code(form) == "DMP-0802"
