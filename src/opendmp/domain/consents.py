"""The patient's relationships with professionals: authorized, blocked, administrators (§5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from opendmp.domain.identifiers import RecordId


class Provision(StrEnum):
    PERMIT = "permit"  # authorized (R-PS-2)
    DENY = "deny"  # blocked (R-PS-1)


class ConsentRole(StrEnum):
    PARTICIPANT = "PRCP"  # HL7 v3 ParticipationType: a plain authorization
    ADMINISTRATOR = "administrator"  # R-PS-3


@dataclass(frozen=True, slots=True)
class Consent:
    """One relationship between the record and a professional (API.md, Consent)."""

    id: str
    record_id: RecordId
    professional_id: str  # IDNPS
    provision: Provision
    role: ConsentRole
    performer_kind: str  # ActorKind value of who recorded it
    performer_id: str
    recorded_at: datetime
    is_active: bool = True
    professional_name: str = ""
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """What the decision needs to know of one professional's standing on one record."""

    is_authorized: bool = False
    is_blocked: bool = False
    is_administrator: bool = False

    @classmethod
    def from_consents(cls, consents: list[Consent], professional_id: str) -> Relation:
        mine = [c for c in consents if c.professional_id == professional_id and c.is_active]
        blocked = any(c.provision is Provision.DENY for c in mine)
        permits = [c for c in mine if c.provision is Provision.PERMIT]
        return cls(
            is_authorized=bool(permits),
            is_blocked=blocked,
            is_administrator=any(c.role is ConsentRole.ADMINISTRATOR for c in permits),
        )
