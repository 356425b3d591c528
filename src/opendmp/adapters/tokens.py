"""Bearer tokens: verification against trusted issuers, and the demo issuer (SPEC.md SEC-2).

The FHIR edge calls `TokenVerifier.verify` on every request (API.md, Authentication): the
signature is checked against the keys (JWKS) of the issuer named by `iss`, with an algorithm
from that issuer's allow-list (never `none`, never a MAC), then `exp`, `nbf`, `iss`, `aud`.
A failure is a `TokenError` with a stable code (docs/authentication.md). Tokens are never
logged nor echoed in messages; identifiers neither (SEC-4).

The demo issuer is in `adapters/demo_tokens.py`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExceededSizeError,
    ExpiredTokenError,
    InvalidPayloadError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, KeySet
from joserfc.jws import JWSRegistry

from opendmp.domain.errors import DmpError, ErrorKind
from opendmp.services.ports import Clock

log = logging.getLogger(__name__)


class TokenFailure(StrEnum):
    """Stable codes of a refused token (API.md §21); every one answers 401."""

    MALFORMED = "DMP-0401"  # absent, not a compact JWS, bad base64/JSON, `crit`, too large
    BAD_SIGNATURE = "DMP-0402"
    UNKNOWN_ISSUER = "DMP-0701"
    ALGORITHM_REFUSED = "DMP-0702"  # `none`, a MAC, or not in the issuer's allow-list
    UNKNOWN_KEY = "DMP-0703"  # no key of the issuer has this `kid` (or fits the algorithm)
    WRONG_AUDIENCE = "DMP-0704"
    EXPIRED = "DMP-0705"
    NOT_YET_VALID = "DMP-0706"  # `nbf` (or `iat`) in the future, beyond the leeway
    BAD_CLAIM = "DMP-0707"  # `exp`/`iss`/`aud` missing, or a registered claim ill-typed
    KEYS_UNAVAILABLE = "DMP-0708"  # the issuer's JWKS could not be fetched, none cached


class TokenError(DmpError):
    """A bearer token refused (SEC-2): 401 at the edge; the message never holds the token."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, rule="SEC-2")


# Signature algorithms a trusted issuer may use: asymmetric only, so that a public key can
# never serve as an HMAC secret (key confusion). `none` and `HS*` are refused outright.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519"}
)
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
MAX_TOKEN_LENGTH = 16_384
MAX_JWKS_BYTES = 256_000


def _is_loopback(host: str) -> bool:
    return host in {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens we accept, for one audience, with its keys (static or by URL)."""

    issuer: str
    audience: str
    jwks: dict[str, Any] | None = field(default=None, compare=False)
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError("a trusted issuer needs a non-empty issuer and audience")
        if (self.jwks is None) == (self.jwks_url is None):
            raise ValueError(f"issuer {self.issuer}: give exactly one of jwks and jwks_url")
        refused = set(self.algorithms) - ASYMMETRIC_ALGORITHMS
        if refused or not self.algorithms:
            raise ValueError(
                f"issuer {self.issuer}: algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}"
                f" (refused: {sorted(refused)})"
            )
        if self.jwks_url is not None:
            url = urlsplit(self.jwks_url)
            if url.scheme != "https" and not (
                url.scheme == "http" and _is_loopback(url.hostname or "")
            ):
                raise ValueError(f"issuer {self.issuer}: jwks_url must be https (or loopback)")


def parse_trusted_issuers(text: str) -> list[TrustedIssuer]:
    """`OPENDMP_TRUSTED_ISSUERS`: a JSON list of {issuer, audience, jwks_url | jwks, algorithms}."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"OPENDMP_TRUSTED_ISSUERS is not JSON: {error}") from None
    if not isinstance(raw, list):
        raise ValueError("OPENDMP_TRUSTED_ISSUERS must be a JSON list of objects")
    issuers = []
    known = {"issuer", "audience", "jwks", "jwks_url", "algorithms"}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or set(entry) - known:
            raise ValueError(f"OPENDMP_TRUSTED_ISSUERS[{index}]: an object with keys {known}")
        algorithms = entry.get("algorithms", ["RS256", "ES256", "PS256"])
        if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
            raise ValueError(f"OPENDMP_TRUSTED_ISSUERS[{index}].algorithms: a list of names")
        issuers.append(
            TrustedIssuer(
                issuer=str(entry.get("issuer", "")),
                audience=str(entry.get("audience", "")),
                jwks=entry.get("jwks"),
                jwks_url=entry.get("jwks_url"),
                algorithms=tuple(algorithms),
            )
        )
    return issuers


def _import_jwks(data: object) -> KeySet:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("a JWKS is a JSON object with a `keys` list")
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"unusable JWKS: {type(error).__name__}") from None


class _RemoteKeys:
    """An issuer's JWKS fetched over HTTP, cached for `ttl`; refetched at most every `pause`.

    A failed fetch keeps the stale keys (an IdP outage must not lock everyone out at once)
    and is not retried before `pause` either, so random `kid`s cannot hammer the IdP.
    """

    def __init__(self, url: str, http: httpx.Client, ttl: float, pause: float) -> None:
        self._url, self._http, self._ttl, self._pause = url, http, ttl, pause
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0  # successful fetches, for operators' metrics and tests

    def current(self, now: float) -> KeySet:
        with self._lock:
            if now - self._fetched_at >= self._ttl and now - self._attempted_at >= self._pause:
                self._fetch(now)
            if self._keys is None:
                raise TokenError(
                    TokenFailure.KEYS_UNAVAILABLE, "the issuer's keys cannot be fetched now"
                )
            return self._keys

    def refreshed(self, now: float) -> KeySet | None:
        """Keys fetched anew for an unknown `kid` (key rotation), or None if too soon."""
        with self._lock:
            if now - self._attempted_at < self._pause:
                return None
            return self._keys if self._fetch(now) else None

    def _fetch(self, now: float) -> bool:
        self._attempted_at = now
        try:
            response = self._http.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("JWKS too large")
            keys = _import_jwks(response.json())
        except (httpx.HTTPError, ValueError) as error:
            log.warning("JWKS fetch failed for %s: %s", self._url, type(error).__name__)
            return False
        self._keys, self._fetched_at = keys, now
        self.fetches += 1
        return True


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _b64json(segment: str) -> object:
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _fits(key: Key, alg: str) -> bool:
    """A key may verify `alg`: its type matches, and its `use`/`alg`, when stated, agree."""
    return (
        key.key_type == _KEY_TYPES.get(alg[:2])
        and key.get("use") in (None, "sig")
        and key.get("alg") in (None, alg)
    )


class TokenVerifier:
    """Verifies bearer tokens against the configured trusted issuers (SEC-2)."""

    def __init__(
        self,
        issuers: list[TrustedIssuer],
        *,
        leeway_seconds: int = 30,
        clock: Clock | None = None,
        http: httpx.Client | None = None,
        jwks_ttl_seconds: float = 300.0,
        jwks_refetch_pause_seconds: float = 30.0,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        if len(self._issuers) != len(issuers):
            raise ValueError("an issuer is configured twice")
        self._leeway = leeway_seconds
        self._clock = clock or UtcClock()
        needs_http = any(issuer.jwks_url for issuer in issuers)
        self._owned_http = http is None and needs_http
        if http is None and needs_http:
            http = httpx.Client(timeout=5.0, follow_redirects=False)
        self._http = http
        self._static: dict[str, KeySet] = {}
        self._remote: dict[str, _RemoteKeys] = {}
        for issuer in issuers:
            if issuer.jwks_url is not None and http is not None:
                self._remote[issuer.issuer] = _RemoteKeys(
                    issuer.jwks_url, http, jwks_ttl_seconds, jwks_refetch_pause_seconds
                )
            else:
                self._static[issuer.issuer] = _import_jwks(issuer.jwks)

    def close(self) -> None:
        """Release the HTTP client this verifier opened for JWKS fetches (not a given one)."""
        if self._owned_http and self._http is not None:
            self._http.close()

    def __enter__(self) -> TokenVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def jwks_fetches(self, issuer: str) -> int:
        """How many times the JWKS of `issuer` was fetched (cache metrics)."""
        remote = self._remote.get(issuer)
        return remote.fetches if remote else 0

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or TokenError with the reason's stable code."""
        header, unverified = self._parse(token)
        alg = header["alg"]
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise TokenError(TokenFailure.ALGORITHM_REFUSED, f"algorithm {alg!r} is refused")
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise TokenError(TokenFailure.BAD_CLAIM, "the token has no `iss` claim")
        issuer = self._issuers.get(iss)
        if issuer is None:
            raise TokenError(TokenFailure.UNKNOWN_ISSUER, f"issuer {iss[:80]!r} is not trusted")
        if alg not in issuer.algorithms:
            raise TokenError(
                TokenFailure.ALGORITHM_REFUSED, f"issuer {iss!r} does not sign with {alg}"
            )
        key = self._key(issuer, header.get("kid"), alg)
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        try:
            claims = jwt.decode(token, key, algorithms=[alg], registry=registry).claims
        except BadSignatureError:
            raise TokenError(TokenFailure.BAD_SIGNATURE, "the signature does not verify") from None
        except (DecodeError, InvalidPayloadError, ExceededSizeError):
            raise TokenError(TokenFailure.MALFORMED, "the token cannot be decoded") from None
        except JoseError as error:
            raise TokenError(
                TokenFailure.UNKNOWN_KEY, f"the key cannot verify {alg} ({error.error})"
            ) from None
        self._check_claims(issuer, claims)
        return dict(claims)

    def _parse(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(token, str) or not token:
            raise TokenError(TokenFailure.MALFORMED, "no bearer token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError(TokenFailure.MALFORMED, "the token is too large")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError(TokenFailure.MALFORMED, "the token is not a compact signed JWT")
        try:
            header, payload = _b64json(parts[0]), _b64json(parts[1])
            if not _SEGMENT.fullmatch(parts[2]):
                raise ValueError("not base64url")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise TokenError(
                TokenFailure.MALFORMED, "the token is not valid base64url JSON"
            ) from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise TokenError(TokenFailure.MALFORMED, "the token header and payload are objects")
        if not isinstance(header.get("alg"), str):
            raise TokenError(TokenFailure.MALFORMED, "the token header has no `alg`")
        if "crit" in header or "b64" in header or "enc" in header:
            raise TokenError(TokenFailure.MALFORMED, "unsupported JOSE header (crit, b64, enc)")
        return header, payload

    def _key(self, issuer: TrustedIssuer, kid: object, alg: str) -> Key:
        if kid is not None and not isinstance(kid, str):
            raise TokenError(TokenFailure.MALFORMED, "the `kid` header is not a string")
        remote = self._remote.get(issuer.issuer)
        now = self._now()
        keys = remote.current(now) if remote else self._static[issuer.issuer]
        found = _select(keys, kid, alg)
        if found is None and remote is not None:
            fresh = remote.refreshed(now)  # the issuer may have rotated its keys
            found = _select(fresh, kid, alg) if fresh is not None else None
        if found is None:
            raise TokenError(
                TokenFailure.UNKNOWN_KEY, f"issuer {issuer.issuer!r} has no {alg} key {kid!r}"
            )
        return found

    def _check_claims(self, issuer: TrustedIssuer, claims: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=self._leeway,
            iss={"essential": True, "value": issuer.issuer},
            aud={"essential": True, "value": issuer.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenError(TokenFailure.EXPIRED, "the token has expired") from None
        except MissingClaimError as error:
            if error.claim == "aud":
                raise TokenError(TokenFailure.WRONG_AUDIENCE, "the token has no `aud`") from None
            raise TokenError(TokenFailure.BAD_CLAIM, f"missing claim(s): {error.claim}") from None
        except ClaimError as error:
            if error.claim == "aud":
                raise TokenError(
                    TokenFailure.WRONG_AUDIENCE, f"the token is not for {issuer.audience!r}"
                ) from None
            value = claims.get(error.claim)
            if error.claim in {"nbf", "iat"} and isinstance(value, int | float):
                raise TokenError(
                    TokenFailure.NOT_YET_VALID, f"the token is not valid yet ({error.claim})"
                ) from None
            raise TokenError(TokenFailure.BAD_CLAIM, f"invalid claim {error.claim}") from None


def _select(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    candidates = [key for key in keys if _fits(key, alg)]
    if kid is None:  # only unambiguous: a single key fits
        return candidates[0] if len(candidates) == 1 else None
    return next((key for key in candidates if key.kid == kid), None)
