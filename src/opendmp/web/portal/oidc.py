"""The portal as an OpenID Connect client: authorization code flow with PKCE (RFC 7636).

`begin` makes the state, nonce and code verifier kept in the signed sign-in cookie and the
URL to send the browser to; `finish` exchanges the code (with the verifier) and verifies the
ID token with the server's own `TokenVerifier` (SEC-2: signature, issuer, audience, times),
then checks the nonce. A configured provider is reached over HTTPS (discovery, token
endpoint); the demo issuer (demo mode only) is called in-process through the same
`DemoAuthority` that serves its HTTP endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from opendmp.adapters.tokens import TokenVerifier
from opendmp.web.portal.config import OidcProvider

_TIMEOUT = 5.0
_MAX_RESPONSE = 256 * 1024


class SignInError(Exception):
    """The sign-in could not complete; `reason` is a catalog key suffix shown to the person."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def code_challenge(verifier: str) -> str:
    """S256: base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SignInFlow:
    """One pending sign-in, kept in the signed sign-in cookie until the callback."""

    side: str
    state: str
    nonce: str
    verifier: str
    next: str

    def as_dict(self) -> dict[str, str]:
        return {
            "side": self.side,
            "state": self.state,
            "nonce": self.nonce,
            "verifier": self.verifier,
            "next": self.next,
        }

    @classmethod
    def new(cls, side: str, next_url: str) -> SignInFlow:
        return cls(
            side=side,
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=next_url,
        )


class OidcClient(Protocol):
    def authorization_url(self, flow: SignInFlow, redirect_uri: str) -> str: ...
    def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token response (`id_token`, `access_token`…), or SignInError."""
        ...


def authorization_query(
    client_id: str, scope: str, flow: SignInFlow, redirect_uri: str, **extra: str
) -> str:
    return urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": code_challenge(flow.verifier),
            "code_challenge_method": "S256",
            **extra,
        }
    )


class HttpOidcClient:
    """A configured provider (FranceConnect-like, Pro Santé Connect-like) over HTTP."""

    def __init__(self, provider: OidcProvider, http: httpx.Client | None = None) -> None:
        self.provider = provider
        self._http = http  # None: one short-lived client per request (sign-ins are rare)
        self._endpoints: tuple[str, str] | None = None

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        if self._http is not None:
            return self._json(self._http.request(method, url, **kwargs))
        with httpx.Client(timeout=_TIMEOUT, follow_redirects=False) as http:
            return self._json(http.request(method, url, **kwargs))

    def _discover(self) -> tuple[str, str]:
        p = self.provider
        if p.authorization_endpoint and p.token_endpoint:
            return p.authorization_endpoint, p.token_endpoint
        if self._endpoints is None:
            document = self._request("GET", p.effective_discovery_url)
            authorize = p.authorization_endpoint or str(document.get("authorization_endpoint", ""))
            token = p.token_endpoint or str(document.get("token_endpoint", ""))
            if not authorize or not token:
                raise SignInError("provider", "the discovery document names no endpoints")
            self._endpoints = (authorize, token)
        return self._endpoints

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200 or len(response.content) > _MAX_RESPONSE:
            raise SignInError("provider", f"provider answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise SignInError("provider", "provider answered no JSON") from None
        if not isinstance(data, dict):
            raise SignInError("provider", "provider answered no JSON object")
        return data

    def authorization_url(self, flow: SignInFlow, redirect_uri: str) -> str:
        try:
            authorize, _ = self._discover()
        except httpx.HTTPError:
            raise SignInError("provider", "discovery failed") from None
        p = self.provider
        separator = "&" if "?" in authorize else "?"
        return authorize + separator + authorization_query(p.client_id, p.scope, flow, redirect_uri)

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        p = self.provider
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": p.client_id,
            "code_verifier": verifier,
        }
        if p.client_secret:
            form["client_secret"] = p.client_secret
        try:
            _, token = self._discover()
            return self._request("POST", token, data=form)
        except httpx.HTTPError:
            raise SignInError("provider", "token request failed") from None


def verified_claims(
    verifier: TokenVerifier, tokens: dict[str, Any], flow: SignInFlow
) -> dict[str, Any]:
    """SEC-2 on the ID token, then the nonce of this flow (OIDC Core §3.1.3.7)."""
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SignInError("token", "no id_token in the token response")
    claims = verifier.verify(id_token)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, flow.nonce):
        raise SignInError("token", "the ID token's nonce is not this sign-in's")
    return {k: v for k, v in claims.items() if k not in _TOKEN_ONLY}


# Registered claims that make sense only inside the token, not in the session.
_TOKEN_ONLY = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti", "nonce", "at_hash", "c_hash"})
