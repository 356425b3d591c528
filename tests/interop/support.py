"""Helpers of the interoperability tests: fresh identities, FHIR bodies, OperationOutcome reading.

The ITI-65 bodies are the API tests' builders (`tests.api.support.provide_bundle`, a PDSm
comprehensive Bundle valid under the `dmp` profile); identities are random so that a server
home reused across restarts never sees the same INS twice (REC-1).
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from opendmp.domain.identifiers import OID_INS_TEST, Ins, nir_key

FIXTURES = Path(__file__).parents[1] / "fixtures"


def fresh_ins() -> Ins:
    """A test INS (ID-2 system .10) with a valid NIR key (ID-1), random enough not to repeat."""
    body = (
        f"{secrets.choice('12')}{secrets.randbelow(100):02d}{1 + secrets.randbelow(12):02d}75"
        f"{secrets.randbelow(1_000_000):06d}"
    )
    return Ins(OID_INS_TEST, f"{body}{nir_key(body):02d}")


def load_json(relative: str) -> dict[str, Any]:
    """A fixture under tests/fixtures (copied from the shared test data, see PROVENANCE.md)."""
    with (FIXTURES / relative).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def issues(response: httpx.Response) -> set[tuple[str, str, str]]:
    """An OperationOutcome as {(issue.code, stable code, expression)} (API.md §21)."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return {
        (
            issue["code"],
            issue["details"]["coding"][0]["code"],
            (issue.get("expression") or [""])[0],
        )
        for issue in body["issue"]
    }


def binary_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes of a Binary resource of a request Bundle."""
    return base64.b64decode(entry["resource"]["data"])
