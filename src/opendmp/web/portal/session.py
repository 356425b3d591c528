"""The portal session: a signed cookie holding the verified claims, a CSRF token and times.

The claims were verified by `TokenVerifier` at sign-in (SEC-2); the cookie is signed with the
portal secret (itsdangerous, HMAC-SHA1 over a SHA-512-derived key), HttpOnly, SameSite=Lax,
Secure over https. A session ends after `idle_seconds` without a request or `max_seconds`
after sign-in, whichever comes first. An emergency (break-the-glass) access is declared per
record and kept in the session with its reason (R-EM-1), so that each request on that record
carries it to the services.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

SESSION_COOKIE = "opendmp_session"
FLOW_COOKIE = "opendmp_signin"
LANG_COOKIE = "opendmp_lang"
FLOW_SECONDS = 10 * 60
_TOUCH_EVERY = 30  # seconds between two rewrites of the cookie for the idle timeout


@dataclass
class PortalSession:
    """What the portal remembers of a signed-in person between requests."""

    side: str  # patient | pro
    claims: dict[str, Any]
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: float = 0.0
    seen: float = 0.0
    emergency: dict[str, str] = field(default_factory=dict)  # record id → stated reason

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "side": self.side,
            "claims": self.claims,
            "csrf": self.csrf,
            "issued": self.issued,
            "seen": self.seen,
            "emergency": self.emergency,
        }

    @classmethod
    def from_json(cls, data: object) -> PortalSession | None:
        if not isinstance(data, dict) or data.get("v") != 1:
            return None
        try:
            return cls(
                side=str(data["side"]),
                claims=dict(data["claims"]),
                csrf=str(data["csrf"]),
                issued=float(data["issued"]),
                seen=float(data["seen"]),
                emergency={str(k): str(v) for k, v in dict(data.get("emergency", {})).items()},
            )
        except (KeyError, TypeError, ValueError):
            return None

    def is_valid_csrf(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token)


class SessionCodec:
    """Signs and reads the session and sign-in cookies; enforces the two session lifetimes."""

    def __init__(
        self,
        secret: bytes,
        *,
        idle_seconds: int,
        max_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = URLSafeSerializer(secret, salt="opendmp.portal.session")
        self._flow = URLSafeSerializer(secret, salt="opendmp.portal.signin")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock

    def start(self, side: str, claims: dict[str, Any]) -> PortalSession:
        now = self.clock()
        return PortalSession(side=side, claims=claims, issued=now, seen=now)

    def dumps(self, session: PortalSession) -> str:
        return self._session.dumps(session.to_json())

    def loads(self, cookie: str | None) -> PortalSession | None:
        """The session if the cookie is ours, untampered and neither idle nor too old."""
        if not cookie:
            return None
        try:
            session = PortalSession.from_json(self._session.loads(cookie))
        except BadSignature:
            return None
        if session is None:
            return None
        now = self.clock()
        if now - session.seen > self.idle_seconds or now - session.issued > self.max_seconds:
            return None
        return session

    def touch(self, session: PortalSession) -> bool:
        """Record activity; True when the cookie should be rewritten (idle timeout)."""
        now = self.clock()
        if now - session.seen < _TOUCH_EVERY:
            return False
        session.seen = now
        return True

    def remaining(self, session: PortalSession) -> int:
        """Seconds until the session ends if nothing happens (the cookie's Max-Age)."""
        now = self.clock()
        left = min(session.seen + self.idle_seconds, session.issued + self.max_seconds) - now
        return max(0, int(left))

    def dumps_flow(self, flow: dict[str, str]) -> str:
        return self._flow.dumps({**flow, "at": self.clock()})

    def loads_flow(self, cookie: str | None) -> dict[str, str] | None:
        """The pending sign-in (state, nonce, PKCE verifier…) if recent and untampered."""
        if not cookie:
            return None
        try:
            data = self._flow.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(data, dict) or self.clock() - float(data.get("at", 0)) > FLOW_SECONDS:
            return None
        return {str(k): str(v) for k, v in data.items() if k != "at"}
