"""schemathesis against the server's own OpenAPI document (issue 3 §5): generated requests to
every operation, with a valid demo token and the ids of a real record, document and consent,
must never get a 5xx (SPEC.md §9: no stack trace reaches a client; API.md Basics: errors are
OperationOutcomes with a fitting 4xx). Bounded: few examples per operation and a time cap.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.api.support import FHIR_JSON, NURSE, Api, consent
from tests.interop.server import ServerProcess
from tests.interop.support import fresh_ins

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
MAX_EXAMPLES = 20
TIME_CAP_SECONDS = 120  # a run takes ~10 s here; beyond the cap it is killed and fails


def _fixtures(api: Api) -> dict[str, str]:
    """A record of its own (fuzzing may close it or delete its document), a document, a
    consent: ids for the path parameters, so that requests reach the services."""
    ins = fresh_ins()
    record_id = api.open_record(ins)
    document_id = api.submit_one(ins, data=b"%PDF-1.4 fuzzed\n")
    created = api.http.post(
        "/fhir/Consent",
        json=consent(record_id, NURSE),
        headers={**FHIR_JSON, **api.person(ins)},  # the patient authorizes (R-PS-2)
    )
    assert created.status_code == 201, created.text
    return {
        "record_id": record_id,
        "document_id": document_id,
        "consent_id": str(created.json()["id"]),
    }


def test_the_server_publishes_an_openapi_document(dmp_server: ServerProcess) -> None:
    with dmp_server.client() as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/fhir", "/fhir/DocumentReference", "/fhir/Binary/{document_id}"} <= set(
        document["paths"]
    )


def test_the_openapi_document_describes_searches_bodies_and_bearer_auth(
    dmp_server: ServerProcess,
) -> None:
    """What a generated client or a fuzzer needs: ITI-67's `patient`, ITI-65's Bundle body,
    and the bearer token (API.md Authentication)."""
    with dmp_server.client() as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    search = document["paths"]["/fhir/DocumentReference"]["get"]
    assert "patient" in {p["name"] for p in search.get("parameters", [])}
    assert "application/fhir+json" in document["paths"]["/fhir"]["post"]["requestBody"]["content"]
    schemes = document.get("components", {}).get("securitySchemes", {}).values()
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes)


def test_sec_3_schemathesis_finds_no_server_error(
    dmp_server: ServerProcess, tmp_path: Path
) -> None:
    """`not_a_server_error` on every operation, positive and negative cases, coverage and
    fuzzing phases. The seed is printed in the output for replay."""
    with dmp_server.client() as client:
        api = Api(client)
        ids = _fixtures(api)
        token = api.professional()["Authorization"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n" + "".join(f'"path.{name}" = "{value}"\n' for name, value in ids.items()),
        encoding="utf-8",
    )
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{dmp_server.base_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--header",
        f"Authorization: {token}",
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,  # its .hypothesis and .schemathesis caches stay out of the repository
        capture_output=True,
        text=True,
        timeout=TIME_CAP_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout, done.stdout[-3000:]
