"""The portals' own settings: identity providers, the session secret, session lifetimes.

Read once by `mount_portals` from `OPENDMP_PORTAL_*` variables (docs/portals.md), never at
import time. In demo mode a side without a configured provider signs in with the built-in
demo issuer (SEC-2: it exists in demo mode only).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from opendmp.settings import Settings

SIDES = ("patient", "pro")
DEMO_CLIENT_ID = "opendmp-portal"
_MIN_SECRET = 32


class PortalConfigError(ValueError):
    """A portal setting is malformed; the message names it."""


@dataclass(frozen=True)
class OidcProvider:
    """One OpenID Connect provider the portal signs people in with (authorization code + PKCE).

    Its ID tokens are verified by the server's `TokenVerifier`: `issuer` must be listed in
    OPENDMP_TRUSTED_ISSUERS with `audience` = `client_id` (docs/authentication.md).
    """

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    discovery_url: str = ""  # default: <issuer>/.well-known/openid-configuration
    authorization_endpoint: str = ""  # given: no discovery needed
    token_endpoint: str = ""
    scope: str = "openid"

    @property
    def effective_discovery_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class PortalConfig:
    secret: bytes = field(repr=False)
    providers: Mapping[str, OidcProvider]
    demo: bool
    idle_seconds: int = 30 * 60
    max_seconds: int = 8 * 3600

    def provider(self, side: str) -> OidcProvider | None:
        return self.providers.get(side)

    def uses_demo_issuer(self, side: str) -> bool:
        return self.demo and side not in self.providers

    def can_sign_in(self, side: str) -> bool:
        return side in self.providers or self.demo


def _providers(text: str) -> dict[str, OidcProvider]:
    try:
        raw = json.loads(text)
    except ValueError:
        raise PortalConfigError("OPENDMP_PORTAL_OIDC is not JSON") from None
    if not isinstance(raw, dict):
        raise PortalConfigError("OPENDMP_PORTAL_OIDC must be an object keyed by patient / pro")
    providers: dict[str, OidcProvider] = {}
    for side, entry in raw.items():
        if side not in SIDES or not isinstance(entry, dict):
            raise PortalConfigError(f"OPENDMP_PORTAL_OIDC: unknown side {side!r}")
        known = {f for f in OidcProvider.__dataclass_fields__}
        unknown = sorted(set(entry) - known)
        if unknown or not entry.get("issuer") or not entry.get("client_id"):
            raise PortalConfigError(
                f"OPENDMP_PORTAL_OIDC.{side}: needs issuer and client_id"
                + (f"; unknown keys {unknown}" if unknown else "")
            )
        providers[side] = OidcProvider(**{k: str(v) for k, v in entry.items()})
    return providers


def _secret_file(home: Path) -> bytes:
    """The session key kept under the home (0600), created once for every worker."""
    path = home / "portal-secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(48))
    value = path.read_text(encoding="ascii").strip()
    if len(value) < _MIN_SECRET:
        raise PortalConfigError(f"{path} holds no usable secret")
    return value.encode()


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise PortalConfigError(f"{name} must be a positive number of seconds")
    return int(raw)


def portal_config(settings: Settings, environ: Mapping[str, str] | None = None) -> PortalConfig:
    """OPENDMP_PORTAL_OIDC, OPENDMP_PORTAL_SECRET, OPENDMP_PORTAL_SESSION_IDLE / _MAX."""
    env = os.environ if environ is None else environ
    given = env.get("OPENDMP_PORTAL_SECRET", "")
    if given and len(given) < _MIN_SECRET:
        raise PortalConfigError(f"OPENDMP_PORTAL_SECRET needs at least {_MIN_SECRET} characters")
    text = env.get("OPENDMP_PORTAL_OIDC", "").strip()
    return PortalConfig(
        secret=given.encode() if given else _secret_file(settings.home),
        providers=_providers(text) if text else {},
        demo=settings.demo_mode,
        idle_seconds=_seconds(env, "OPENDMP_PORTAL_SESSION_IDLE", 30 * 60),
        max_seconds=_seconds(env, "OPENDMP_PORTAL_SESSION_MAX", 8 * 3600),
    )
