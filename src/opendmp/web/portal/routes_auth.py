"""Home, language switch, sign-in (OIDC authorization code + PKCE) and sign-out (issue 4 §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from opendmp.domain.actors import ActorKind
from opendmp.domain.errors import DmpError
from opendmp.fhir.claims import actor_from_claims
from opendmp.web.portal.config import SIDES
from opendmp.web.portal.demo_authority import CALLBACK_PATH
from opendmp.web.portal.i18n import LANGUAGES
from opendmp.web.portal.messages import Problem
from opendmp.web.portal.oidc import SignInError, SignInFlow, verified_claims
from opendmp.web.portal.session import FLOW_COOKIE, FLOW_SECONDS, LANG_COOKIE
from opendmp.web.portal.view import FormView, PageView, PortalRoute, View, is_local_path
from opendmp.web.runtime import runtime_of

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

_KIND_OF_SIDE = {"patient": ActorKind.PERSON, "pro": ActorKind.PROFESSIONAL}
_HOME_OF_SIDE = {"patient": "/patient/", "pro": "/pro/"}


@router.get("/")
async def home(view: PageView) -> Response:
    config = view.portal.config
    return view.page(
        "home.html",
        can_sign_in={side: config.can_sign_in(side) for side in SIDES},
        is_demo=config.demo,
    )


@router.get("/lang/{code}")
async def switch_language(view: PageView, code: str, next: str = "/") -> Response:
    target = next if is_local_path(next) else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            path="/",
            httponly=True,
            secure=view.is_secure,
            samesite="lax",
        )
    return response


def _redirect_uri(view: View) -> str:
    return runtime_of(view.request).server_url(view.request) + CALLBACK_PATH


def _sign_in_failed(view: View, reason: str) -> Response:
    problem = Problem(401, view.t(f"error.signin.{reason}"), "SIGN-IN", "SEC-2")
    response = view.problem_page(problem, back="/")
    response.delete_cookie(FLOW_COOKIE, path="/auth/")
    return response


@router.get("/auth/login/{side}")
async def sign_in(view: PageView, side: str, next: str = "") -> Response:
    if side not in SIDES:
        return view.page("problem.html", status=404, problem=_not_found(view), back="/")
    client = view.portal.client(side)
    if client is None:
        return _sign_in_failed(view, "unconfigured")
    flow = SignInFlow.new(side, next if is_local_path(next) else _HOME_OF_SIDE[side])
    try:
        url = await run_in_threadpool(client.authorization_url, flow, _redirect_uri(view))
    except SignInError as error:
        return _sign_in_failed(view, error.reason)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        view.portal.codec.dumps_flow(flow.as_dict()),
        max_age=FLOW_SECONDS,
        path="/auth/",
        httponly=True,
        secure=view.is_secure,
        samesite="lax",  # sent on the provider's top-level redirect back to us
    )
    return response


def _not_found(view: View) -> Problem:
    return Problem(404, view.t("error.page-not-found"), "DMP-0804", "")


@router.get(CALLBACK_PATH)
def callback(
    view: PageView,
    code: str = "",
    state: str = "",
    error: Annotated[str, Query()] = "",
) -> Response:
    """RFC 6749 §4.1.2: the state must be this browser's; then code → tokens → verified claims."""
    stored = view.portal.codec.loads_flow(view.request.cookies.get(FLOW_COOKIE))
    if stored is None:
        return _sign_in_failed(view, "expired")
    flow = SignInFlow(**stored)
    if error:
        return _sign_in_failed(view, "refused")
    if not code or state != flow.state:
        return _sign_in_failed(view, "state")
    client = view.portal.client(flow.side)
    if client is None:
        return _sign_in_failed(view, "unconfigured")
    verifier = runtime_of(view.request).authentication.verifier
    try:
        tokens = client.exchange(code, flow.verifier, _redirect_uri(view))
        claims = verified_claims(verifier, tokens, flow)
        actor = actor_from_claims(claims)
    except SignInError as failure:
        return _sign_in_failed(view, failure.reason)
    except DmpError:  # SEC-2: the token or its claims were refused
        return _sign_in_failed(view, "token")
    if actor.kind is not _KIND_OF_SIDE[flow.side]:
        return _sign_in_failed(view, "side")
    view.session = view.portal.codec.start(flow.side, claims)
    view.is_session_changed = True
    response = view.redirect(flow.next)
    response.delete_cookie(FLOW_COOKIE, path="/auth/")
    return response


@router.post("/auth/logout")
async def sign_out(view: FormView) -> Response:
    view.session = None
    view.is_signed_out = True
    return view.redirect("/", ok="signed-out")


fallback = APIRouter(route_class=PortalRoute, include_in_schema=False)


@fallback.get("/patient/{rest:path}")
@fallback.get("/pro/{rest:path}")
async def unknown_page(view: PageView, rest: str) -> Response:
    """A mistyped portal address gets a page in the person's language, not an outcome."""
    del rest
    return view.problem_page(_not_found(view), back="/")
