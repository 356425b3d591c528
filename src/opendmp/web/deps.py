"""`Annotated` dependency aliases, in one place (STYLE.md, full-stack-fastapi-template).

Handlers declare what they need (`call: CurrentCall`, `services: Services`, `body: FhirBody`)
and stay thin: parse (fhir) → service → render (fhir).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from opendmp.domain.errors import InvalidRequest
from opendmp.services.context import Call, ServiceContext
from opendmp.web.auth import authenticated_call
from opendmp.web.errors import BAD_MEDIA_TYPE, NOT_JSON
from opendmp.web.runtime import Runtime, runtime_of

FHIR_JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
PATCH_TYPES = frozenset({"application/json-patch+json", "application/json"})

Params = list[tuple[str, str]]


async def _runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def _services(request: Request) -> ServiceContext:
    return runtime_of(request).application.services


async def _fhir_base(request: Request) -> str:
    """This server's FHIR base URL, for links, Location and references (`…/fhir`)."""
    return runtime_of(request).server_url(request) + "/fhir"


async def _params(request: Request) -> Params:
    return list(request.query_params.multi_items())


async def _is_strict(request: Request) -> bool:
    """`Prefer: handling=strict`: unknown search parameters are errors (API.md §13)."""
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return any(part == "handling=strict" for part in prefer.replace(";", ",").split(","))


async def _json(request: Request, accepted: frozenset[str], what: str) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in accepted:
        raise InvalidRequest(
            BAD_MEDIA_TYPE,
            f"the body must be {what} (Content-Type: {' or '.join(sorted(accepted))})",
            path="Content-Type",
        )
    raw = await request.body()
    try:
        return orjson.loads(raw)  # stricter than json: no NaN, no integer beyond 64 bits
    except orjson.JSONDecodeError:
        raise InvalidRequest(NOT_JSON, "the body is not valid JSON", path="Request") from None


async def _fhir_body(request: Request) -> Any:
    return await _json(request, FHIR_JSON_TYPES, "FHIR JSON")


async def _patch_body(request: Request) -> Any:
    return await _json(request, PATCH_TYPES, "a JSON Patch")


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
Services = Annotated[ServiceContext, Depends(_services)]
CurrentCall = Annotated[Call, Depends(authenticated_call)]
FhirBase = Annotated[str, Depends(_fhir_base)]
QueryParams = Annotated[Params, Depends(_params)]
Strict = Annotated[bool, Depends(_is_strict)]
FhirBody = Annotated[Any, Depends(_fhir_body)]
PatchBody = Annotated[Any, Depends(_patch_body)]
