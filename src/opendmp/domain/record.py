"""The record's life: open, activate, close, reopen, retention, minors (SPEC.md §3, REC-1..6)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from opendmp.domain.errors import BusinessRuleViolation
from opendmp.domain.identifiers import Ins, RecordId


class RecordState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DESTROYED = "destroyed"


class ClosureReason(StrEnum):
    PATIENT_REQUEST = "patient-request"
    DEATH = "death"


class OpeningChannel(StrEnum):
    """How the record came to be opened (REC-1)."""

    PROFESSIONAL = "professional"  # by a PS, with the patient's consent, the PS as witness
    SELF_SERVICE = "self-service"  # by the patient online
    BULK_IMPORT = "bulk-import"  # by the operator, opt-out model; needs activation (REC-2)


RETENTION_YEARS = 10  # REC-4
EARLY_DESTRUCTION_DAYS = 90  # REC-4: "within 3 months"
DEFAULT_AGE_OF_MAJORITY = 18  # REC-6


@dataclass(frozen=True, slots=True)
class Demographics:
    """Identity traits as submitted; never recomputed (ID-3 last paragraph)."""

    family: str = ""
    given: str = ""
    birth_date: date | None = None
    sex: str = "unknown"  # FHIR administrative gender


@dataclass(frozen=True, slots=True)
class Representative:
    """A legal representative of a minor (REC-6): a person by INS and an HL7 RoleCode."""

    ins: Ins
    relationship: str  # FTH, MTH, …
    name: str = ""


@dataclass(frozen=True, slots=True)
class PatientSettings:
    """The patient's choices (SPEC.md §5.4, DOC-8, NOT-3)."""

    allow_centre_15: bool = True
    allow_break_the_glass: bool = True
    allow_masked_in_emergency: bool = False
    mask_new_documents: bool = False
    notify_new_documents: bool = False
    email: str | None = None

    def normalized(self) -> PatientSettings:
        """Masked-in-emergency is forced off when both emergency modes are refused (§5.4)."""
        if not self.allow_centre_15 and not self.allow_break_the_glass:
            return replace(self, allow_masked_in_emergency=False)
        return self


@dataclass(frozen=True, slots=True)
class Record:
    id: RecordId
    ins: Ins
    demographics: Demographics
    state: RecordState
    opened_at: datetime
    opened_by: str  # who opened it (IDNPS, INS, operator)
    channel: OpeningChannel
    is_activated: bool
    settings: PatientSettings = field(default_factory=PatientSettings)
    representatives: tuple[Representative, ...] = ()
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    destroy_after: datetime | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        return self.state is RecordState.OPEN

    def is_minor(self, today: date, age_of_majority: int = DEFAULT_AGE_OF_MAJORITY) -> bool:
        """Minor when the age in whole years is strictly below the age of majority (REC-6)."""
        born = self.demographics.birth_date
        if born is None:
            return False
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return age < age_of_majority

    def is_represented_by(self, ins_value: str) -> bool:
        return any(r.ins.value == ins_value for r in self.representatives)


def add_years(moment: datetime, years: int) -> datetime:
    """Same day and time `years` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def close(record: Record, *, reason: ClosureReason, at: datetime) -> Record:
    """REC-3: close; REC-4: schedule destruction 10 years later."""
    if record.state is not RecordState.OPEN:
        raise BusinessRuleViolation("DMP-0302", "the record is not open", rule="REC-3")
    return replace(
        record,
        state=RecordState.CLOSED,
        closed_at=at,
        closure_reason=reason,
        destroy_after=add_years(at, RETENTION_YEARS),
        version=record.version + 1,
    )


def reopen(record: Record) -> Record:
    """REC-5: reopen a closed record; everything archived at closure comes back."""
    if record.state is not RecordState.CLOSED:
        raise BusinessRuleViolation(
            "DMP-0303", "only a closed record can be reopened", rule="REC-5"
        )
    return replace(
        record,
        state=RecordState.OPEN,
        closed_at=None,
        closure_reason=None,
        destroy_after=None,
        version=record.version + 1,
    )


def activate(record: Record, *, settings: PatientSettings) -> Record:
    """REC-2: first login of the patient: choose default confidentiality and consents."""
    if record.is_activated:
        raise BusinessRuleViolation("DMP-0305", "the record is already activated", rule="REC-2")
    return replace(
        record, is_activated=True, settings=settings.normalized(), version=record.version + 1
    )


def request_early_destruction(record: Record, *, at: datetime) -> Record:
    """REC-4: the patient asks for early destruction of a closed record, done within 3 months."""
    if record.state is not RecordState.CLOSED:
        raise BusinessRuleViolation(
            "DMP-0306", "only a closed record can be destroyed early", rule="REC-4"
        )
    deadline = at + timedelta(days=EARLY_DESTRUCTION_DAYS)
    current = record.destroy_after or deadline
    return replace(record, destroy_after=min(current, deadline), version=record.version + 1)
