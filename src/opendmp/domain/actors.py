"""Who is acting: the authenticated caller as the access decision sees it (SPEC.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opendmp.domain.errors import InvalidRequest


class ActorKind(StrEnum):
    """The kinds of caller that the token's `actor` claim names (API.md, Details §1)."""

    PROFESSIONAL = "professional"  # a PS (or a CPE-card secretary), by IDNPS
    ORGANIZATION = "organization"  # an establishment credential, by IDNST
    PERSON = "person"  # a patient, or the legal representative of a minor, by INS
    OPERATOR = "operator"  # runs the service; never reads medical content
    SYSTEM = "system"  # the service's own jobs (lapse, retention)


class AuthMode(StrEnum):
    """How a professional authenticated (VIHF authentification mode)."""

    DIRECT = "DIRECTE"
    INDIRECT = "INDIRECTE"
    INDIRECT_REINFORCED = "INDIRECTE_RENFORCEE"  # AIR: vouches for a named PS (R-PS-6)


class Card(StrEnum):
    CPS = "CPS"  # health professional card
    CPF = "CPF"  # card of a professional in training
    CPE = "CPE"  # card of a non-PS employee (secretary)


class AccessMode(StrEnum):
    """TRE_R248 access modes (SPEC.md §1); HL7 purpose-of-use codes accepted as synonyms."""

    NORMAL = "normal"
    BREAK_THE_GLASS = "bris_de_glace"
    CENTRE_15 = "centre_15"

    @classmethod
    def parse(cls, value: str | None) -> AccessMode:
        if value is None or value == "":
            return cls.NORMAL
        synonyms = {"TREAT": cls.NORMAL, "BTG": cls.BREAK_THE_GLASS, "ETREAT": cls.CENTRE_15}
        if value in synonyms:
            return synonyms[value]
        try:
            return cls(value)
        except ValueError:
            raise InvalidRequest(
                "DMP-0104",
                f"unknown access mode {value!r} (TRE_R248: normal, bris_de_glace, centre_15)",
            ) from None

    @property
    def is_emergency(self) -> bool:
        return self is not AccessMode.NORMAL


PHYSICIAN = "10"  # TRE_G15 code of a physician (médecin)


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller, built from verified token claims by the edge (API.md, Authentication)."""

    kind: ActorKind
    id: str  # IDNPS, IDNST, INS value, operator account
    name: str = ""
    profession: str | None = None  # TRE_G15
    specialty: str | None = None
    structure: str | None = None  # IDNST of the PS's structure
    auth_mode: AuthMode = AuthMode.DIRECT
    card: Card = Card.CPS
    is_occupational_physician: bool = False
    is_secret_connection: bool = False
    access_mode: AccessMode = AccessMode.NORMAL
    purpose_reason: str = ""
    ins_system: str | None = None  # for persons: the OID of `id`
    client: str = ""  # the client software, for the audit trail (AUD-1)

    @property
    def is_professional(self) -> bool:
        return self.kind is ActorKind.PROFESSIONAL

    @property
    def is_physician(self) -> bool:
        return self.profession == PHYSICIAN

    @property
    def is_person(self) -> bool:
        return self.kind is ActorKind.PERSON


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, id="opendmp", name="OpenDMP jobs")
