"""The demo issuer over HTTP (API.md Details §1): registered in demo mode only (SEC-2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from opendmp.adapters.demo_tokens import DemoIssuer, dev_token_claims
from opendmp.web.deps import FhirBody
from opendmp.web.runtime import runtime_of

router = APIRouter(prefix="/auth/dev", tags=["Demo"])

TOKEN_TTL = 3600


async def _issuer(request: Request) -> DemoIssuer:
    issuer = runtime_of(request).authentication.demo_issuer
    assert issuer is not None, "the demo routes exist only with the demo issuer"
    return issuer


Issuer = Annotated[DemoIssuer, Depends(_issuer)]


@router.post("/token")
def dev_token(issuer: Issuer, body: FhirBody) -> JSONResponse:
    """A JSON object of claims (`sub`, `actor`, `profession`, …) → a signed demo token."""
    claims: dict[str, Any] = dev_token_claims(body)
    return JSONResponse(
        {
            "access_token": issuer.issue(claims, TOKEN_TTL),
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/jwks.json")
async def dev_jwks(issuer: Issuer) -> JSONResponse:
    """The demo issuer's public keys."""
    return JSONResponse(issuer.jwks())
