"""The demo issuer as an authorization server (demo mode only, SEC-2).

It stands in for a card reader or a national login: its sign-in page lists the demo people
(`opendmp.demo.people()`), and it issues authorization codes bound to the client, the
redirect URI, the PKCE challenge and the nonce, then ID and access tokens signed by the
`DemoIssuer` that the server's `TokenVerifier` already trusts in demo mode. Codes are signed,
short-lived and single-use within a process (a demo needs no shared store).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from opendmp import demo
from opendmp.adapters.demo_tokens import DemoIssuer, demo_claims
from opendmp.domain.actors import AccessMode, Actor
from opendmp.domain.identifiers import Ins
from opendmp.web.portal.oidc import SignInError, SignInFlow, authorization_query, code_challenge

CODE_SECONDS = 120
TOKEN_SECONDS = 3600
AUTHORIZE_PATH = "/auth/demo/authorize"
TOKEN_PATH = "/auth/demo/token"  # noqa: S105 (a URL path, not a secret)
DISCOVERY_PATH = "/auth/demo/.well-known/openid-configuration"
CALLBACK_PATH = "/auth/callback"


@dataclass(frozen=True)
class DemoIdentity:
    """One person of the demo, as the sign-in page lists them."""

    key: str
    side: str  # patient | pro
    name: str
    role: str  # catalog key of the one-line description
    identifier: str  # INS or IDNPS, shown on the page
    actor: Actor | None = None
    ins: Ins | None = None

    def claims(self, mode: AccessMode = AccessMode.NORMAL) -> dict[str, Any]:
        if self.ins is not None:
            return demo_claims(patient=self.ins.value, ins_system=self.ins.system, name=self.name)
        assert self.actor is not None
        a = self.actor
        return demo_claims(
            practitioner=a.id,
            profession=a.profession,
            specialty=a.specialty,
            structure=a.structure,
            name=a.name,
            purpose=mode.value if mode is AccessMode.CENTRE_15 else None,
        )


def demo_identities() -> tuple[DemoIdentity, ...]:
    p = demo.people()
    persons = [
        ("patient", p.patient, "Camille DURAND", "demo.role.patient"),
        ("parent", p.parent, "Parent de Léo DURAND", "demo.role.parent"),
    ]
    professionals = [
        ("gp", p.gp, "demo.role.gp"),
        ("nurse", p.nurse, "demo.role.nurse"),
        ("emergency", p.emergency, "demo.role.emergency"),
        ("blocked", p.blocked, "demo.role.blocked"),
    ]
    return tuple(
        DemoIdentity(key, "patient", name, role, ins.value, ins=ins)
        for key, ins, name, role in persons
    ) + tuple(
        DemoIdentity(key, "pro", actor.name, role, actor.id, actor=actor)
        for key, actor, role in professionals
    )


def identity(key: str) -> DemoIdentity | None:
    return next((i for i in demo_identities() if i.key == key), None)


class DemoAuthority:
    def __init__(
        self, issuer: DemoIssuer, secret: bytes, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.issuer = issuer
        self._codes = URLSafeSerializer(secret, salt="opendmp.portal.demo-code")
        self._clock = clock
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue_code(
        self,
        person: DemoIdentity,
        mode: AccessMode,
        *,
        client_id: str,
        redirect_uri: str,
        challenge: str,
        nonce: str,
    ) -> str:
        return self._codes.dumps(
            {
                "who": person.key,
                "mode": mode.value,
                "client": client_id,
                "redirect": redirect_uri,
                "challenge": challenge,
                "nonce": nonce,
                "at": self._clock(),
            }
        )

    def exchange(
        self, *, code: str, verifier: str, client_id: str, redirect_uri: str
    ) -> dict[str, Any]:
        """RFC 6749 §4.1.3 and RFC 7636 §4.6: the code, once, by its client, with the verifier."""
        try:
            data = self._codes.loads(code)
        except BadSignature:
            raise SignInError("grant", "unknown code") from None
        now = self._clock()
        if not isinstance(data, dict) or now - float(data.get("at", 0)) > CODE_SECONDS:
            raise SignInError("grant", "expired code")
        if data.get("client") != client_id or data.get("redirect") != redirect_uri:
            raise SignInError("grant", "code issued to another client or redirect URI")
        if not verifier or not hmac.compare_digest(
            code_challenge(verifier), str(data.get("challenge"))
        ):
            raise SignInError("grant", "PKCE verifier does not match the challenge")
        with self._lock:
            self._used = {c: t for c, t in self._used.items() if now - t <= CODE_SECONDS}
            if code in self._used:
                raise SignInError("grant", "code already used")
            self._used[code] = now
        person = identity(str(data.get("who")))
        if person is None:
            raise SignInError("grant", "unknown person")
        claims = person.claims(AccessMode(str(data.get("mode"))))
        return {
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "access_token": self.issuer.issue(claims, TOKEN_SECONDS),
            "id_token": self.issuer.issue(
                {**claims, "nonce": str(data.get("nonce"))}, TOKEN_SECONDS
            ),
            "scope": claims.get("scope", "openid"),
        }


class DemoOidcClient:
    """The portal's client of the in-process demo issuer (same checks as over HTTP)."""

    def __init__(self, authority: DemoAuthority, client_id: str) -> None:
        self.authority = authority
        self.client_id = client_id

    def authorization_url(self, flow: SignInFlow, redirect_uri: str) -> str:
        query = authorization_query(
            self.client_id, "openid fhirUser", flow, redirect_uri, login_hint=flow.side
        )
        return f"{AUTHORIZE_PATH}?{query}"

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        return self.authority.exchange(
            code=code, verifier=verifier, client_id=self.client_id, redirect_uri=redirect_uri
        )
