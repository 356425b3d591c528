"""One page request: the session, the language, the signed-in caller, and the response.

`PortalRoute` wraps every portal handler: a domain error becomes a page in the person's
language (with its stable code and rule, API.md §21) instead of an OperationOutcome, a
missing or expired session becomes a sign-in, and every response gets the security headers
and the refreshed session cookie (HttpOnly, SameSite=Lax, Secure over https).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from opendmp.domain.actors import AccessMode, Actor
from opendmp.domain.errors import DmpError
from opendmp.fhir.claims import actor_from_claims
from opendmp.services.context import Call, ServiceContext
from opendmp.web.auth import client_software
from opendmp.web.portal.i18n import Translator, language_of
from opendmp.web.portal.messages import Problem, problem_of
from opendmp.web.portal.render import render, secure_headers
from opendmp.web.portal.session import LANG_COOKIE, SESSION_COOKIE, PortalSession
from opendmp.web.portal.state import PortalState, portal_of
from opendmp.web.runtime import runtime_of

PORTAL_CLIENT = "OpenDMP portal"
WARNING_FLASHES = frozenset({"confirm-needed", "attest-needed", "settings-forced"})


class SignInRequired(Exception):
    def __init__(self, side: str) -> None:
        super().__init__(side)
        self.side = side


class CsrfRefused(Exception):
    """A POST without this session's CSRF token (cross-site request forgery)."""


def is_local_path(url: str) -> bool:
    """Only paths of this site are followed after sign-in or a language change."""
    return url.startswith("/") and not url.startswith("//") and "\\" not in url


class View:
    def __init__(self, request: Request, portal: PortalState) -> None:
        self.request = request
        self.portal = portal
        self.lang = language_of(request.cookies.get(LANG_COOKIE))
        self.t = Translator(self.lang)
        self.session: PortalSession | None = portal.codec.loads(request.cookies.get(SESSION_COOKIE))
        self.is_session_changed = False
        self.is_signed_out = False
        request.state.portal_view = self

    @property
    def services(self) -> ServiceContext:
        return runtime_of(self.request).application.services

    @property
    def is_secure(self) -> bool:
        base = runtime_of(self.request).application.settings.base_url
        return self.request.url.scheme == "https" or base.startswith("https://")

    @property
    def request_id(self) -> str:
        return str(getattr(self.request.state, "request_id", ""))

    def require(self, side: str) -> PortalSession:
        if self.session is None or self.session.side != side:
            raise SignInRequired(side)
        return self.session

    def actor(self) -> Actor:
        """The signed-in caller, from the claims verified at sign-in (SEC-2)."""
        session = self.session
        assert session is not None
        actor = actor_from_claims(session.claims, client=PORTAL_CLIENT)
        state = self.request.state
        state.actor_kind = actor.kind.value
        state.actor_hash = runtime_of(self.request).hasher(actor.id)
        return actor

    def call(self, record_id: str | None = None) -> Call:
        """The services' caller; on a record where the professional declared break-the-glass,
        the declared mode and reason travel with every request (R-EM-1, R-EM-3)."""
        actor = self.actor()
        reason = self.emergency_reason(record_id)
        if reason is not None and actor.access_mode is AccessMode.NORMAL:
            actor = replace(actor, access_mode=AccessMode.BREAK_THE_GLASS, purpose_reason=reason)
        if not actor.client:
            actor = replace(actor, client=client_software(self.request))
        return Call(actor, self.request_id or Call(actor).request_id)

    def emergency_reason(self, record_id: str | None) -> str | None:
        if self.session is None or record_id is None:
            return None
        return self.session.emergency.get(record_id)

    def context(self, **values: Any) -> dict[str, Any]:
        session = self.session
        ok = self.request.query_params.get("ok", "")
        return {
            "t": self.t,
            "lang": self.lang,
            "path": self.request.url.path,
            "full_path": self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            "signed_in": session,
            "user_name": (session.claims.get("name") or session.claims.get("sub", ""))
            if session
            else "",
            "csrf": session.csrf if session else "",
            "flash": self.t(f"flash.{ok}") if ok and self.t.has(f"flash.{ok}") else "",
            "flash_warn": ok in WARNING_FLASHES,
            **values,
        }

    def page(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        html = render(self.portal.templates, template, self.context(**values))
        return HTMLResponse(html, status_code=status)

    def problem_page(self, problem: Problem, *, back: str = "") -> HTMLResponse:
        return self.page(
            "problem.html", status=problem.status, problem=problem, back=back or self._back()
        )

    def error(self, error: DmpError, *, back: str = "") -> HTMLResponse:
        return self.problem_page(problem_of(self.t, error), back=back)

    def _back(self) -> str:
        referer = self.request.headers.get("referer", "")
        base = str(self.request.base_url)
        if referer.startswith(base):
            return "/" + referer[len(base) :].lstrip("/")
        return "/"

    def redirect(self, url: str, *, ok: str = "") -> RedirectResponse:
        if ok:
            url += ("&" if "?" in url else "?") + f"ok={quote(ok)}"
        return RedirectResponse(url, status_code=303)


async def _view(request: Request) -> View:
    existing = getattr(request.state, "portal_view", None)
    if isinstance(existing, View):
        return existing
    return View(request, portal_of(request))


PageView = Annotated[View, Depends(_view)]


async def _checked(view: PageView, csrf_token: Annotated[str, Form()] = "") -> View:
    """Every POST form carries the session's CSRF token (synchronizer token pattern)."""
    if view.session is None or not view.session.is_valid_csrf(csrf_token):
        raise CsrfRefused
    return view


FormView = Annotated[View, Depends(_checked)]


def _finish(request: Request, response: Response) -> Response:
    view = getattr(request.state, "portal_view", None)
    secure_headers(response, page=response.media_type == "text/html")
    if not isinstance(view, View):
        return response
    codec = view.portal.codec
    if view.is_signed_out:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    elif view.session is not None and (view.is_session_changed or codec.touch(view.session)):
        response.set_cookie(
            SESSION_COOKIE,
            codec.dumps(view.session),
            max_age=codec.remaining(view.session),
            path="/",
            httponly=True,
            secure=view.is_secure,
            samesite="lax",
        )
    return response


class PortalRoute(APIRoute):
    """Portal handlers answer pages, never OperationOutcomes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as needed:
                target = request.url.path
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                response = RedirectResponse(
                    f"/auth/login/{needed.side}?next={quote(target)}", status_code=303
                )
            except CsrfRefused:
                view = await _view(request)
                response = view.problem_page(
                    Problem(403, view.t("error.csrf"), "CSRF", ""), back=view._back()
                )
            except DmpError as error:
                response = (await _view(request)).error(error)
            return _finish(request, response)

        return portal_handler
