"""Bearer tokens to the caller (API.md Authentication, SPEC.md SEC-2, AUD-1).

The token is verified by `TokenVerifier` (signature, issuer, audience, times) against the
trusted issuers, plus the demo issuer in demo mode only; its claims become the domain
`Actor`. Runs in the threadpool: verification may fetch an issuer's JWKS.
"""

from __future__ import annotations

from fastapi import Request

from opendmp.adapters.tokens import TokenError, TokenFailure
from opendmp.fhir.claims import actor_from_claims
from opendmp.services.context import Call
from opendmp.web.runtime import runtime_of

_MAX_CLIENT = 120


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError(TokenFailure.MALFORMED, "no bearer token (Authorization: Bearer <JWT>)")
    return token.strip()


def client_software(request: Request) -> str:
    """The client software for the audit trail (AUD-1), printable and short."""
    agent = request.headers.get("user-agent", "")
    return "".join(c for c in agent if c.isprintable())[:_MAX_CLIENT]


def authenticated_call(request: Request) -> Call:
    """The verified caller and this request's id: what every use case receives."""
    runtime = runtime_of(request)
    claims = runtime.authentication.verifier.verify(bearer_token(request))
    has_client_claim = bool(claims.get("client_id") or claims.get("azp"))
    actor = actor_from_claims(claims, client="" if has_client_claim else client_software(request))
    request.state.actor_kind = actor.kind.value
    request.state.actor_hash = runtime.hasher(actor.id)
    return Call(actor, request.state.request_id)
