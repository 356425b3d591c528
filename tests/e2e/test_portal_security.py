"""Sign-in and session security of the portals over real HTTP (issue 4 §3, SEC-2).

The OIDC authorization code flow with PKCE against the demo issuer (in-process, and as a
configured provider reached over HTTP), the state and nonce checks, cookie flags, CSRF
tokens, the Content-Security-Policy, session expiry and refused redirects. No browser is
needed: these run wherever the server runs.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import anyio.from_thread
import httpx
import pytest

from opendmp.bootstrap import build
from opendmp.settings import Settings
from opendmp.web.app import create_app
from opendmp.web.portal.oidc import code_challenge
from tests.api.support import PortalTransport
from tests.e2e.conftest import Server, free_port, start_server
from tests.e2e.flows import PATIENT_INS

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=20)


def authorize_form(http: httpx.Client, side: str) -> dict[str, str]:
    """Start signing in; the hidden fields of the demo issuer's page."""
    start = http.get(f"/auth/login/{side}")
    assert start.status_code == 303
    page = http.get(start.headers["location"])
    assert page.status_code == 200, page.text
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}


def sign_in(http: httpx.Client, side: str, who: str) -> httpx.Response:
    form = authorize_form(http, side)
    chosen = http.post("/auth/demo/authorize", data={**form, "who": who, "mode": "normal"})
    assert chosen.status_code == 303, chosen.text
    return http.get(chosen.headers["location"])


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with client(server) as opened:
        yield opened


def test_pages_have_a_strict_content_security_policy(http: httpx.Client) -> None:
    response = http.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


def test_sign_in_sets_an_httponly_samesite_session_cookie(server: Server) -> None:
    with client(server) as http:
        done = sign_in(http, "patient", "patient")
        assert done.status_code == 303 and done.headers["location"] == "/patient/"
        cookie = next(
            c for c in done.headers.get_list("set-cookie") if c.startswith("opendmp_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert http.get("/patient/").status_code == 303  # → the one record


def test_cookies_are_secure_over_https(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, demo_mode=True)
    app = create_app(build(settings, migrate=True, create_keys=True))
    with anyio.from_thread.start_blocking_portal() as portal:
        transport = PortalTransport(app, portal)
        with httpx.Client(transport=transport, base_url="https://testserver") as https:
            response = https.get("/auth/login/patient")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("opendmp_signin=") and "Secure" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_post_without_the_csrf_token_is_refused(server: Server) -> None:
    with client(server) as http:
        sign_in(http, "patient", "patient")
        refused = http.post("/auth/logout", data={})
        assert refused.status_code == 403
        assert "Ce formulaire a expiré" in refused.text
        forged = http.post("/auth/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert http.get("/patient/").status_code == 303  # still signed in


def test_a_tampered_session_cookie_means_signing_in_again(server: Server) -> None:
    with client(server) as http:
        sign_in(http, "patient", "patient")
        value = http.cookies["opendmp_session"]
        http.cookies.set("opendmp_session", value[:-4] + "AAAA", domain="127.0.0.1")
        response = http.get("/patient/")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/login/patient")


def test_the_callback_checks_the_state_and_the_flow_cookie(server: Server) -> None:
    with client(server) as http:
        expired = http.get("/auth/callback", params={"code": "x", "state": "y"})
        assert expired.status_code == 401 and "trop de temps" in expired.text
        authorize_form(http, "patient")
        wrong = http.get("/auth/callback", params={"code": "x", "state": "not-mine"})
        assert wrong.status_code == 401 and "ne correspond pas" in wrong.text
        assert "opendmp_session" not in http.cookies


def test_the_demo_token_endpoint_checks_pkce_and_single_use(server: Server) -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    with client(server) as http:
        form = authorize_form(http, "patient")
        form["code_challenge"] = code_challenge(verifier)
        chosen = http.post("/auth/demo/authorize", data={**form, "who": "patient"})
        code = parse_qs(urlparse(chosen.headers["location"]).query)["code"][0]
        grant = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": form["redirect_uri"],
            "client_id": form["client_id"],
        }
        wrong = http.post("/auth/demo/token", data={**grant, "code_verifier": "x" * 43})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        tokens = http.post("/auth/demo/token", data={**grant, "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        assert tokens.headers["cache-control"] == "no-store"
        payload = tokens.json()["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["nonce"] == form["nonce"] and claims["sub"] == PATIENT_INS
        assert claims["actor"] == "person"
        again = http.post("/auth/demo/token", data={**grant, "code_verifier": verifier})
        assert again.status_code == 400 and "already used" in again.json()["error_description"]


def test_the_demo_issuer_sends_codes_to_this_server_only(http: httpx.Client) -> None:
    form = authorize_form(http, "patient")
    query = {**form, "response_type": "code", "code_challenge_method": "S256"}
    query["redirect_uri"] = "https://attacker.example/callback"
    page = http.get("/auth/demo/authorize", params=query)
    assert page.status_code == 400 and "redirect_uri" in page.text
    posted = http.post("/auth/demo/authorize", data={**query, "who": "patient"})
    assert posted.status_code == 400 and "location" not in posted.headers


def test_an_identity_of_the_other_side_is_refused(server: Server) -> None:
    """A person's token does not open the professionals' portal (nor the reverse)."""
    with client(server) as http:
        form = authorize_form(http, "pro")
        chosen = http.post("/auth/demo/authorize", data={**form, "who": "patient"})
        refused = http.get(chosen.headers["location"])
        assert refused.status_code == 401 and "ne donne pas accès à cet espace" in refused.text


def test_a_patient_session_does_not_open_professional_pages(server: Server) -> None:
    with client(server) as http:
        sign_in(http, "patient", "patient")
        response = http.get("/pro/")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/login/pro")


def test_redirects_stay_on_this_site(http: httpx.Client) -> None:
    assert http.get("/lang/en", params={"next": "https://evil.example/"}).headers["location"] == "/"
    assert http.get("/lang/en", params={"next": "//evil.example/"}).headers["location"] == "/"
    response = http.get("/auth/login/patient", params={"next": "//evil.example/"})
    assert response.status_code == 303 and "evil" not in response.headers["location"]


def test_an_unknown_portal_page_is_an_html_404(server: Server) -> None:
    with client(server) as http:
        for path in ("/patient/records/x/nothing/here", "/pro/nothing"):
            page = http.get(path)
            assert page.status_code == 404 and "text/html" in page.headers["content-type"]
            assert "Cette page n'existe pas." in html.unescape(page.text)


def test_uploaded_text_is_downloaded_in_a_sandbox(server: Server) -> None:
    """A patient's file is never run in the portal's origin (content type, CSP sandbox)."""
    with client(server) as http:
        sign_in(http, "patient", "patient")
        record = http.get("/patient/").headers["location"].rstrip("/")
        form = http.get(f"{record}/upload").text
        csrf = dict(HIDDEN.findall(form))["csrf_token"]
        posted = http.post(
            f"{record}/upload",
            data={"csrf_token": csrf, "title": "Note", "type": "EXPPAT_2"},
            files={"file": ("note.txt", b"<script>alert(1)</script>", "text/html")},
        )
        assert posted.status_code == 303, posted.text
        documents = http.get(f"{record}/documents").text
        link = re.search(r'href="([^"]+)">Note</a>', documents)
        assert link is not None
        viewer = http.get(link.group(1))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in viewer.text
        content = http.get(link.group(1) + "/content")
        assert content.headers["content-type"].startswith("text/plain")
        assert content.headers["content-disposition"].startswith("attachment")
        assert "sandbox" in content.headers["content-security-policy"]


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose patient provider is configured (reached over HTTP, discovery first)
    and whose sessions end after 3 idle seconds."""
    port = free_port()
    provider = {
        "patient": {
            "issuer": "urn:opendmp:demo-issuer",
            "client_id": "opendmp-portal",
            "discovery_url": f"http://127.0.0.1:{port}/auth/demo/.well-known/openid-configuration",
        }
    }
    running = start_server(
        tmp_path_factory.mktemp("configured"),
        {"OPENDMP_PORTAL_OIDC": json.dumps(provider), "OPENDMP_PORTAL_SESSION_IDLE": "3"},
        port=port,
    )
    yield running
    running.stop()


def test_a_configured_provider_is_used_over_http(configured: Server) -> None:
    with client(configured) as http:
        start = http.get("/auth/login/patient")
        location = start.headers["location"]
        assert location.startswith(f"{configured.url}/auth/demo/authorize?")
        query = parse_qs(urlparse(location).query)
        assert query["code_challenge_method"] == ["S256"] and "login_hint" not in query
        done = sign_in(http, "patient", "patient")
        assert done.status_code == 303 and done.headers["location"] == "/patient/"
        assert http.get("/patient/").status_code == 303


def test_the_session_ends_after_the_idle_time(configured: Server) -> None:
    with client(configured) as http:
        sign_in(http, "patient", "patient")
        assert http.get("/patient/").headers["location"].startswith("/patient/records/")
        time.sleep(4)
        ended = http.get("/patient/")
        assert ended.headers["location"].startswith("/auth/login/patient")
