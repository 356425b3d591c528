"""FHIR JSON responses (`application/fhir+json`, API.md Basics)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        """Compact UTF-8 JSON, as Starlette's, several times faster (a search page of up to
        200 DocumentReferences is a large document)."""
        return orjson.dumps(content)


def resource_response(
    resource: dict[str, Any], *, status: int = 200, location: str | None = None
) -> FhirResponse:
    """A resource, with its version as a weak ETag when it has one (FHIR R4 §3.1.0.5)."""
    headers: dict[str, str] = {}
    version = resource.get("meta", {}).get("versionId")
    if version:
        headers["ETag"] = f'W/"{version}"'
    if location:
        headers["Location"] = location
    return FhirResponse(resource, status_code=status, headers=headers)
