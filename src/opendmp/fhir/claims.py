"""From verified token claims to the domain `Actor` (API.md Authentication, Details §1; SPEC §1).

Pure: the signature, `iss`, `aud` and times were checked before (adapters/tokens.py, SEC-2).
Here each claim is read and checked against the domain (ID-3 identifiers, ID-1/ID-2 INS,
TRE_G15 professions, TRE_R248 access modes); a claim that cannot describe a caller makes the
token unusable: `InvalidClaims` (401) with a stable code and the claim in `path`. Messages do
not echo identifiers (SEC-4). Whether an access mode is *allowed* (a break-the-glass reason,
API.md §12) is the access policy's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.errors import DmpError, ErrorKind
from opendmp.domain.identifiers import OID_INS_NIR, parse_idnps, parse_idnst, parse_ins
from opendmp.domain.terminology import professions


class ClaimFailure(StrEnum):
    """Stable codes of unusable claims (API.md §21); every one answers 401."""

    UNKNOWN_ACTOR = "DMP-0711"  # `actor` unknown, or `fhirUser` of another kind / type
    NO_IDENTIFIER = "DMP-0712"  # no `sub` (nor `fhirUser` id) naming the caller
    BAD_IDENTIFIER = "DMP-0713"  # malformed IDNPS / IDNST / INS, unknown `ins_system`
    BAD_PROFESSION = "DMP-0714"  # a professional without a TRE_G15 `profession`
    BAD_VALUE = "DMP-0715"  # auth_mode, card, a boolean, purpose_of_use, a string claim


class InvalidClaims(DmpError):
    """Verified claims that do not describe a caller we can serve (SEC-2, SPEC.md §1)."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, code: str, message: str, *, claim: str) -> None:
        super().__init__(code, message, rule="SEC-2", path=claim)


_FHIR_USER_KINDS = {
    "Practitioner": ActorKind.PROFESSIONAL,
    "Organization": ActorKind.ORGANIZATION,
    "Patient": ActorKind.PERSON,
    "RelatedPerson": ActorKind.PERSON,  # a legal representative (SPEC.md §1)
}
_TOKEN_KINDS = frozenset(ActorKind) - {ActorKind.SYSTEM}  # SYSTEM is the service's own jobs
_IDENTIFIER_TEXT = {
    "DMP-0101": "unknown INS system (ID-2)",
    "DMP-0102": "the INS is not a valid NIR (ID-1)",
    "DMP-0103": "unknown INS system (ID-2)",
    "DMP-0105": "the INS is not a valid NIR (ID-1)",
    "DMP-0106": "malformed IDNPS (ID-3)",
    "DMP-0107": "malformed IDNST (ID-3)",
}
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def actor_from_claims(claims: Mapping[str, Any], *, client: str = "") -> Actor:
    """The caller that verified `claims` describe; `client` names the software (AUD-1)."""
    fhir_user = _fhir_user(claims)
    kind = _kind(claims, fhir_user)
    name = _text(claims, "name") or " ".join(
        part for part in (_text(claims, "given_name"), _text(claims, "family_name")) if part
    )
    client = client or _text(claims, "client_id") or _text(claims, "azp")
    mode = _access_mode(claims)
    reason = _text(claims, "purpose_reason")
    if kind in (ActorKind.PERSON, ActorKind.OPERATOR):
        if mode.is_emergency:
            raise InvalidClaims(
                ClaimFailure.BAD_VALUE,
                f"no emergency access mode for actor {kind.value}",
                claim="purpose_of_use",
            )
        subject = _subject(claims, None)
        if kind is ActorKind.OPERATOR:
            return Actor(kind, subject, name, client=client)
        system = _text(claims, "ins_system") or OID_INS_NIR
        ins = _identifier(lambda: parse_ins(system, subject, allow_test=True), "sub")
        return Actor(kind, ins.value, name, ins_system=ins.system, client=client)
    identifier = _subject(claims, fhir_user)
    common: dict[str, Any] = {"access_mode": mode, "purpose_reason": reason, "client": client}
    if kind is ActorKind.ORGANIZATION:
        _identifier(lambda: parse_idnst(identifier), "sub")
        auth_mode = _choice(claims, "auth_mode", AuthMode, AuthMode.INDIRECT)
        if auth_mode is AuthMode.DIRECT:
            raise InvalidClaims(
                ClaimFailure.BAD_VALUE,
                "an establishment credential is INDIRECTE or INDIRECTE_RENFORCEE",
                claim="auth_mode",
            )
        return Actor(kind, identifier, name, auth_mode=auth_mode, **common)
    _identifier(lambda: parse_idnps(identifier), "sub")
    return Actor(kind, identifier, name, **_professional(claims), **common)


def _professional(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The PS fields: profession (none only for a CPE card, R-PS-6), structure, flags."""
    card = _choice(claims, "card", Card, Card.CPS)
    profession = _text(claims, "profession") or None
    if profession is None and card is not Card.CPE:
        raise InvalidClaims(
            ClaimFailure.BAD_PROFESSION,
            "a professional's token needs `profession` (TRE_G15, e.g. 10)",
            claim="profession",
        )
    if profession is not None and profession not in professions().codes():
        raise InvalidClaims(
            ClaimFailure.BAD_PROFESSION, "`profession` is not a TRE_G15 code", claim="profession"
        )
    structure = _text(claims, "structure") or None
    if structure is not None:
        _identifier(lambda: parse_idnst(structure), "structure")
    return {
        "profession": profession,
        "specialty": _text(claims, "specialty") or None,
        "structure": structure,
        "auth_mode": _choice(claims, "auth_mode", AuthMode, AuthMode.DIRECT),
        "card": card,
        "is_occupational_physician": _flag(claims, "occupational_physician"),
        "is_secret_connection": _flag(claims, "secret_connection"),
    }


def _fhir_user(claims: Mapping[str, Any]) -> tuple[str, str] | None:
    """`fhirUser` as (type, id): `Practitioner/1`, or an absolute URL, `_history` dropped."""
    value = _text(claims, "fhirUser")
    if not value:
        return None
    segments = [s for s in value.split("/_history/")[0].split("/") if s]
    if len(segments) < 2:
        raise InvalidClaims(
            ClaimFailure.UNKNOWN_ACTOR, "`fhirUser` must be Type/id", claim="fhirUser"
        )
    return segments[-2], segments[-1]


def _kind(claims: Mapping[str, Any], fhir_user: tuple[str, str] | None) -> ActorKind:
    """`actor` when given, else the kind `fhirUser` implies; both must agree."""
    implied = _FHIR_USER_KINDS.get(fhir_user[0]) if fhir_user else None
    if fhir_user is not None and implied is None:
        raise InvalidClaims(
            ClaimFailure.UNKNOWN_ACTOR,
            f"`fhirUser` type {fhir_user[0][:40]!r} is not Practitioner, Organization, Patient "
            "or RelatedPerson",
            claim="fhirUser",
        )
    actor = _text(claims, "actor")
    if not actor:
        if implied is None:
            raise InvalidClaims(
                ClaimFailure.UNKNOWN_ACTOR,
                "the token names no `actor` nor `fhirUser`",
                claim="actor",
            )
        return implied
    kind = next((k for k in _TOKEN_KINDS if k.value == actor), None)
    if kind is None:
        raise InvalidClaims(
            ClaimFailure.UNKNOWN_ACTOR,
            "`actor` must be professional, organization, person or operator",
            claim="actor",
        )
    if fhir_user is not None and implied is not kind:
        raise InvalidClaims(
            ClaimFailure.UNKNOWN_ACTOR, f"`fhirUser` does not name a {kind.value}", claim="fhirUser"
        )
    return kind


def _subject(claims: Mapping[str, Any], fhir_user: tuple[str, str] | None) -> str:
    """The caller's id: the `fhirUser` id for a PS or a structure, else `sub`."""
    subject = fhir_user[1] if fhir_user else _text(claims, "sub")
    if not subject:
        raise InvalidClaims(
            ClaimFailure.NO_IDENTIFIER, "the token does not name the caller (`sub`)", claim="sub"
        )
    return subject


def _identifier(check: Callable[[], T], claim: str) -> T:
    """Run a domain identifier check (ID-1..3); its failure becomes an unusable claim."""
    try:
        return check()
    except DmpError as error:
        if error.code in {"DMP-0101", "DMP-0103"}:
            claim = "ins_system"
        text = _IDENTIFIER_TEXT.get(error.code, "malformed identifier")
        raise InvalidClaims(
            ClaimFailure.BAD_IDENTIFIER, f"`{claim}`: {text}", claim=claim
        ) from None


def _access_mode(claims: Mapping[str, Any]) -> AccessMode:
    """`purpose_of_use`: a TRE_R248 code or its HL7 synonym, bare or as a Coding (IHE IUA)."""
    value = claims.get("purpose_of_use")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("code")
    if value is not None and not isinstance(value, str):
        raise InvalidClaims(
            ClaimFailure.BAD_VALUE, "`purpose_of_use` must be a code", claim="purpose_of_use"
        )
    try:
        return AccessMode.parse(value)
    except DmpError:
        raise InvalidClaims(
            ClaimFailure.BAD_VALUE,
            "`purpose_of_use` must be normal, bris_de_glace, centre_15 (or TREAT, BTG, ETREAT)",
            claim="purpose_of_use",
        ) from None


def _choice(claims: Mapping[str, Any], claim: str, enum: type[E], default: E) -> E:
    value = _text(claims, claim)
    if not value:
        return default
    for member in enum:
        if member.value == value:
            return member
    raise InvalidClaims(
        ClaimFailure.BAD_VALUE,
        f"`{claim}` must be one of {', '.join(m.value for m in enum)}",
        claim=claim,
    )


def _flag(claims: Mapping[str, Any], claim: str) -> bool:
    value = claims.get(claim, False)
    if not isinstance(value, bool):
        raise InvalidClaims(ClaimFailure.BAD_VALUE, f"`{claim}` must be true or false", claim=claim)
    return value


def _text(claims: Mapping[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidClaims(ClaimFailure.BAD_VALUE, f"`{claim}` must be a string", claim=claim)
    return value.strip()
