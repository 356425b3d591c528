"""The access decision: one pure decision table, default deny (SPEC.md §5, dmp-rules §3.1).

`decide(facts)` never raises and never reads storage: the first rule that applies wins, no rule
means deny. Each decision carries its rule id (for the audit row and the error), a reason and
obligations. `narrow(facts)` turns the same rules into a search filter that provably agrees
with `decide` (tests/unit/test_policy_narrowing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from opendmp.domain.actors import Actor
from opendmp.domain.consents import Relation
from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.record import PatientSettings, RecordState


class Action(StrEnum):
    """Everything one may attempt on a record; values follow `record:<object>:<verb>`."""

    # record level (TD0.x, TD1.x)
    RECORD_OPEN = "record:open"
    RECORD_STATE_READ = "record:state:read"  # TD0.2 existence test, TD1.3a, PDQm
    RECORD_SEARCH_DEMOGRAPHIC = "record:search-demographic"  # TD0.5 (centre 15 only)
    RECORD_ACTIVATE = "record:activate"  # REC-2
    RECORD_CLOSE = "record:close"  # REC-3
    RECORD_REOPEN = "record:reopen"  # REC-5
    RECORD_EXPORT = "record:export"  # R-PAT-2
    RECORD_DESTROY = "record:destroy"  # REC-4 early destruction request
    SETTINGS_READ = "record:settings:read"
    SETTINGS_WRITE = "record:settings:write"  # §5.4
    # relationships (TD0.3, TD1.6, R-PAT-2, R-PS-3)
    CONSENT_SELF_AUTHORIZE = "record:consent:self-authorize"
    CONSENT_SELF_REVOKE = "record:consent:self-revoke"
    CONSENT_LIST = "record:consent:list"
    CONSENT_AUTHORIZE = "record:consent:authorize"  # the patient (or admin) authorizes a PS
    CONSENT_REVOKE = "record:consent:revoke"  # the patient removes an authorization
    CONSENT_BLOCK = "record:consent:block"
    CONSENT_UNBLOCK = "record:consent:unblock"
    CONSENT_ADMINISTRATOR = "record:consent:administrator"  # name or remove an administrator
    # documents (TD2.x, TD3.x)
    DOCUMENT_SUBMIT = "record:document:submit"
    DOCUMENT_SEARCH = "record:document:search"  # per document: may it appear in results?
    DOCUMENT_LOOKUP = "record:document:lookup"  # find a reference by identifier (footnote 5)
    DOCUMENT_READ = "record:document:read"
    DOCUMENT_REPLACE = "record:document:replace"  # DOC-3
    DOCUMENT_MASK = "record:document:mask"  # TD3.3a set MASQUE_PS
    DOCUMENT_UNMASK = "record:document:unmask"  # TD3.3a remove MASQUE_PS
    DOCUMENT_SHOW_TO_PATIENT = "record:document:show-to-patient"  # TD3.3b remove INVISIBLE_PATIENT
    DOCUMENT_HIDE_FROM_REPRESENTATIVES = "record:document:hide-from-representatives"
    DOCUMENT_SHOW_TO_REPRESENTATIVES = "record:document:show-to-representatives"
    DOCUMENT_ARCHIVE = "record:document:archive"  # TD3.3d archive and unarchive
    DOCUMENT_DELETE = "record:document:delete"  # TD3.3c
    # traces
    AUDIT_READ = "record:audit:read"  # AUD-3, R-PS-7


class Refusal(StrEnum):
    """How a denial shows to the caller (API.md §6, §20)."""

    FORBIDDEN = "forbidden"  # 403: refused at record level, existence not secret
    NOT_FOUND = "not-found"  # 404: hide existence
    BUSINESS_RULE = "business-rule"  # 422: e.g. the record is closed


class Obligation(StrEnum):
    """What the service must do besides acting (the audit row is always written, AUD-1)."""

    NOTIFY_EMERGENCY = "notify-emergency"  # R-EM-3, NOT-2
    ONLY_OWN_TRACES = "only-own-traces"  # R-PS-7


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the decision knows of the record."""

    state: RecordState
    is_activated: bool
    settings: PatientSettings
    is_minor: bool


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What the decision knows of one document, relative to the caller (API.md §10)."""

    labels: frozenset[Label]  # effective labels (INVISIBLE_PATIENT lapse applied)
    status: DocumentStatus
    is_archived: bool
    type_code: str
    is_own: bool  # the caller submitted it or is among its authors
    is_of_own_structure: bool  # the caller's structure submitted it or is author institution
    is_patient_document: bool  # DOC-6


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything `decide` looks at; gathered by the service, never by the policy."""

    actor: Actor
    action: Action
    record: RecordFacts | None = None  # None: no record for this INS
    is_holder: bool = False  # the caller is the patient
    is_representative: bool = False  # the caller is named legal representative (REC-6)
    relation: Relation = field(default_factory=Relation)
    document: DocumentFacts | None = None
    denied_types: frozenset[str] = frozenset()  # R-PS-5 for the caller's profession


@dataclass(frozen=True, slots=True)
class Decision:
    is_permitted: bool
    rule: str  # the SPEC.md rule id that decided (R-PS-1, …), "DEFAULT-DENY" when none did
    reason: str
    code: str = ""  # stable DMP code of the refusal (API.md §21)
    refusal: Refusal | None = None
    obligations: frozenset[Obligation] = frozenset()


DEFAULT_DENY = Decision(
    is_permitted=False,
    rule="DEFAULT-DENY",
    reason="no rule permits this action",
    code="DMP-0403",
    refusal=Refusal.FORBIDDEN,
)


def decide(facts: Facts) -> Decision:
    """Decide one attempted action; the first matching rule wins, no match denies."""
    return DEFAULT_DENY


@dataclass(frozen=True, slots=True)
class SearchScope:
    """A search filter equivalent to `decide(DOCUMENT_SEARCH)` on each document.

    The repository turns it into SQL (search narrowing before the query); the service checks
    every returned row with `decide` again (HAPI's SearchNarrowing + consent check).
    """

    hidden_labels: frozenset[Label] = frozenset()  # any of these labels excludes …
    hidden_labels_unless_own: frozenset[Label] = frozenset()  # … unless own or own structure
    denied_types: frozenset[str] = frozenset()
    hidden_statuses: frozenset[DocumentStatus] = frozenset()
    only_own_structure: bool = False

    def admits(self, document: DocumentFacts) -> bool:
        if document.labels & self.hidden_labels:
            return False
        is_own = document.is_own or document.is_of_own_structure
        if document.labels & self.hidden_labels_unless_own and not is_own:
            return False
        if document.type_code in self.denied_types:
            return False
        if document.status in self.hidden_statuses:
            return False
        return not (self.only_own_structure and not document.is_of_own_structure)


def narrow(facts: Facts) -> SearchScope | None:
    """The search filter for `facts` (without a document); None when nothing may be seen."""
    return None
