"""The ports the use cases need: storage, blobs, encryption, clock (STYLE.md, cosmicpython).

Adapters implement these Protocols; repositories never commit: the use case owns the unit of
work, so a failed submission leaves nothing behind (DOC-1, SEC-5).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from opendmp.domain.audit import AuditEntry
from opendmp.domain.consents import Consent
from opendmp.domain.documents import DocumentEntry, DocumentStatus, Label, SubmissionSet
from opendmp.domain.identifiers import DocumentId, RecordId
from opendmp.domain.notifications import Notification
from opendmp.domain.policy import SearchScope
from opendmp.domain.record import Record


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SortOrder(StrEnum):
    DATE_DESC = "-date"
    DATE_ASC = "date"


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """ITI-67 search parameters (API.md, Documents), already parsed and typed."""

    statuses: frozenset[DocumentStatus] = frozenset({DocumentStatus.CURRENT})
    unique_ids: frozenset[str] = frozenset()  # masterIdentifier (`identifier`)
    type_codes: frozenset[str] = frozenset()
    category_codes: frozenset[str] = frozenset()
    date_from: datetime | None = None  # DocumentReference.date >= (inclusive)
    date_to: datetime | None = None  # DocumentReference.date < (exclusive)
    period_from: datetime | None = None  # context.period overlaps [from, to)
    period_to: datetime | None = None
    author_ids: frozenset[str] = frozenset()
    facility_codes: frozenset[str] = frozenset()
    setting_codes: frozenset[str] = frozenset()
    event_codes: frozenset[str] = frozenset()
    security_labels: frozenset[Label] = frozenset()  # documents carrying any of these
    sort: SortOrder = SortOrder.DATE_DESC
    count: int = 50
    offset: int = 0


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int = 0
    count: int = 0


@dataclass(frozen=True, slots=True)
class SearchContext:
    """Who searches, for the parts of a SearchScope that depend on the caller."""

    actor_id: str
    actor_structure: str | None
    now: datetime


class RecordRepository(Protocol):
    def add(self, record: Record) -> None: ...
    def get(self, record_id: RecordId) -> Record | None: ...
    def get_for_update(self, record_id: RecordId) -> Record | None:
        """Read and lock the row until the unit of work ends (PostgreSQL: FOR UPDATE)."""
        ...

    def get_by_ins(self, ins_value: str) -> Record | None:
        """The record for an INS value, whatever its system; destroyed records excluded."""
        ...

    def update(self, record: Record, *, expected_version: int) -> None:
        """Write `record`; raise Conflict (DMP-0409) if the stored version is not expected."""
        ...

    def find_by_demographics(
        self, *, family: str, given: str | None, birth_date: str | None, limit: int
    ) -> list[Record]:
        """Centre-15 search without INS (R-EM-2): case-insensitive family name, optional rest."""
        ...

    def represented_by(self, ins_value: str) -> list[Record]:
        """Records naming this INS as a legal representative (REC-6)."""
        ...

    def due_for_destruction(self, now: datetime, limit: int) -> list[Record]:
        """Closed records whose destroy_after has passed (REC-4)."""
        ...

    def purge(self, record_id: RecordId) -> None:
        """Delete every row of the record (documents, sets, consents, outbox, key) but audit."""
        ...

    def count_by_state(self) -> dict[str, int]: ...


class DocumentRepository(Protocol):
    def add(self, document: DocumentEntry) -> None:
        """Raise Conflict (DMP-0410) when the record already holds this uniqueId."""
        ...

    def get(self, record_id: RecordId, document_id: DocumentId) -> DocumentEntry | None: ...
    def find(self, document_id: DocumentId) -> DocumentEntry | None:
        """By id alone, for `GET /DocumentReference/<id>` (uses the id index)."""
        ...

    def get_for_update(self, record_id: RecordId, document_id: DocumentId) -> DocumentEntry | None:
        """Read and lock (PostgreSQL: FOR UPDATE) so two replacements cannot both win."""
        ...

    def get_by_unique_id(self, record_id: RecordId, unique_id: str) -> DocumentEntry | None: ...
    def update(self, document: DocumentEntry, *, expected_version: int) -> None:
        """Write `document`; raise Conflict (DMP-0409) if the stored version is not expected."""
        ...

    def search(
        self, record_id: RecordId, query: DocumentQuery, scope: SearchScope, context: SearchContext
    ) -> Page[DocumentEntry]:
        """ITI-67 narrowed before the query by `scope` (the labels as of `context.now`)."""
        ...

    def list_all(self, record_id: RecordId) -> list[DocumentEntry]: ...
    def invisible_patient_between(
        self, *, submitted_after: datetime, submitted_before: datetime, limit: int
    ) -> list[DocumentEntry]:
        """Documents still labelled INVISIBLE_PATIENT submitted in a window (DOC-7 jobs)."""
        ...

    def count_by_month_and_type(self) -> list[tuple[str, str, int]]:
        """(YYYY-MM of submission, typeCode, count) over every record: no personal data."""
        ...

    def add_submission_set(self, submission_set: SubmissionSet) -> None: ...
    def list_submission_sets(self, record_id: RecordId) -> list[SubmissionSet]: ...


class ConsentRepository(Protocol):
    def add(self, consent: Consent) -> None: ...
    def get(self, consent_id: str) -> Consent | None: ...
    def update(self, consent: Consent) -> None: ...
    def for_record(self, record_id: RecordId, *, active_only: bool = True) -> list[Consent]: ...
    def for_professional(self, record_id: RecordId, professional_id: str) -> list[Consent]:
        """Active consents naming this professional on this record."""
        ...


@dataclass(frozen=True, slots=True)
class AuditQuery:
    actor_id: str | None = None  # R-PS-7: only this actor's entries
    date_from: datetime | None = None
    date_to: datetime | None = None
    newest_first: bool = True
    count: int = 50
    offset: int = 0


class AuditRepository(Protocol):
    def append(self, entry: AuditEntry) -> AuditEntry:
        """Chain `entry` after the last one of its record's chain (sequence, previous_hash,
        hash) and insert it; the chain head is locked until the unit of work ends (AUD-2)."""
        ...

    def search(self, record_id: RecordId, query: AuditQuery) -> Page[AuditEntry]: ...
    def chains(self) -> Iterator[str]:
        """The chain keys (record ids, and "" for entries without a record)."""
        ...

    def chain(self, chain_key: str) -> Iterator[AuditEntry]:
        """One chain in sequence order, with the head's recorded length and hash checked."""
        ...

    def head(self, chain_key: str) -> tuple[int, str] | None:
        """(last sequence, last hash) as recorded in the chain head."""
        ...

    def replace_chain_with_tombstone(self, chain_key: str, tombstone: AuditEntry) -> None:
        """REC-4: after destruction only a pseudonymous tombstone remains."""
        ...

    def has_access_by(self, record_id: RecordId, actor_id: str) -> bool:
        """Whether this actor already accessed the record successfully (NOT-1)."""
        ...


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    notification: Notification
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None = None
    last_error: str = ""


class OutboxRepository(Protocol):
    def add(self, notification: Notification, *, at: datetime) -> None: ...
    def claim_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Pending messages due now, locked (PostgreSQL: FOR UPDATE SKIP LOCKED)."""
        ...

    def mark_sent(self, notification_id: str, at: datetime) -> None: ...
    def mark_attempt_failed(
        self, notification_id: str, *, error: str, next_attempt_at: datetime, give_up: bool
    ) -> None: ...
    def for_record(self, record_id: RecordId) -> list[OutboxMessage]: ...


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A record's data key, encrypted by a master key (SEC-1 envelope encryption)."""

    master_key_id: str
    wrapped: bytes


class KeyRepository(Protocol):
    def put(self, record_id: RecordId, key: WrappedKey) -> None:
        """Insert or replace the record's wrapped data key."""
        ...

    def get(self, record_id: RecordId) -> WrappedKey | None: ...
    def destroy(self, record_id: RecordId) -> None:
        """Crypto-shredding (REC-4): without this key the record's blobs are unreadable."""
        ...

    def wrapped_by_other_than(self, master_key_id: str, limit: int) -> list[RecordId]:
        """Records whose key is wrapped by an older master key (rotation)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; nothing is written until `commit()` (STYLE.md)."""

    records: RecordRepository
    documents: DocumentRepository
    consents: ConsentRepository
    audit: AuditRepository
    outbox: OutboxRepository
    keys: KeyRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class BlobStore(Protocol):
    """Where encrypted document bytes live; it never sees plaintext (SEC-1)."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes:
        """Raise KeyError when absent."""
        ...

    def delete(self, key: str) -> None:
        """Idempotent."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...


class Vault(Protocol):
    """Envelope encryption: per-record data keys wrapped by a master key (SEC-1)."""

    def new_data_key(self) -> WrappedKey: ...
    def encrypt(self, key: WrappedKey, plaintext: bytes, *, context: str) -> bytes:
        """AES-256-GCM; `context` (e.g. "record/document") is bound as associated data."""
        ...

    def decrypt(self, key: WrappedKey, ciphertext: bytes, *, context: str) -> bytes: ...
    def rewrap(self, key: WrappedKey) -> WrappedKey:
        """The same data key wrapped by the current master key (rotation)."""
        ...

    @property
    def current_master_key_id(self) -> str: ...


class MailSender(Protocol):
    def send(self, *, to: str, subject: str, body: str, message_id: str) -> None:
        """Deliver one message or raise."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """SEC-3 (configurable)."""

    max_document_bytes: int = 20 * 1024 * 1024
    max_bundle_entries: int = 100
    max_request_bytes: int = 64 * 1024 * 1024
    max_count: int = 200
    age_of_majority: int = 18


@dataclass(frozen=True, slots=True)
class Deployment:
    """Deployment choices the use cases need (SPEC.md §10, ID-2)."""

    profile: str = "dmp"  # "dmp" | "mhd"
    allow_test_ins: bool = False  # accept .10 and .11 INS systems (demo/test, ID-2)
    limits: Limits = field(default_factory=Limits)
    service_organization: str = "OpenDMP"
