"""`opendmp token` and `opendmp serve` (API.md Details §1, §22; SPEC.md SEC-2): the demo token
printed alone, refused without the demo issuer; the demo server answering over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from opendmp.adapters.tokens import TokenVerifier
from opendmp.bootstrap import demo_issuer
from opendmp.cli import app
from opendmp.settings import Settings

runner = CliRunner()
DEMO_OID = "1.2.250.1.213.1.4.11"
PS = ("--profession", "10")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("OPENDMP_")]:
        monkeypatch.delenv(name)
    return tmp_path / "demo"


def test_token_needs_the_demo_issuer_sec_2(home: Path) -> None:
    result = runner.invoke(app, ["token", "--home", str(home), "--operator", "ops"])
    assert result.exit_code == 2
    assert "no demo issuer key" in result.stderr
    assert result.stdout == ""


def test_token_prints_the_jwt_alone_with_the_claims_of_the_flags_api_1_api_22(home: Path) -> None:
    settings = Settings(home=home)
    issuer = demo_issuer(settings)  # what `opendmp serve --demo` creates
    result = runner.invoke(
        app,
        [
            "token",
            "--home",
            str(home),
            "--practitioner",
            "899900000003",
            "--profession",
            "10",
            "--structure",
            "1750000018",
            "--purpose",
            "BTG",
            "--purpose-reason",
            "inconscient",
            "--name",
            "Dr Ali Haddad",
            "--secret-connection",
        ],
    )
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.count(".") == 2
    claims = TokenVerifier([issuer.trusted()]).verify(token)
    assert claims["actor"] == "professional" and claims["fhirUser"] == "Practitioner/899900000003"
    assert claims["purpose_of_use"] == "bris_de_glace" and claims["purpose_reason"] == "inconscient"
    assert claims["secret_connection"] is True and claims["name"] == "Dr Ali Haddad"
    person = runner.invoke(
        app,
        ["token", "--home", str(home), "--patient", "285107512345606", "--ins-system", DEMO_OID],
    )
    person_claims = TokenVerifier([issuer.trusted()]).verify(person.stdout.strip())
    assert person_claims["sub"] == "285107512345606"
    assert person_claims["ins_system"] == DEMO_OID
    organization = runner.invoke(
        app, ["token", "--home", str(home), "--organization", "1750000018"]
    )
    org_claims = TokenVerifier([issuer.trusted()]).verify(organization.stdout.strip())
    assert org_claims["auth_mode"] == "INDIRECTE"


def test_token_refuses_bad_flags_naming_them(home: Path) -> None:
    demo_issuer(Settings(home=home))
    result = runner.invoke(
        app,
        ["token", "--home", str(home), "--practitioner", "899900000001", "--purpose", "x", *PS],
    )
    assert result.exit_code == 2 and "--purpose" in result.stderr
    both = runner.invoke(
        app, ["token", "--home", str(home), "--operator", "ops", "--patient", "285107512345606"]
    )
    assert both.exit_code == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_demo_answers_over_http_with_the_printed_token(home: Path) -> None:
    """`make run`: demo data loaded, URLs, a token and a curl printed, the server answering."""
    port = _free_port()
    command = [sys.executable, "-c", "from opendmp.cli import app; app()", "serve", "--demo"]
    command += ["--home", str(home), "--port", str(port)]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the demo server did not become ready")
        os.killpg(server.pid, signal.SIGINT)
        printed, logged = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert f"{base}/fhir/metadata" in printed
    token = next(line for line in printed.splitlines() if line.startswith("export TOKEN="))
    assert "curl -s -H" in printed
    assert token.count(".") == 2
    assert '"route": "/ready"' in logged and "285107512345606" not in logged  # SEC-4


def test_serve_demo_token_works_against_the_running_server(home: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-c", "from opendmp.cli import app; app()", "serve", "--demo"]
    command += ["--home", str(home), "--port", str(port)]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        token = ""
        for line in server.stdout:
            if line.startswith("export TOKEN="):
                token = line.strip().removeprefix("export TOKEN=")
                break
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(
                    f"{base}/fhir/Patient",
                    params={"identifier": "urn:oid:1.2.250.1.213.1.4.11|285107512345606"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200, response
        assert response.json()["total"] == 1
        assert response.headers["X-Request-Id"]
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
