"""Bearer tokens: verification against trusted issuers, and the demo issuer (SPEC.md SEC-2).

The FHIR edge calls `TokenVerifier.verify` on every request (API.md, Authentication): the
signature is checked against the keys (JWKS) of the issuer named by `iss`, with an algorithm
from that issuer's allow-list (never `none`, never a MAC), then `exp`, `nbf`, `iss`, `aud`.
A failure is a `TokenError` with a stable code (docs/authentication.md). Tokens are never
logged nor echoed in messages; identifiers neither (SEC-4).

`DemoIssuer` signs tokens with a key kept in a 0600 file; it exists only in demo mode (SEC-2,
API.md Details §1). `demo_claims` / `dev_token_claims` build its claims from the flags of
`opendmp token` and from the body of `POST /auth/dev/token`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
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
from joserfc.jwk import ECKey, Key, KeySet, RSAKey
from joserfc.jws import JWSRegistry

from opendmp.domain.actors import AccessMode, ActorKind, AuthMode, Card
from opendmp.domain.errors import DmpError, ErrorKind, InvalidRequest
from opendmp.domain.identifiers import OID_INS_NIR, parse_idnps, parse_idnst, parse_ins
from opendmp.domain.terminology import professions
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


class _UtcClock:
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
        self._clock = clock or _UtcClock()
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


class DemoKeyError(Exception):
    """The demo issuer's key file is unreadable, malformed or readable by others."""


_DEMO_ALGORITHMS = ("ES256", "RS256", "PS256")


def _create_key_file(path: Path, algorithm: str) -> None:
    """Write a new private JWK at `path`, 0600, atomically; a concurrent creator wins."""
    key = (
        ECKey.generate_key("P-256", auto_kid=True)
        if algorithm == "ES256"
        else RSAKey.generate_key(2048, auto_kid=True)
    )
    content = json.dumps(key.as_dict(private=True, alg=algorithm, use="sig")).encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".demo-key-")
    try:
        os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        os.write(fd, content)
        os.fsync(fd)
        os.close(fd)
        with contextlib.suppress(FileExistsError):  # appeared meanwhile: keep that one
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _load_key_file(path: Path) -> Key:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise DemoKeyError(f"{path} must be readable by its owner only (chmod 600)")
    try:
        data = json.loads(path.read_bytes())
        key = ECKey.import_key(data) if data.get("kty") == "EC" else RSAKey.import_key(data)
    except (ValueError, AttributeError, JoseError) as error:
        raise DemoKeyError(f"{path} is not a private JWK ({type(error).__name__})") from None
    if not key.is_private or key.alg not in _DEMO_ALGORITHMS or not key.kid:
        raise DemoKeyError(f"{path} must hold a private ES256/RS256/PS256 JWK with a kid")
    return key


class DemoIssuer:
    """The demo mode's built-in issuer (API.md, Authentication; SEC-2: demo mode only).

    Its private key lives in `key_path` (a JWK, created 0600 when missing, refused when others
    may read it); `algorithm` applies only when the file is created.
    """

    def __init__(
        self,
        key_path: Path,
        issuer: str,
        audience: str,
        *,
        algorithm: str = "ES256",
        clock: Clock | None = None,
    ) -> None:
        if algorithm not in _DEMO_ALGORITHMS:
            raise ValueError(f"the demo issuer signs with one of {_DEMO_ALGORITHMS}")
        path = Path(key_path)
        if not path.exists():
            _create_key_file(path, algorithm)
        self._key = _load_key_file(path)
        self.issuer, self.audience = issuer, audience
        self._clock = clock or _UtcClock()

    @property
    def algorithm(self) -> str:
        return str(self._key.alg)

    @property
    def kid(self) -> str:
        return str(self._key.kid)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (what `/.well-known/jwks.json` serves); never the private part."""
        return {"keys": [dict(self._key.as_dict(private=False))]}

    def trusted(self) -> TrustedIssuer:
        return TrustedIssuer(
            self.issuer, self.audience, jwks=self.jwks(), algorithms=(self.algorithm,)
        )

    def issue(self, claims: Mapping[str, Any], ttl: int = 3600) -> str:
        """A signed JWT with `claims` plus iss, aud, iat, nbf, exp, jti and a `kid` header."""
        reserved = sorted({"iss", "aud", "iat", "nbf", "exp", "jti"} & set(claims))
        if reserved:
            raise ValueError(f"the issuer sets {reserved} itself")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = int(self._clock.now().timestamp())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        header = {"alg": self.algorithm, "kid": self.kid, "typ": "JWT"}
        return jwt.encode(header, payload, self._key, algorithms=[self.algorithm])


# Demo claims (API.md Details §1, §22). Errors are 400s naming the claim (or the CLI flag).
UNKNOWN_KEY_CODE, INVALID_VALUE_CODE = "DMP-0721", "DMP-0722"
DEFAULT_SCOPES = {
    ActorKind.PROFESSIONAL: "openid fhirUser user/*.cruds",
    ActorKind.ORGANIZATION: "system/*.cruds",
    ActorKind.PERSON: "openid fhirUser patient/*.cruds",
    ActorKind.OPERATOR: "system/Patient.rus system/AuditEvent.rs",
}
_FHIR_USER_TYPES = {
    ActorKind.PROFESSIONAL: ("Practitioner",),
    ActorKind.ORGANIZATION: ("Organization",),
    ActorKind.PERSON: ("Patient", "RelatedPerson"),
    ActorKind.OPERATOR: (),
}
_STRINGS: tuple[str, ...] = (
    "sub",
    "actor",
    "profession",
    "specialty",
    "structure",
    "auth_mode",
    "card",
)
_STRINGS += ("purpose_of_use", "purpose_reason", "name", "ins_system", "fhirUser", "scope")
_FLAGS = ("occupational_physician", "secret_connection")
_PS_ONLY = ("profession", "specialty", "structure", "card", *_FLAGS)
_IDENTIFIER_ERRORS = {  # domain codes (identifiers.py), told without echoing the value
    "DMP-0101": "unknown INS system (ID-2)",
    "DMP-0102": "not a valid NIR: 15 characters with a matching key (ID-1)",
    "DMP-0105": "not a valid NIR: 15 characters with a matching key (ID-1)",
    "DMP-0106": "malformed IDNPS (ID-3)",
    "DMP-0107": "malformed IDNST (ID-3)",
}
_OPERATOR = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def _invalid(key: str, message: str) -> InvalidRequest:
    return InvalidRequest(INVALID_VALUE_CODE, f"{key}: {message}", path=key)


def dev_token_claims(body: object) -> dict[str, Any]:
    """The claims of `POST /auth/dev/token` (keys = claim names), checked and completed."""
    if not isinstance(body, dict):
        raise _invalid("$", "the body must be a JSON object of claims")
    for key in body:
        if key not in _STRINGS and key not in _FLAGS:
            raise InvalidRequest(UNKNOWN_KEY_CODE, f"unknown claim {str(key)[:40]!r}", path=key)
    for key, value in body.items():
        if key in _FLAGS and not isinstance(value, bool):
            raise _invalid(key, "must be true or false")
        if key in _STRINGS and not isinstance(value, str):
            raise _invalid(key, "must be a string")
    return _build(body)


def demo_claims(
    *,
    practitioner: str | None = None,
    organization: str | None = None,
    patient: str | None = None,
    operator: str | None = None,
    profession: str | None = None,
    specialty: str | None = None,
    structure: str | None = None,
    auth_mode: str | None = None,
    card: str | None = None,
    occupational_physician: bool = False,
    secret_connection: bool = False,
    purpose: str | None = None,
    purpose_reason: str | None = None,
    name: str | None = None,
    ins_system: str = OID_INS_NIR,
    scope: str | None = None,
) -> dict[str, Any]:
    """The claims of `opendmp token` from its flags; errors name the flag (`--purpose`)."""
    who = {"practitioner": practitioner, "organization": organization}
    who |= {"patient": patient, "operator": operator}
    given = [flag for flag, value in who.items() if value is not None]
    if len(given) != 1:
        raise _invalid(
            "--practitioner", "give one of --practitioner, --organization, --patient, --operator"
        )
    kinds = {
        "practitioner": ActorKind.PROFESSIONAL,
        "organization": ActorKind.ORGANIZATION,
        "patient": ActorKind.PERSON,
        "operator": ActorKind.OPERATOR,
    }
    fields: dict[str, Any] = {"sub": who[given[0]], "actor": kinds[given[0]].value}
    flags = {
        "profession": profession,
        "specialty": specialty,
        "structure": structure,
        "auth_mode": auth_mode,
        "card": card,
        "purpose_of_use": purpose,
        "purpose_reason": purpose_reason,
        "name": name,
        "scope": scope,
    }
    fields |= {key: value for key, value in flags.items() if value is not None}
    fields |= {
        key: True
        for key, on in zip(_FLAGS, (occupational_physician, secret_connection), strict=True)
        if on
    }
    if patient is not None:
        fields["ins_system"] = ins_system
    try:
        return _build(fields)
    except InvalidRequest as error:
        names = {"sub": given[0], "purpose_of_use": "purpose"}
        flag = "--" + names.get(error.path or "", error.path or "").replace("_", "-")
        raise InvalidRequest(
            error.code, f"{flag}: {error.message.split(': ', 1)[-1]}", path=flag
        ) from None


def _kind(fields: Mapping[str, Any]) -> ActorKind:
    if "actor" in fields:
        try:
            kind = ActorKind(fields["actor"])
        except ValueError:
            kind = ActorKind.SYSTEM
        if kind is ActorKind.SYSTEM:
            raise _invalid("actor", "professional, organization, person or operator")
        return kind
    resource = str(fields.get("fhirUser", "")).split("/", 1)[0]
    for kind, types in _FHIR_USER_TYPES.items():
        if resource in types:
            return kind
    raise _invalid("actor", "required (or a fhirUser naming Practitioner, Organization, …)")


def _build(fields: Mapping[str, Any]) -> dict[str, Any]:
    kind = _kind(fields)
    sub = fields.get("sub") or ""
    if not sub:
        raise _invalid("sub", "the caller's identifier is required")
    claims: dict[str, Any] = {"sub": sub, "actor": kind.value}
    if kind is not ActorKind.PROFESSIONAL:
        for key in _PS_ONLY:
            if key in fields:
                raise _invalid(key, f"only for a professional, not for actor {kind.value}")
    if kind is not ActorKind.PERSON and "ins_system" in fields:
        raise _invalid("ins_system", "only for a person")
    try:
        if kind is ActorKind.PROFESSIONAL:
            parse_idnps(sub, path="sub")
            claims |= _professional(fields)
        elif kind is ActorKind.ORGANIZATION:
            parse_idnst(sub, path="sub")
            claims |= _organization(fields)
        elif kind is ActorKind.PERSON:
            ins = parse_ins(fields.get("ins_system") or OID_INS_NIR, sub, allow_test=True)
            claims["ins_system"] = ins.system
        elif not _OPERATOR.fullmatch(sub):
            raise _invalid("sub", "an operator account: letters, digits, . _ @ -")
    except DmpError as error:
        if isinstance(error, InvalidRequest) and error.code == INVALID_VALUE_CODE:
            raise
        key = error.path or ("ins_system" if error.code in {"DMP-0101", "DMP-0103"} else "sub")
        raise _invalid(key, _IDENTIFIER_ERRORS.get(error.code, "invalid value")) from None
    purpose = _purpose(fields)
    if kind in (ActorKind.PERSON, ActorKind.OPERATOR) and purpose["purpose_of_use"] != "normal":
        raise _invalid("purpose_of_use", f"no emergency access mode for actor {kind.value}")
    types = _FHIR_USER_TYPES[kind]
    fhir_user = fields.get("fhirUser") or (f"{types[0]}/{sub}" if types else None)
    if fhir_user is not None:
        resource, _, identifier = fhir_user.partition("/")
        if resource not in types or identifier != sub:
            raise _invalid("fhirUser", f"must be one of {types} with the id of `sub`")
        claims["fhirUser"] = fhir_user
    if kind in (ActorKind.PROFESSIONAL, ActorKind.ORGANIZATION):
        claims |= purpose
    if fields.get("name"):
        claims["name"] = fields["name"]
    claims["scope"] = fields.get("scope") or DEFAULT_SCOPES[kind]
    return claims


def _choice(fields: Mapping[str, Any], key: str, enum: type[StrEnum], default: StrEnum) -> str:
    value = fields.get(key) or default.value
    if value not in {member.value for member in enum}:
        raise _invalid(key, f"one of {', '.join(member.value for member in enum)}")
    return str(value)


def _purpose(fields: Mapping[str, Any]) -> dict[str, Any]:
    try:
        mode = AccessMode.parse(fields.get("purpose_of_use"))
    except InvalidRequest:
        raise _invalid("purpose_of_use", "normal, bris_de_glace or centre_15") from None
    reason = fields.get("purpose_reason") or ""
    return {"purpose_of_use": mode.value} | ({"purpose_reason": reason} if reason else {})


def _professional(fields: Mapping[str, Any]) -> dict[str, Any]:
    card = _choice(fields, "card", Card, Card.CPS)
    profession = fields.get("profession")
    if profession is None and card != Card.CPE:
        raise _invalid("profession", "required for a professional (TRE_G15, e.g. 10)")
    if profession is not None and profession not in professions().codes():
        raise _invalid("profession", "not a TRE_G15 profession code")
    claims: dict[str, Any] = {"profession": profession} if profession else {}
    if fields.get("specialty"):
        claims["specialty"] = fields["specialty"]
    if fields.get("structure"):
        parse_idnst(fields["structure"], path="structure")
        claims["structure"] = fields["structure"]
    claims["auth_mode"] = _choice(fields, "auth_mode", AuthMode, AuthMode.DIRECT)
    claims["card"] = card
    for flag in _FLAGS:
        claims[flag] = bool(fields.get(flag, False))
    return claims


def _organization(fields: Mapping[str, Any]) -> dict[str, Any]:
    auth_mode = _choice(fields, "auth_mode", AuthMode, AuthMode.INDIRECT)
    if auth_mode == AuthMode.DIRECT:
        raise _invalid(
            "auth_mode", "an establishment credential is INDIRECTE or INDIRECTE_RENFORCEE"
        )
    return {"auth_mode": auth_mode}
