"""Pages: the Jinja2 environment (autoescaped, strict) and the response headers of every page.

Templates show what the services return and hold no rule (STYLE.md). The Content-Security-
Policy allows no inline script or style: every script and style sheet is a file of
`static/`, served from this origin (no CDN, no external font).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import Response

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
STATIC_PATH = "/static/portal"

PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}


def _query(base: str, **params: object) -> str:
    kept = {k: str(v) for k, v in params.items() if v not in (None, "", False)}
    return f"{base}?{urlencode(kept)}" if kept else base


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opendmp.web.portal", "templates"),
        autoescape=select_autoescape(["html", "xml"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = lambda name: f"{STATIC_PATH}/{quote(name)}"
    env.globals["query"] = _query
    return env


def secure_headers(response: Response, *, page: bool = True) -> None:
    for name, value in PAGE_HEADERS.items():
        if page or name != "Content-Security-Policy":
            response.headers.setdefault(name, value)


def render(env: Environment, name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(**context)
