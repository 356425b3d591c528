"""The OpenAPI document, completed from the route table (API.md).

Handlers read FHIR query parameters and bodies raw (a FHIR search has repeated and prefixed
parameters that a typed signature cannot say), so FastAPI's generated document lacks them. The
route table that feeds the CapabilityStatement feeds this too: search parameters, FHIR bodies
and the bearer scheme, so clients and fuzzers (schemathesis) see the real interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from opendmp.fhir.capability import RouteSpec

FHIR_JSON = "application/fhir+json"
PUBLIC = {"/fhir/metadata"}
_PAGING = (("_count", "integer", "page size, at most 200 (SEC-3)"), ("_sort", "string", "-date"))
_RESOURCE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
    "additionalProperties": True,
}
_JSON_PATCH = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace", "test", "move", "copy"]},
            "path": {"type": "string"},
            "value": {},
        },
    },
}


def _query(name: str, kind: str, documentation: str) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 0} if kind == "integer" else {"type": "string"}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": documentation or f"FHIR {kind} search parameter",
    }


def _search_parameters(route: RouteSpec) -> list[dict[str, Any]]:
    parameters = [_query(p.name, p.type, p.documentation) for p in route.search_params]
    parameters += [_query(name, kind, doc) for name, kind, doc in _PAGING]
    return parameters


def complete(document: dict[str, Any], routes: Iterable[RouteSpec]) -> dict[str, Any]:
    """Add search parameters, FHIR request bodies and bearer security to `document`."""
    by_type = {route.resource_type: route for route in routes}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/fhir"):
            continue
        resource_type = path.removeprefix("/fhir").strip("/")
        route = by_type.get(resource_type)
        for method, operation in operations.items():
            if method == "get" and route is not None and route.search_params:
                known = {p["name"] for p in operation.get("parameters", [])}
                operation.setdefault("parameters", []).extend(
                    p for p in _search_parameters(route) if p["name"] not in known
                )
            if method == "patch":
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json-patch+json": {"schema": _JSON_PATCH}},
                }
            elif method in {"post", "put"}:
                operation["requestBody"] = {
                    "required": not path.endswith(("$dmp-reopen", "$everything")),
                    "content": {FHIR_JSON: {"schema": _RESOURCE}},
                }
            if path not in PUBLIC:
                operation["security"] = [{"bearer": []}]
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from a trusted issuer (SEC-2, docs/authentication.md)",
    }
    return document


def install(app: FastAPI, routes: Iterable[RouteSpec]) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    table = tuple(routes)
    cache: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "document" not in cache:
            generated = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            cache["document"] = complete(generated, table)
        return cache["document"]

    setter: Callable[[], dict[str, Any]] = openapi
    app.openapi = setter  # type: ignore[method-assign]
