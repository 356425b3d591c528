"""The demo issuer's sign-in page, token endpoint and discovery (demo mode only, SEC-2).

OpenID Connect Core §3.1 with PKCE (RFC 7636, S256 only), for the one client this server
runs (the portals). The redirect URI must be this server's own callback: the page never
sends a code anywhere else.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from starlette.responses import RedirectResponse, Response

from opendmp.domain.actors import AccessMode
from opendmp.web.portal.config import DEMO_CLIENT_ID, SIDES
from opendmp.web.portal.demo_authority import (
    AUTHORIZE_PATH,
    CALLBACK_PATH,
    DISCOVERY_PATH,
    TOKEN_PATH,
    DemoAuthority,
    demo_identities,
    identity,
)
from opendmp.web.portal.messages import Problem
from opendmp.web.portal.oidc import SignInError
from opendmp.web.portal.state import portal_of
from opendmp.web.portal.view import PageView, PortalRoute, View
from opendmp.web.runtime import runtime_of

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

_PARAMS = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "login_hint")


def _authority(request: Request) -> DemoAuthority:
    authority = portal_of(request).authority
    assert authority is not None, "the demo routes exist only with the demo issuer"
    return authority


def _invalid_request(view: View, params: dict[str, str]) -> str | None:
    """What is wrong with this authorization request, if anything (OIDC Core §3.1.2.2)."""
    server = runtime_of(view.request).server_url(view.request)
    if params.get("response_type", "code") != "code":
        return "response_type"
    if params.get("client_id") != DEMO_CLIENT_ID:
        return "client_id"
    if params.get("redirect_uri") != server + CALLBACK_PATH:
        return "redirect_uri"
    if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
        return "code_challenge"
    if not params.get("state") or not params.get("nonce"):
        return "state"
    return None


def _refused(view: View, what: str) -> Response:
    problem = Problem(400, view.t("demo.invalid-request", what=what), "OIDC", "SEC-2")
    return view.problem_page(problem, back="/")


@router.get(AUTHORIZE_PATH)
async def authorize_page(view: PageView) -> Response:
    params = dict(view.request.query_params)
    wrong = _invalid_request(view, params)
    if wrong:
        return _refused(view, wrong)
    side = params.get("login_hint", "")
    people = [p for p in demo_identities() if side not in SIDES or p.side == side]
    return view.page(
        "demo_signin.html",
        people=people,
        params={k: params.get(k, "") for k in _PARAMS},
        show_modes=any(p.side == "pro" for p in people),
    )


@router.post(AUTHORIZE_PATH)
def authorize(
    view: PageView,
    who: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = AccessMode.NORMAL.value,
    client_id: Annotated[str, Form()] = "",
    redirect_uri: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    nonce: Annotated[str, Form()] = "",
    code_challenge: Annotated[str, Form()] = "",
    login_hint: Annotated[str, Form()] = "",
) -> Response:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    wrong = _invalid_request(view, params)
    if wrong:
        return _refused(view, wrong)
    person = identity(who)
    if person is None or mode not in (AccessMode.NORMAL.value, AccessMode.CENTRE_15.value):
        return _refused(view, "who")
    code = _authority(view.request).issue_code(
        person,
        AccessMode(mode) if person.side == "pro" else AccessMode.NORMAL,
        client_id=client_id,
        redirect_uri=redirect_uri,
        challenge=code_challenge,
        nonce=nonce,
    )
    del login_hint
    return RedirectResponse(
        f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=303
    )


@router.post(TOKEN_PATH)
def token(
    request: Request,
    grant_type: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    redirect_uri: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    code_verifier: Annotated[str, Form()] = "",
) -> JSONResponse:
    """RFC 6749 §4.1.3 for a public client with PKCE; errors per §5.2."""
    headers = {"Cache-Control": "no-store"}
    if grant_type != "authorization_code":
        return JSONResponse({"error": "unsupported_grant_type"}, 400, headers=headers)
    try:
        tokens = _authority(request).exchange(
            code=code, verifier=code_verifier, client_id=client_id, redirect_uri=redirect_uri
        )
    except SignInError as error:
        return JSONResponse(
            {"error": "invalid_grant", "error_description": str(error)}, 400, headers=headers
        )
    return JSONResponse(tokens, headers=headers)


@router.get(DISCOVERY_PATH)
async def discovery(request: Request) -> JSONResponse:
    authority = _authority(request)
    server = runtime_of(request).server_url(request)
    return JSONResponse(
        {
            "issuer": authority.issuer.issuer,
            "authorization_endpoint": server + AUTHORIZE_PATH,
            "token_endpoint": server + TOKEN_PATH,
            "jwks_uri": server + "/auth/dev/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [authority.issuer.algorithm],
            "scopes_supported": ["openid", "fhirUser"],
            "token_endpoint_auth_methods_supported": ["none"],
        }
    )
