"""Documents, submission sets and their visibility labels (SPEC.md §4, DOC-1..8)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from opendmp.domain.identifiers import DocumentId, Ins, RecordId

LABEL_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.13"  # TRE_A07 (DOC-7)
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
INVISIBLE_PATIENT_LAPSE_MONTHS = 1  # DOC-7
INVISIBLE_PATIENT_NOTICE = timedelta(weeks=2)  # DOC-7, NOT-4


class DocumentStatus(StrEnum):
    """FHIR DocumentReference.status (availabilityStatus mapping, dmp-rules §3.8)."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    ENTERED_IN_ERROR = "entered-in-error"


class Label(StrEnum):
    """TRE_A07 visibility flags, combinable (DOC-7)."""

    MASQUE_PS = "MASQUE_PS"
    INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
    INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"


class AuthorKind(StrEnum):
    PROFESSIONAL = "professional"  # IDNPS
    ORGANIZATION = "organization"  # IDNST
    PATIENT = "patient"  # INS (DOC-6)
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class Author:
    """A document or submission-set author: metadata, not a credential (API.md §10)."""

    kind: AuthorKind
    id: str = ""
    name: str = ""
    institution: str | None = None  # IDNST of authorInstitution
    role: Coding | None = None  # authorRole / specialty


@dataclass(frozen=True, slots=True)
class Submitter:
    """Who actually submitted: taken from the credential (DOC-3, DOC-5, API.md §10)."""

    kind: str  # ActorKind value
    id: str
    structure: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """One document's metadata (PDSm comprehensive DocumentEntry, DOC-1)."""

    id: DocumentId
    record_id: RecordId
    unique_id: str  # masterIdentifier
    status: DocumentStatus
    type: Coding
    category: Coding
    date: datetime
    authors: tuple[Author, ...]
    submitter: Submitter
    submitted_at: datetime
    submission_set_id: str
    content_type: str
    size: int
    sha1: str  # hex, of the plaintext (MHD attachment.hash is its base64)
    title: str = ""
    language: str = ""
    format: Coding | None = None
    facility_type: Coding | None = None
    practice_setting: Coding | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    events: tuple[Coding, ...] = ()
    custodian: str | None = None
    confidentiality: tuple[Coding, ...] = ()  # N/R/V (HL7), first is N
    labels: frozenset[Label] = field(default_factory=frozenset)
    subject: Ins | None = None
    is_archived: bool = False
    replaces: DocumentId | None = None
    replaced_by: DocumentId | None = None
    description: str = ""
    version: int = 1

    @property
    def is_patient_document(self) -> bool:
        """DOC-6: authored by the patient."""
        return (
            any(a.kind is AuthorKind.PATIENT for a in self.authors)
            or self.submitter.kind == "person"
        )

    def effective_labels(self, now: datetime) -> frozenset[Label]:
        """The labels in force at `now`: INVISIBLE_PATIENT lapses one month after submission."""
        if Label.INVISIBLE_PATIENT in self.labels and now >= invisible_patient_lapse(
            self.submitted_at
        ):
            return self.labels - {Label.INVISIBLE_PATIENT}
        return self.labels

    def is_authored_by(self, actor_id: str) -> bool:
        """API.md §10: the caller submitted it or is among its authors."""
        return self.submitter.id == actor_id or any(a.id == actor_id for a in self.authors)

    def is_of_structure(self, structure: str | None) -> bool:
        """API.md §10: the structure submitted it or is an author institution."""
        if not structure:
            return False
        return self.submitter.structure == structure or any(
            a.institution == structure or (a.kind is AuthorKind.ORGANIZATION and a.id == structure)
            for a in self.authors
        )


@dataclass(frozen=True, slots=True)
class SubmissionSet:
    """An ITI-65 SubmissionSet (List): its own uniqueId, sourceId, designationType (DOC-1)."""

    id: str
    record_id: RecordId
    unique_id: str
    source_id: str
    content_type: Coding
    date: datetime
    authors: tuple[Author, ...]
    submitter: Submitter
    submitted_at: datetime
    document_ids: tuple[DocumentId, ...]
    title: str = ""


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` later, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def invisible_patient_lapse(submitted_at: datetime) -> datetime:
    """DOC-7: INVISIBLE_PATIENT lapses automatically one month after submission."""
    return add_months(submitted_at, INVISIBLE_PATIENT_LAPSE_MONTHS)
