"""The demo issuer and the claims of demo tokens (SPEC.md SEC-2, API.md Details §1).

`DemoIssuer` signs tokens with a key kept in a 0600 file; it exists only in demo mode.
`demo_claims` / `dev_token_claims` build its claims from the flags of `opendmp token` and from
the body of `POST /auth/dev/token`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    JoseError,
)
from joserfc.jwk import ECKey, Key, RSAKey

from opendmp.adapters.tokens import TrustedIssuer, UtcClock
from opendmp.domain.actors import AccessMode, ActorKind, AuthMode, Card
from opendmp.domain.errors import DmpError, InvalidRequest
from opendmp.domain.identifiers import OID_INS_NIR, parse_idnps, parse_idnst, parse_ins
from opendmp.domain.terminology import professions
from opendmp.services.ports import Clock


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
        self._clock = clock or UtcClock()

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
