"""`opendmp serve` as a process (issue 3 §4, §5): what the README's first command prints works
against the running server; the unauthenticated endpoints answer on both engines; a request
without a token is refused with an OperationOutcome (SEC-2); the `mhd` profile starts in demo
mode (SPEC.md §10, API.md Basics).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.interop.server import ServerProcess


def test_the_printed_demo_token_and_curl_commands_work(dmp_server: ServerProcess) -> None:
    """Issue 3 §4: `opendmp serve --demo` prints a token and ready-to-paste curl commands."""
    printed = dmp_server.log_path.read_text(errors="replace")
    token = re.search(r"^export TOKEN=(\S+)$", printed, re.MULTILINE)
    urls = re.findall(r"^curl -s -H \"Authorization: Bearer \$TOKEN\" '([^']+)'$", printed, re.M)
    assert token is not None and len(urls) == 2, printed[:2000]
    assert all(url.startswith(dmp_server.fhir_url + "/") for url in urls)
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    patients, documents = (httpx.get(url, headers=headers, timeout=30).json() for url in urls)
    assert patients["resourceType"] == "Bundle" and patients["total"] == 1
    assert documents["resourceType"] == "Bundle" and documents["total"] >= 1


def test_health_ready_metadata_and_a_refusal_without_token_sec_2(server: ServerProcess) -> None:
    with server.client() as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["database"] is True
        metadata = client.get("/fhir/metadata")
        assert metadata.status_code == 200
        assert metadata.json()["resourceType"] == "CapabilityStatement"
        assert metadata.json()["fhirVersion"] == "4.0.1"
        refused = client.get("/fhir/DocumentReference", params={"patient": "x"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.headers["x-request-id"]
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "DMP-0401"


def test_the_demo_starts_with_the_mhd_profile(tmp_path: Path) -> None:
    """API.md Basics: `opendmp serve --profile mhd` runs the generic profile; with `--demo` it
    must start too (the demo data is the deployment's own, not an MHD client's)."""
    server = ServerProcess(tmp_path / "home", "mhd").start()
    try:
        with server.client() as client:
            capability = client.get("/fhir/metadata").json()
        assert "IHE.MHD" in str(capability.get("instantiates", []))
    finally:
        server.stop()
