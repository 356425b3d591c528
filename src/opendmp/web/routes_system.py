"""Unauthenticated endpoints: the CapabilityStatement, health, readiness, metrics, SMART
discovery (API.md Basics and Authentication; SPEC.md §9)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from opendmp import __version__
from opendmp.fhir.capability import capability_statement
from opendmp.web.deps import FhirBase, RuntimeDep
from opendmp.web.responses import FhirResponse

router = APIRouter()

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/fhir/metadata", tags=["FHIR"])
async def metadata(runtime: RuntimeDep, base: FhirBase) -> FhirResponse:
    """Generated from the route table: what is declared is what is served."""
    return FhirResponse(
        capability_statement(runtime.routes, base, runtime.profile, software_version=__version__)
    )


@router.get("/health", tags=["Operations"])
async def health() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/ready", tags=["Operations"])
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database answers (503 otherwise)."""
    reachable = await run_in_threadpool(runtime.application.is_database_reachable)
    return JSONResponse(
        {"status": "ready" if reachable else "unavailable", "database": reachable},
        status_code=200 if reachable else 503,
    )


@router.get("/metrics", tags=["Operations"])
async def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Prometheus counters by route template and status; nothing personal."""
    return PlainTextResponse(runtime.metrics.render(), media_type=PROMETHEUS_TEXT)


@router.get("/.well-known/smart-configuration", tags=["Operations"])
async def smart_configuration(runtime: RuntimeDep, base: FhirBase) -> JSONResponse:
    """SMART App Launch 2.0 discovery: where to get a token, what the server accepts."""
    settings = runtime.application.settings
    server = base.removesuffix("/fhir")
    demo = runtime.authentication.demo_issuer
    token_endpoint = settings.smart_token_endpoint or (
        f"{server}/auth/dev/token" if demo is not None else ""
    )
    document: dict[str, Any] = {
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-asymmetric",
            "sso-openid-connect",
            "context-standalone-patient",
            "permission-patient",
            "permission-user",
            "permission-v2",
        ],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [
            "openid",
            "fhirUser",
            "patient/*.cruds",
            "user/*.cruds",
            "system/*.cruds",
        ],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }
    if settings.smart_authorization_endpoint:
        document["authorization_endpoint"] = settings.smart_authorization_endpoint
    if token_endpoint:
        document["token_endpoint"] = token_endpoint
    if demo is not None:
        document["issuer"] = demo.issuer
        document["jwks_uri"] = f"{server}/auth/dev/jwks.json"
    return JSONResponse(document)
