"""The access decision: one pure decision table, default deny (SPEC.md §5, dmp-rules §3.1).

`decide(facts)` never raises and never reads storage: the first rule of `RULES` that applies
wins, no rule means deny. Each decision carries its rule id (for the audit row and the error),
a reason, a stable code and obligations. `narrow(facts)` turns the same rules into a search
filter that provably agrees with `decide` (tests/unit/test_policy_properties.py). The table in
prose, the refusal codes and every choice made where the sources are silent:
docs/access-policy.md.

The module is longer than our usual 500 lines on purpose: the matrix, the predicates and the
table are read together, top to bottom, and split apart they would hide the order of rules.

A decision without a document (`facts.document is None`) on a document action is the
record-level check (API.md §20): permitted means "admitted; each document is decided next".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.consents import Relation
from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.record import ClosureReason, PatientSettings, RecordState

# Refusal codes (API.md §21); docs/access-policy.md explains each one.
CODE_DEFAULT = "DMP-0403"  # 403 no rule permits the action
CODE_NOT_FOUND = "DMP-0404"  # 404 no such record or document for this caller (hides existence)
CODE_BLOCKED = "DMP-0412"  # 403 R-PS-1 the professional is blocked by the patient
CODE_NOT_AUTHORIZED = "DMP-0413"  # 403 R-PS-2 no authorization on this record
CODE_BTG_REFUSED = "DMP-0414"  # 403 R-EM-1 the patient refused break-the-glass
CODE_CENTRE_15_REFUSED = "DMP-0415"  # 403 R-EM-2 the patient refused centre 15
CODE_BTG_NO_REASON = "DMP-0416"  # 403 API §12 break-the-glass without a stated reason
CODE_MODE_NOT_AVAILABLE = "DMP-0417"  # 403 R-EM-1/2 emergency mode not open to this credential
CODE_RESTRICTED = "DMP-0418"  # 403 R-PS-6 restricted credential
CODE_OPERATOR = "DMP-0420"  # 403 API §28 operators never reach medical content
CODE_NOT_IN_MATRIX = "DMP-0421"  # 403 the rights matrix refuses this column the action
CODE_CLOSE_REASON = "DMP-0422"  # 403 REC-3 a professional closes a record only on death
CODE_NOT_AUTHOR = "DMP-0423"  # 403 DOC-3/DOC-5 only the author (or who the rule names) may
CODE_DEATH_CLOSURE = "DMP-0425"  # 403 REC-3 a person does not close for death
CODE_EMERGENCY_PERSON = "DMP-0426"  # 403 R-EM emergency modes are for professionals only
CODE_RECORD_CLOSED = "DMP-0430"  # 422 REC-3 the record is closed
CODE_NO_OPEN_RECORD = "DMP-0432"  # 422 API §26 no open record for this INS


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
    closure_reason: ClosureReason | None = None  # RECORD_CLOSE: the reason asked (API §5, §23)


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
    code=CODE_DEFAULT,
    refusal=Refusal.FORBIDDEN,
)


# --- Who is calling: the matrix columns (dmp-rules §3.1) -----------------------------------


class Profile(StrEnum):
    """The actor half of a rights-matrix column; the access mode is the other half."""

    NON_PHYSICIAN = "non-physician"  # columns 1-3
    PHYSICIAN = "physician"  # columns 4-6
    OCCUPATIONAL_PHYSICIAN = "occupational-physician"  # column 7
    ADMINISTRATOR = "administrator"  # columns 8-9: the MT and those the patient names (R-PS-3)
    CPE = "cpe"  # column 10: a CPE card (secretary)
    ESTABLISHMENT = "establishment"  # columns 11-12: an establishment credential (INDIRECTE)


COLUMNS: dict[tuple[Profile, AccessMode], int] = {
    (Profile.NON_PHYSICIAN, AccessMode.NORMAL): 1,
    (Profile.NON_PHYSICIAN, AccessMode.CENTRE_15): 2,
    (Profile.NON_PHYSICIAN, AccessMode.BREAK_THE_GLASS): 3,
    (Profile.PHYSICIAN, AccessMode.NORMAL): 4,
    (Profile.PHYSICIAN, AccessMode.CENTRE_15): 5,
    (Profile.PHYSICIAN, AccessMode.BREAK_THE_GLASS): 6,
    (Profile.OCCUPATIONAL_PHYSICIAN, AccessMode.NORMAL): 7,
    (Profile.ADMINISTRATOR, AccessMode.NORMAL): 8,
    (Profile.ADMINISTRATOR, AccessMode.BREAK_THE_GLASS): 9,
    (Profile.CPE, AccessMode.NORMAL): 10,
    (Profile.ESTABLISHMENT, AccessMode.NORMAL): 11,
    (Profile.ESTABLISHMENT, AccessMode.CENTRE_15): 12,
}
CONSULTING = frozenset(Profile) - {Profile.CPE, Profile.ESTABLISHMENT}  # columns 1-9
RESTRICTED = frozenset({Profile.CPE, Profile.ESTABLISHMENT})


def profile(facts: Facts) -> Profile | None:
    """The caller's matrix profile; None for persons, operators and the system.

    AIR (`INDIRECTE_RENFORCEE`) reads like the PS it vouches for (R-PS-6); an administrator in
    centre-15 mode has no column of its own and acts as its profession does there.
    """
    actor = facts.actor
    if actor.kind is ActorKind.ORGANIZATION or (
        actor.kind is ActorKind.PROFESSIONAL and actor.auth_mode is AuthMode.INDIRECT
    ):
        return Profile.ESTABLISHMENT
    if actor.kind is not ActorKind.PROFESSIONAL:
        return None
    if actor.card is Card.CPE:
        return Profile.CPE
    if actor.is_occupational_physician:
        return Profile.OCCUPATIONAL_PHYSICIAN
    if facts.relation.is_administrator and actor.access_mode is not AccessMode.CENTRE_15:
        return Profile.ADMINISTRATOR
    return Profile.PHYSICIAN if actor.is_physician else Profile.NON_PHYSICIAN


def matrix_column(facts: Facts) -> int | None:
    """The column (1-12) of dmp-rules §3.1; None when the credential has none in this mode."""
    kind = profile(facts)
    return None if kind is None else COLUMNS.get((kind, facts.actor.access_mode))


# --- The published rights matrix as data (dmp-rules §3.1, API.md §11) -----------------------


class Cell(StrEnum):
    YES = "Y"
    NO = "N"
    RESTRICTED = "R"  # no: a restricted credential (R-PS-6), refused with its own code
    OWN = "O"  # footnotes (6)/(8): own documents only (the caller's IDNPS, API §10)
    STRUCTURE = "S"  # footnotes (5)/(9): the structure's documents only
    OWN_TRACES = "T"  # R-PS-7: only the traces of the caller's own actions


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One transaction row: its id (the matrix row, or the SPEC rule where the matrix is
    silent), the action, and one cell per column 1..12."""

    rule: str
    action: Action
    cells: str

    def cell(self, column: int) -> Cell:
        return Cell(self.cells.split()[column - 1])


A = Action
# fmt: off
#            columns:  1 2 3 4 5 6 7 8 9 10 11 12
MATRIX: tuple[MatrixRow, ...] = (
    MatrixRow("MATRIX-TD0.2", A.RECORD_STATE_READ, "Y Y Y Y Y Y Y Y Y Y Y Y"),
    MatrixRow("MATRIX-TD0.3", A.CONSENT_SELF_AUTHORIZE, "Y N N Y N N N Y N Y N N"),
    MatrixRow("MATRIX-TD0.3", A.CONSENT_SELF_REVOKE, "Y N N Y N N N Y N N N N"),
    MatrixRow("MATRIX-TD0.5", A.RECORD_SEARCH_DEMOGRAPHIC, "N Y N N Y N N N N N N Y"),
    MatrixRow("MATRIX-TD1.6", A.CONSENT_LIST, "Y N N Y N N Y Y N N N N"),
    MatrixRow("R-PS-3", A.CONSENT_AUTHORIZE, "N N N N N N N Y N N N N"),
    MatrixRow("R-PS-3", A.CONSENT_REVOKE, "N N N N N N N Y N N N N"),
    MatrixRow("R-PS-3", A.CONSENT_BLOCK, "N N N N N N N Y N N N N"),
    MatrixRow("R-PAT-2", A.CONSENT_UNBLOCK, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.CONSENT_ADMINISTRATOR, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.RECORD_ACTIVATE, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.RECORD_REOPEN, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.RECORD_EXPORT, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.RECORD_DESTROY, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.SETTINGS_READ, "N N N N N N N N N N N N"),
    MatrixRow("R-PAT-2", A.SETTINGS_WRITE, "N N N N N N N N N N N N"),
    MatrixRow("REC-3", A.RECORD_CLOSE, "Y N N Y N N N Y N N N N"),
    MatrixRow("MATRIX-TD2.1", A.DOCUMENT_SUBMIT, "Y Y Y Y Y Y Y Y Y Y Y Y"),
    MatrixRow("DOC-3", A.DOCUMENT_REPLACE, "O O O O O O O O O S S S"),
    MatrixRow("MATRIX-TD3.1", A.DOCUMENT_SEARCH, "Y Y Y Y Y Y Y Y Y R R R"),
    MatrixRow("MATRIX-TD3.1b", A.DOCUMENT_LOOKUP, "Y Y Y Y Y Y Y Y Y S S S"),
    MatrixRow("MATRIX-TD3.2", A.DOCUMENT_READ, "Y Y Y Y Y Y R Y Y R R R"),
    MatrixRow("MATRIX-TD3.3a", A.DOCUMENT_MASK, "Y N N Y N N Y Y N N N N"),
    MatrixRow("MATRIX-TD3.3a", A.DOCUMENT_UNMASK, "O N N O N N O Y N N N N"),
    MatrixRow("MATRIX-TD3.3b", A.DOCUMENT_SHOW_TO_PATIENT, "Y N N Y N N Y Y N N N N"),
    MatrixRow("MATRIX-TD3.3b", A.DOCUMENT_HIDE_FROM_REPRESENTATIVES, "Y N N Y N N Y Y N N N N"),
    MatrixRow("MATRIX-TD3.3b", A.DOCUMENT_SHOW_TO_REPRESENTATIVES, "Y N N Y N N Y Y N N N N"),
    MatrixRow("MATRIX-TD3.3d", A.DOCUMENT_ARCHIVE, "O N N O Y Y O Y Y S S S"),
    MatrixRow("MATRIX-TD3.3c", A.DOCUMENT_DELETE, "O O O O O O O O O S S S"),
    MatrixRow("R-PS-7", A.AUDIT_READ, "T T T T T T T Y Y T T T"),
)
# fmt: on

# --- Action groups ---------------------------------------------------------------------------

# fmt: off
ON_DOCUMENT = frozenset(  # actions on an existing document (a submission is not one)
    a for a in Action if a.value.startswith("record:document:")
) - {Action.DOCUMENT_SUBMIT}
CONSULTING_DOCUMENTS = frozenset(
    {Action.DOCUMENT_SEARCH, Action.DOCUMENT_LOOKUP, Action.DOCUMENT_READ}
)
CONSULTATION = frozenset(  # what needs an authorization in normal mode (R-PS-2)
    {Action.DOCUMENT_SEARCH, Action.DOCUMENT_READ, Action.CONSENT_LIST}
)
AUTHOR_CHANGES = frozenset(
    {Action.DOCUMENT_REPLACE, Action.DOCUMENT_ARCHIVE, Action.DOCUMENT_DELETE}
)
NEED_NO_RECORD = frozenset({Action.RECORD_STATE_READ, Action.RECORD_SEARCH_DEMOGRAPHIC})
PERSON_RECORD_ACTIONS = frozenset(Action) - ON_DOCUMENT - {  # R-PAT-2
    Action.DOCUMENT_SUBMIT, Action.RECORD_OPEN, Action.RECORD_SEARCH_DEMOGRAPHIC,
    Action.CONSENT_SELF_AUTHORIZE, Action.CONSENT_SELF_REVOKE, Action.AUDIT_READ,
}
PERSON_ON_CLOSED = CONSULTING_DOCUMENTS | {  # REC-3: read, export and reopen a closed record
    Action.RECORD_STATE_READ, Action.RECORD_REOPEN, Action.RECORD_EXPORT, Action.RECORD_DESTROY,
    Action.SETTINGS_READ, Action.CONSENT_LIST, Action.AUDIT_READ,
}
# fmt: on

# --- Predicates: each tests one thing, never raises ------------------------------------------

Predicate = Callable[[Facts], bool]


def live_record(facts: Facts) -> RecordFacts | None:
    """The record unless there is none or it was destroyed (REC-4)."""
    record = facts.record
    return None if record is None or record.state is RecordState.DESTROYED else record


def target(facts: Facts) -> DocumentFacts | None:
    """The document acted upon, for actions on an existing document only."""
    return facts.document if facts.action in ON_DOCUMENT else None


def _mode(facts: Facts) -> AccessMode:
    return facts.actor.access_mode


def is_professional(facts: Facts) -> bool:
    return profile(facts) is not None


def is_person(facts: Facts) -> bool:
    return facts.actor.kind is ActorKind.PERSON


def is_operator(facts: Facts) -> bool:
    return facts.actor.kind is ActorKind.OPERATOR


def is_holder(facts: Facts) -> bool:
    return is_person(facts) and facts.is_holder


def is_representative(facts: Facts) -> bool:
    """R-PAT-3: a named legal representative of a patient who is still a minor."""
    record = live_record(facts)
    return (
        is_person(facts)
        and not facts.is_holder
        and facts.is_representative
        and record is not None
        and record.is_minor
    )


def is_authorized(facts: Facts) -> bool:
    """R-PS-2: a valid authorization, or administrator status."""
    return facts.relation.is_authorized or facts.relation.is_administrator


def sees_masked(facts: Facts) -> bool:
    """R-PS-4: administrators in normal mode; emergencies if the patient allowed it (§5.4)."""
    record = live_record(facts)
    if profile(facts) is Profile.ADMINISTRATOR and _mode(facts) is AccessMode.NORMAL:
        return True
    return (
        _mode(facts).is_emergency
        and record is not None
        and record.settings.allow_masked_in_emergency
    )


def every(*predicates: Predicate) -> Predicate:
    return lambda facts: all(test(facts) for test in predicates)


def action_in(*actions: Action) -> Predicate:
    return lambda facts: facts.action in actions


def profile_in(*profiles: Profile) -> Predicate:
    return lambda facts: profile(facts) in profiles


def mode_is(mode: AccessMode) -> Predicate:
    return lambda facts: _mode(facts) is mode


def document_has(test: Callable[[DocumentFacts], bool]) -> Predicate:
    def applies(facts: Facts) -> bool:
        document = target(facts)
        return document is not None and test(document)

    return applies


def record_has(test: Callable[[RecordFacts], bool]) -> Predicate:
    def applies(facts: Facts) -> bool:
        record = live_record(facts)
        return record is not None and test(record)

    return applies


def no_live_record(facts: Facts) -> bool:
    return live_record(facts) is None


def btg_credential_refused(facts: Facts) -> bool:
    """R-EM-1: break-the-glass needs a column and direct authentication (CPS/CPF card)."""
    return _mode(facts) is AccessMode.BREAK_THE_GLASS and (
        matrix_column(facts) is None or facts.actor.auth_mode is not AuthMode.DIRECT
    )


def has_no_reason(facts: Facts) -> bool:
    return not facts.actor.purpose_reason.strip()


def closes_for_death(facts: Facts) -> bool:
    return facts.closure_reason is ClosureReason.DEATH


def closes_for_another_reason(facts: Facts) -> bool:
    return facts.closure_reason is not ClosureReason.DEATH


def is_indirect(facts: Facts) -> bool:
    return facts.actor.auth_mode is not AuthMode.DIRECT


def emergency_by_non_professional(facts: Facts) -> bool:
    return not is_professional(facts) and _mode(facts).is_emergency


@dataclass(frozen=True, slots=True)
class CellIs:
    """The caller's cell in `row` is one of `cells` (the row's action is being attempted)."""

    row: MatrixRow
    cells: frozenset[Cell]

    def __call__(self, facts: Facts) -> bool:
        if facts.action is not self.row.action:  # cheap test first: most rows are other actions
            return False
        column = matrix_column(facts)
        return column is not None and self.row.cell(column) in self.cells


# --- The decision table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table: a unique name, what it tests, and the decision when it applies."""

    name: str
    applies: Predicate
    outcome: Decision

    @property
    def id(self) -> str:
        return self.outcome.rule


def permit(rule: str, reason: str, *obligations: Obligation) -> Decision:
    return Decision(True, rule, reason, obligations=frozenset(obligations))


def forbid(rule: str, code: str, reason: str) -> Decision:
    return Decision(False, rule, reason, code, Refusal.FORBIDDEN)


def hide(rule: str, reason: str) -> Decision:
    return Decision(False, rule, reason, CODE_NOT_FOUND, Refusal.NOT_FOUND)


def closed(rule: str, code: str, reason: str) -> Decision:
    return Decision(False, rule, reason, code, Refusal.BUSINESS_RULE)


def _matrix_rules(cells: frozenset[Cell], make: Callable[[MatrixRow], Rule]) -> tuple[Rule, ...]:
    """One rule per matrix row holding one of `cells` for some column."""
    return tuple(make(row) for row in MATRIX if any(row.cell(c) in cells for c in range(1, 13)))


def _refused(row: MatrixRow) -> Rule:
    return Rule(
        f"{row.rule}:{row.action.value}:refused",
        CellIs(row, frozenset({Cell.NO})),
        forbid(row.rule, CODE_NOT_IN_MATRIX, f"the rights matrix refuses {row.action.value}"),
    )


def _own_only(row: MatrixRow) -> Rule:
    return Rule(
        f"{row.rule}:{row.action.value}:own-only",
        every(CellIs(row, frozenset({Cell.OWN})), document_has(lambda d: not d.is_own)),
        forbid(row.rule, CODE_NOT_AUTHOR, "only the author may do this (footnote 8)"),
    )


def _granted(row: MatrixRow) -> Rule:
    return Rule(
        f"{row.rule}:{row.action.value}:granted",
        CellIs(row, frozenset({Cell.YES, Cell.OWN, Cell.STRUCTURE})),
        permit(row.rule, f"the rights matrix grants {row.action.value}"),
    )


def _own_traces(row: MatrixRow) -> Rule:
    return Rule(
        f"{row.rule}:{row.action.value}:own-traces",
        CellIs(row, frozenset({Cell.OWN_TRACES})),
        permit(row.rule, "a professional reads its own traces", Obligation.ONLY_OWN_TRACES),
    )


def type_denied(facts: Facts) -> bool:
    """R-PS-5: the habilitation matrix refuses this type to the caller's profession."""
    document = target(facts)
    return document is not None and document.type_code in facts.denied_types


def masked_from_caller(facts: Facts) -> bool:
    """R-PS-4: masked, not the caller's (person or structure), and the caller may not see it."""
    document = target(facts)
    return (
        document is not None
        and Label.MASQUE_PS in document.labels
        and not (document.is_own or document.is_of_own_structure)
        and not sees_masked(facts)
    )


def restricted_consultation(facts: Facts) -> bool:
    """R-PS-6: the matrix cell says an occupational physician, a CPE card or an establishment
    credential may not search or read."""
    return any(cell_is(facts) for cell_is in _RESTRICTED_CELLS)


_RESTRICTED_CELLS = tuple(CellIs(row, frozenset({Cell.RESTRICTED})) for row in MATRIX)


PERSON, PROFESSIONAL, HOLDER, REPRESENTATIVE = (
    is_person,
    is_professional,
    is_holder,
    is_representative,
)
CONSULTING_PS = profile_in(*CONSULTING)
PLAIN_PS = profile_in(Profile.NON_PHYSICIAN, Profile.PHYSICIAN, Profile.OCCUPATIONAL_PHYSICIAN)
NORMAL = mode_is(AccessMode.NORMAL)
BTG = mode_is(AccessMode.BREAK_THE_GLASS)
CENTRE_15 = mode_is(AccessMode.CENTRE_15)
NOT_AUTHORIZED = every(PLAIN_PS, NORMAL, lambda f: not is_authorized(f))
CLOSED = record_has(lambda r: r.state is RecordState.CLOSED)

# The table. Read it top to bottom: the first rule that applies decides.
# fmt: off
RULES: tuple[Rule, ...] = (
    # 1. Emergency modes are for professionals; operators (API.md §28)
    Rule("R-EM:non-professional", emergency_by_non_professional,
         forbid("R-EM-1", CODE_EMERGENCY_PERSON, "emergency modes are for professionals")),
    Rule("REC-1:operator-bulk-open", every(is_operator, action_in(A.RECORD_OPEN)),
         permit("REC-1", "the operator opens records in bulk (opt-out)")),
    Rule("REC-3:operator-close", every(is_operator, action_in(A.RECORD_CLOSE)),
         permit("REC-3", "the operator closes a record")),
    Rule("API-28:operator-state", every(is_operator, action_in(A.RECORD_STATE_READ)),
         permit("API-28", "the operator reads the record's state")),
    Rule("API-28:operator-refused", is_operator,
         forbid("API-28", CODE_OPERATOR, "operators never reach medical content")),
    # 2. Persons: the holder, a minor's legal representatives, nobody else (404)
    Rule("REC-1:self-service-open", every(HOLDER, action_in(A.RECORD_OPEN)),
         permit("REC-1", "the patient opens their own record online")),
    Rule("R-PAT-3:adult-patient", every(PERSON, lambda f: not f.is_holder and f.is_representative,
                                        record_has(lambda r: not r.is_minor)),
         hide("R-PAT-3", "legal representatives lose access at majority")),
    Rule("API-6:not-your-record", every(PERSON, lambda f: not (HOLDER(f) or REPRESENTATIVE(f))),
         hide("API-6", "this record is not the caller's")),
    # 3. Professional credentials and modes, whatever the record (403)
    Rule("R-EM-1:credential", every(PROFESSIONAL, btg_credential_refused),
         forbid("R-EM-1", CODE_MODE_NOT_AVAILABLE, "break-the-glass needs a direct CPS/CPF")),
    Rule("R-EM-2:credential", every(PROFESSIONAL, CENTRE_15, lambda f: matrix_column(f) is None),
         forbid("R-EM-2", CODE_MODE_NOT_AVAILABLE, "centre 15 is not open to this credential")),
    Rule("API-12:no-reason", every(PROFESSIONAL, BTG, has_no_reason),
         forbid("R-EM-1", CODE_BTG_NO_REASON, "break-the-glass needs a stated reason")),
    Rule("REC-1:professional-open", every(action_in(A.RECORD_OPEN), NORMAL, profile_in(
             Profile.NON_PHYSICIAN, Profile.PHYSICIAN, Profile.ADMINISTRATOR)),
         permit("REC-1", "a professional opens a record with the patient's consent")),
    Rule("REC-1:open-refused", every(PROFESSIONAL, action_in(A.RECORD_OPEN)),
         forbid("REC-1", CODE_NOT_IN_MATRIX, "this credential cannot open a record")),
    # 4. No record, or a destroyed one
    Rule("API-26:submit-without-record", every(action_in(A.DOCUMENT_SUBMIT), no_live_record),
         closed("API-26", CODE_NO_OPEN_RECORD, "no open record for this INS")),
    Rule("NO-RECORD", every(no_live_record, lambda f: f.action not in NEED_NO_RECORD),
         hide("NO-RECORD", "no record for this INS")),
    # 5. The patient's emergency consents (§5.4), blocking: record level, 403
    Rule("R-EM-1:refused-by-patient", every(PROFESSIONAL, BTG, record_has(
             lambda r: not r.settings.allow_break_the_glass)),
         forbid("R-EM-1", CODE_BTG_REFUSED, "the patient refused break-the-glass access")),
    Rule("R-EM-2:refused-by-patient", every(PROFESSIONAL, CENTRE_15, record_has(
             lambda r: not r.settings.allow_centre_15)),
         forbid("R-EM-2", CODE_CENTRE_15_REFUSED, "the patient refused centre-15 access")),
    Rule("R-PS-1:blocked", every(PROFESSIONAL, lambda f: f.relation.is_blocked,
                                 lambda f: f.action is not A.DOCUMENT_SUBMIT),
         forbid("R-PS-1", CODE_BLOCKED, "the patient blocked this professional")),
    # 6. A closed record (REC-3, API.md §5, §23): 422
    Rule("REC-3:closed-professional", every(PROFESSIONAL, CLOSED,
                                            lambda f: f.action is not A.RECORD_STATE_READ),
         closed("REC-3", CODE_RECORD_CLOSED, "the record is closed")),
    Rule("REC-3:closed-person", every(PERSON, CLOSED, lambda f: f.action not in PERSON_ON_CLOSED),
         closed("REC-3", CODE_RECORD_CLOSED, "the record is closed")),
    # 7. Persons on their record (R-PAT-1..3, DOC-5..7)
    Rule("API-9:deleted-for-persons", every(PERSON, document_has(
             lambda d: d.status is DocumentStatus.ENTERED_IN_ERROR)),
         hide("API-9", "deleted documents are gone for the patient")),
    Rule("R-PAT-1:invisible-patient", every(PERSON, document_has(
             lambda d: Label.INVISIBLE_PATIENT in d.labels)),
         hide("R-PAT-1", "awaiting an announcement consultation (DOC-7)")),
    Rule("R-PAT-3:invisible-representatives", every(REPRESENTATIVE, document_has(
             lambda d: Label.INVISIBLE_REPRESENTANTS_LEGAUX in d.labels)),
         hide("R-PAT-3", "hidden from legal representatives")),
    Rule("R-PAT-1:consult", every(PERSON, action_in(*CONSULTING_DOCUMENTS)),
         permit("R-PAT-1", "the patient reads the record")),
    Rule("R-PAT-2:mask", every(PERSON, action_in(A.DOCUMENT_MASK, A.DOCUMENT_UNMASK)),
         permit("R-PAT-2", "the patient masks and unmasks documents")),
    Rule("DOC-7:show-to-representatives", every(HOLDER, action_in(
             A.DOCUMENT_SHOW_TO_REPRESENTATIVES)),
         permit("DOC-7", "the patient shows a document to the legal representatives")),
    Rule("DOC-6:patient-document", every(PERSON, action_in(*AUTHOR_CHANGES), lambda f:
             f.document is None or f.document.is_patient_document),
         permit("DOC-6", "the patient manages the documents the patient added")),
    Rule("DOC-5:professional-document", every(PERSON, action_in(*AUTHOR_CHANGES)),
         forbid("DOC-5", CODE_NOT_AUTHOR, "only its author changes a professional's document")),
    Rule("REC-3:person-death", every(PERSON, action_in(A.RECORD_CLOSE), closes_for_death),
         forbid("REC-3", CODE_DEATH_CLOSURE, "closure on death is for a professional")),
    Rule("DOC-6:submit", every(PERSON, action_in(A.DOCUMENT_SUBMIT)),
         permit("DOC-6", "the patient adds documents")),
    Rule("AUD-3:person-traces", every(PERSON, action_in(A.AUDIT_READ)),
         permit("AUD-3", "the patient reads every trace")),
    Rule("R-PAT-2:manage", every(PERSON, action_in(*PERSON_RECORD_ACTIONS)),
         permit("R-PAT-2", "the patient manages the record")),
    # 8. Professionals, record level: 403 whatever the document (API.md §20)
    Rule("R-PS-6:restricted", restricted_consultation,
         forbid("R-PS-6", CODE_RESTRICTED, "this credential may not search or read documents")),
    *_matrix_rules(frozenset({Cell.NO}), _refused),
    Rule("R-PS-2:not-authorized", every(NOT_AUTHORIZED, action_in(*CONSULTATION)),
         forbid("R-PS-2", CODE_NOT_AUTHORIZED, "no authorization on this record")),
    Rule("R-PS-2:indirect-self-authorization",
         every(action_in(A.CONSENT_SELF_AUTHORIZE), is_indirect),
         forbid("R-PS-2", CODE_RESTRICTED, "an indirect credential cannot authorize itself")),
    Rule("REC-3:professional-close", every(action_in(A.RECORD_CLOSE), closes_for_another_reason),
         forbid("REC-3", CODE_CLOSE_REASON, "a professional closes a record only on death")),
    # 9. Professionals, document level: a document it may not see is 404
    Rule("R-PS-2:not-own", every(NOT_AUTHORIZED, document_has(lambda d: not d.is_own)),
         hide("R-PS-2", "without authorization, only one's own documents")),
    Rule("R-PS-5:type", every(CONSULTING_PS, type_denied),
         hide("R-PS-5", "this profession may not read this type of document")),
    Rule("R-PS-4:masked", every(CONSULTING_PS, masked_from_caller),
         hide("R-PS-4", "masked from professionals")),
    Rule("R-PS-6:not-own-structure", every(profile_in(*RESTRICTED), document_has(
             lambda d: not d.is_of_own_structure)),
         hide("R-PS-6", "a restricted credential reaches only its structure's documents")),
    # 10. Professionals, document level: who may change what (DOC-3, DOC-5, footnote *)
    Rule("DOC-5:administrator-patient-document", every(profile_in(Profile.ADMINISTRATOR),
             action_in(A.DOCUMENT_ARCHIVE, A.DOCUMENT_DELETE),
             document_has(lambda d: d.is_patient_document)),
         permit("DOC-5", "an administrator archives or deletes the patient's documents")),
    Rule("DOC-5:patient-document-reserved", every(action_in(A.DOCUMENT_ARCHIVE, A.DOCUMENT_DELETE),
             document_has(lambda d: d.is_patient_document)),
         forbid("DOC-5", CODE_NOT_AUTHOR, "only the patient or an administrator may")),
    *_matrix_rules(frozenset({Cell.OWN}), _own_only),
    *_matrix_rules(frozenset({Cell.YES, Cell.OWN, Cell.STRUCTURE}), _granted),
    *_matrix_rules(frozenset({Cell.OWN_TRACES}), _own_traces),
)
# fmt: on


def first_rule(facts: Facts) -> Rule | None:
    """The rule that decides `facts` (for tests, docs and the audit detail)."""
    return next((rule for rule in RULES if rule.applies(facts)), None)


@lru_cache(maxsize=4096)
def decide(facts: Facts) -> Decision:
    """Decide one attempted action; the first matching rule wins, no match denies.

    R-EM-3: every permitted emergency access carries NOTIFY_EMERGENCY. Pure, and `Facts` is
    frozen, so answers are memoized: a search checks many documents with the same facts.
    """
    rule = first_rule(facts)
    if rule is None:
        return DEFAULT_DENY
    decision = rule.outcome
    if decision.is_permitted and _mode(facts).is_emergency:
        obligations = decision.obligations | {Obligation.NOTIFY_EMERGENCY}
        return replace(decision, obligations=obligations)
    return decision


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
    """The search filter for `facts` (without a document); None when the search is refused.

    DOCUMENT_LOOKUP (a reference by identifier, footnote 5) narrows for that action; any other
    action narrows for DOCUMENT_SEARCH.

    Deleted and superseded documents stay in the scope of professionals: the query's own status
    filter (DOC-5) is applied by the repository; persons never see deleted ones (API §9).
    """
    action = (
        Action.DOCUMENT_LOOKUP if facts.action is Action.DOCUMENT_LOOKUP else Action.DOCUMENT_SEARCH
    )
    probe = replace(facts, action=action, document=None)
    if not decide(probe).is_permitted:
        return None
    if action is Action.DOCUMENT_LOOKUP and profile(probe) in RESTRICTED:
        return SearchScope(only_own_structure=True)  # footnotes (5), (9)
    if is_person(probe):
        hidden = {Label.INVISIBLE_PATIENT}
        if is_representative(probe):
            hidden.add(Label.INVISIBLE_REPRESENTANTS_LEGAUX)
        return SearchScope(
            hidden_labels=frozenset(hidden),
            hidden_statuses=frozenset({DocumentStatus.ENTERED_IN_ERROR}),
        )
    masked = frozenset() if sees_masked(probe) else frozenset({Label.MASQUE_PS})
    return SearchScope(hidden_labels_unless_own=masked, denied_types=probe.denied_types)
