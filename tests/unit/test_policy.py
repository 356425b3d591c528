"""The access decision table (SPEC.md §5, dmp-rules §3.1): one row per scenario, the rule id as
the test id, the published rights matrix cell by cell, and every rule of `RULES` exercised."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.consents import Relation
from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.policy import (
    DEFAULT_DENY,
    RULES,
    Action,
    Decision,
    DocumentFacts,
    Facts,
    Obligation,
    RecordFacts,
    Refusal,
    decide,
    first_rule,
)
from opendmp.domain.record import ClosureReason, PatientSettings, RecordState

A = Action
NORMAL, BTG, C15 = AccessMode.NORMAL, AccessMode.BREAK_THE_GLASS, AccessMode.CENTRE_15
REPORT = "11490-0"  # a discharge letter: readable by every profession
RESIDENCE = "ATTEST-RESID"
MASKED, HIDDEN_FROM_PATIENT = Label.MASQUE_PS, Label.INVISIBLE_PATIENT
HIDDEN_FROM_RL = Label.INVISIBLE_REPRESENTANTS_LEGAUX
NOTIFY, OWN_TRACES = Obligation.NOTIFY_EMERGENCY, Obligation.ONLY_OWN_TRACES


# --- builders ------------------------------------------------------------------------------


def professional(
    profession: str | None = "10", mode: AccessMode = NORMAL, **changes: object
) -> Actor:
    changes.setdefault("purpose_reason", "unconscious patient" if mode is BTG else "")
    actor = Actor(
        ActorKind.PROFESSIONAL, "810000000001", profession=profession, structure="10B0000001"
    )
    return replace(actor, access_mode=mode, **changes)  # type: ignore[arg-type]


def physician(mode: AccessMode = NORMAL, **changes: object) -> Actor:
    return professional("10", mode, **changes)


def nurse(mode: AccessMode = NORMAL, **changes: object) -> Actor:
    return professional("60", mode, **changes)


def occupational(mode: AccessMode = NORMAL) -> Actor:
    return professional("10", mode, is_occupational_physician=True)


def secretary(mode: AccessMode = NORMAL) -> Actor:
    return professional(None, mode, card=Card.CPE)


def establishment(mode: AccessMode = NORMAL) -> Actor:
    return Actor(
        ActorKind.ORGANIZATION, "10B0000001", auth_mode=AuthMode.INDIRECT, access_mode=mode
    )


def person(mode: AccessMode = NORMAL) -> Actor:
    return Actor(ActorKind.PERSON, "295109912611193", access_mode=mode)


OPERATOR = Actor(ActorKind.OPERATOR, "ops")
SYSTEM = Actor(ActorKind.SYSTEM, "opendmp")


def a_record(
    state: RecordState = RecordState.OPEN, *, minor: bool = False, **settings: bool
) -> RecordFacts:
    return RecordFacts(state, True, PatientSettings(**settings), minor)  # type: ignore[arg-type]


OPEN, CLOSED = a_record(), a_record(RecordState.CLOSED)


def a_document(
    *labels: Label,
    status: DocumentStatus = DocumentStatus.CURRENT,
    type_code: str = REPORT,
    own: bool = False,
    structure: bool = False,
    patient: bool = False,
    archived: bool = False,
) -> DocumentFacts:
    return DocumentFacts(frozenset(labels), status, archived, type_code, own, structure, patient)


def facts(
    actor: Actor,
    action: Action,
    document: DocumentFacts | None = None,
    *,
    record: RecordFacts | None = OPEN,
    authorized: bool = False,
    blocked: bool = False,
    admin: bool = False,
    holder: bool = False,
    representative: bool = False,
    denied: frozenset[str] = frozenset(),
    reason: ClosureReason | None = None,
) -> Facts:
    relation = Relation(authorized or admin, blocked, admin)
    return Facts(actor, action, record, holder, representative, relation, document, denied, reason)


def holder(action: Action, document: DocumentFacts | None = None, **kw: object) -> Facts:
    return facts(person(), action, document, holder=True, **kw)  # type: ignore[arg-type]


def representative(action: Action, document: DocumentFacts | None = None, **kw: object) -> Facts:
    kw.setdefault("record", a_record(minor=True))
    return facts(person(), action, document, representative=True, **kw)  # type: ignore[arg-type]


def doctor(action: Action, document: DocumentFacts | None = None, **kw: object) -> Facts:
    """An authorized physician in normal mode (column 4)."""
    kw.setdefault("authorized", True)
    return facts(physician(), action, document, **kw)  # type: ignore[arg-type]


# --- expectations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    rule: str
    refusal: Refusal | None = None
    code: str = ""
    obligations: frozenset[Obligation] = frozenset()

    def check(self, decision: Decision) -> None:
        assert decision.rule == self.rule, decision
        assert decision.is_permitted is (self.refusal is None), decision
        assert decision.refusal is self.refusal, decision
        assert decision.code == self.code, decision
        assert decision.obligations == self.obligations, decision


def ok(rule: str, *obligations: Obligation) -> Expect:
    return Expect(rule, obligations=frozenset(obligations))


def forbidden(rule: str, code: str) -> Expect:
    return Expect(rule, Refusal.FORBIDDEN, code)


def not_found(rule: str) -> Expect:
    return Expect(rule, Refusal.NOT_FOUND, "DMP-0404")


def business(rule: str, code: str) -> Expect:
    return Expect(rule, Refusal.BUSINESS_RULE, code)


def row(scenario: Facts, expected: Expect, name: str) -> object:
    return pytest.param(scenario, expected, id=name)


DOC, MINE, OURS = a_document(), a_document(own=True), a_document(structure=True)
PATIENT_DOC = a_document(patient=True)

SCENARIOS = [
    # Operators (API.md §28) and emergency modes outside professionals
    row(facts(OPERATOR, A.RECORD_OPEN, record=None), ok("REC-1"), "REC-1-operator-bulk-open"),
    row(facts(OPERATOR, A.RECORD_CLOSE), ok("REC-3"), "REC-3-operator-closes"),
    row(facts(OPERATOR, A.RECORD_STATE_READ), ok("API-28"), "API-28-operator-reads-state"),
    row(facts(OPERATOR, A.DOCUMENT_READ, DOC), forbidden("API-28", "DMP-0420"),
        "API-28-operator-never-reads-documents"),
    row(facts(OPERATOR, A.AUDIT_READ), forbidden("API-28", "DMP-0420"),
        "API-28-operator-never-reads-traces"),
    row(facts(person(BTG), A.DOCUMENT_READ, DOC, holder=True),
        forbidden("R-EM-1", "DMP-0426"), "R-EM-1-person-in-emergency-mode"),
    row(facts(SYSTEM, A.DOCUMENT_READ, DOC), forbidden("DEFAULT-DENY", "DMP-0403"),
        "DEFAULT-DENY-system-actor"),
    # Persons: who they are (R-PAT-3, API.md §6)
    row(holder(A.RECORD_OPEN, record=None), ok("REC-1"), "REC-1-self-service-open"),
    row(representative(A.DOCUMENT_READ, DOC, record=OPEN), not_found("R-PAT-3"),
        "R-PAT-3-representative-of-adult-sees-nothing"),
    row(facts(person(), A.DOCUMENT_READ, DOC), not_found("API-6"),
        "API-6-stranger-reads-document"),
    row(facts(person(), A.RECORD_STATE_READ), not_found("API-6"),
        "API-6-stranger-reads-state"),
    row(facts(person(), A.RECORD_OPEN, record=None), not_found("API-6"),
        "API-6-person-opens-someone-elses-record"),
    # No record, destroyed record (API.md §26)
    row(holder(A.DOCUMENT_SEARCH, record=None), not_found("NO-RECORD"),
        "NO-RECORD-holder-searches"),
    row(holder(A.RECORD_STATE_READ, record=None), ok("R-PAT-2"),
        "R-PAT-2-holder-asks-if-record-exists"),
    row(holder(A.DOCUMENT_SUBMIT, record=None), business("API-26", "DMP-0432"),
        "API-26-holder-submits-without-record"),
    row(doctor(A.DOCUMENT_SUBMIT, record=None), business("API-26", "DMP-0432"),
        "API-26-professional-submits-without-record"),
    row(doctor(A.DOCUMENT_READ, DOC, record=None), not_found("NO-RECORD"),
        "NO-RECORD-professional-reads"),
    row(doctor(A.DOCUMENT_READ, DOC, record=a_record(RecordState.DESTROYED)),
        not_found("NO-RECORD"), "NO-RECORD-destroyed-record"),
    row(facts(physician(), A.RECORD_STATE_READ, record=None), ok("MATRIX-TD0.2"),
        "MATRIX-TD0.2-existence-test-without-record"),
    row(facts(physician(C15), A.RECORD_SEARCH_DEMOGRAPHIC, record=None),
        ok("MATRIX-TD0.5", NOTIFY), "MATRIX-TD0.5-centre-15-searches-without-ins"),
    # Persons on their record (R-PAT-1..3, DOC-5..7, API.md §9)
    row(holder(A.DOCUMENT_READ, a_document(MASKED)), ok("R-PAT-1"),
        "R-PAT-1-holder-reads-masked"),
    row(holder(A.DOCUMENT_READ, a_document(HIDDEN_FROM_PATIENT)), not_found("R-PAT-1"),
        "R-PAT-1-holder-cannot-read-invisible-patient"),
    row(holder(A.DOCUMENT_READ, a_document(HIDDEN_FROM_RL)), ok("R-PAT-1"),
        "R-PAT-1-holder-reads-hidden-from-representatives"),
    row(holder(A.DOCUMENT_SEARCH, a_document(archived=True)), ok("R-PAT-1"),
        "R-PAT-1-holder-finds-archived"),
    row(holder(A.DOCUMENT_LOOKUP, a_document(status=DocumentStatus.SUPERSEDED)),
        ok("R-PAT-1"), "R-PAT-1-holder-finds-superseded"),
    row(holder(A.DOCUMENT_READ, a_document(status=DocumentStatus.ENTERED_IN_ERROR)),
        not_found("API-9"), "API-9-deleted-is-gone-for-holder"),
    row(representative(A.DOCUMENT_READ, a_document(status=DocumentStatus.ENTERED_IN_ERROR)),
        not_found("API-9"), "API-9-deleted-is-gone-for-representative"),
    row(representative(A.DOCUMENT_READ, DOC), ok("R-PAT-1"), "R-PAT-3-representative-reads"),
    row(representative(A.DOCUMENT_READ, a_document(HIDDEN_FROM_RL)),
        not_found("R-PAT-3"), "R-PAT-3-representative-cannot-read-hidden"),
    row(representative(A.DOCUMENT_READ, a_document(HIDDEN_FROM_PATIENT)),
        not_found("R-PAT-1"), "R-PAT-3-representative-cannot-read-invisible-patient"),
    row(representative(A.SETTINGS_WRITE), ok("R-PAT-2"), "R-PAT-3-representative-manages"),
    row(holder(A.DOCUMENT_MASK, DOC), ok("R-PAT-2"), "R-PAT-2-holder-masks"),
    row(representative(A.DOCUMENT_UNMASK, a_document(MASKED)), ok("R-PAT-2"),
        "R-PAT-2-representative-unmasks"),
    row(holder(A.DOCUMENT_SHOW_TO_REPRESENTATIVES, a_document(HIDDEN_FROM_RL)), ok("DOC-7"),
        "DOC-7-holder-shows-to-representatives"),
    row(holder(A.DOCUMENT_SHOW_TO_PATIENT, a_document(MASKED)),
        forbidden("DEFAULT-DENY", "DMP-0403"), "DEFAULT-DENY-holder-cannot-lift-announcement"),
    row(holder(A.DOCUMENT_DELETE, PATIENT_DOC), ok("DOC-6"), "DOC-6-holder-deletes-own"),
    row(representative(A.DOCUMENT_ARCHIVE, PATIENT_DOC), ok("DOC-6"),
        "DOC-6-representative-archives-patient-document"),
    row(holder(A.DOCUMENT_DELETE, DOC), forbidden("DOC-5", "DMP-0423"),
        "DOC-5-holder-cannot-delete-professional-document"),
    row(holder(A.DOCUMENT_SUBMIT), ok("DOC-6"), "DOC-6-holder-submits"),
    row(holder(A.AUDIT_READ), ok("AUD-3"), "AUD-3-holder-reads-all-traces"),
    row(holder(A.RECORD_CLOSE, reason=ClosureReason.PATIENT_REQUEST), ok("R-PAT-2"),
        "REC-3-holder-closes"),
    row(holder(A.RECORD_CLOSE, reason=ClosureReason.DEATH), forbidden("REC-3", "DMP-0425"),
        "REC-3-holder-cannot-close-for-death"),
    row(holder(A.CONSENT_BLOCK), ok("R-PAT-2"), "R-PAT-2-holder-blocks"),
    row(holder(A.CONSENT_ADMINISTRATOR), ok("R-PAT-2"), "R-PAT-2-holder-names-administrator"),
    row(holder(A.RECORD_ACTIVATE), ok("R-PAT-2"), "REC-2-holder-activates"),
    # Closed record (REC-3, API.md §5, §23)
    row(holder(A.DOCUMENT_READ, DOC, record=CLOSED), ok("R-PAT-1"),
        "REC-3-holder-reads-closed-record"),
    row(holder(A.RECORD_EXPORT, record=CLOSED), ok("R-PAT-2"), "REC-3-holder-exports-closed"),
    row(holder(A.RECORD_REOPEN, record=CLOSED), ok("R-PAT-2"), "REC-5-holder-reopens"),
    row(holder(A.RECORD_DESTROY, record=CLOSED), ok("R-PAT-2"),
        "REC-4-holder-asks-early-destruction"),
    row(holder(A.DOCUMENT_SUBMIT, record=CLOSED), business("REC-3", "DMP-0430"),
        "REC-3-holder-cannot-submit-to-closed"),
    row(holder(A.SETTINGS_WRITE, record=CLOSED), business("REC-3", "DMP-0430"),
        "REC-3-holder-cannot-change-settings-of-closed"),
    row(doctor(A.RECORD_STATE_READ, record=CLOSED), ok("MATRIX-TD0.2"),
        "REC-3-professional-reads-state-of-closed"),
    row(doctor(A.DOCUMENT_READ, DOC, record=CLOSED), business("REC-3", "DMP-0430"),
        "REC-3-professional-cannot-read-closed"),
    row(doctor(A.DOCUMENT_SUBMIT, record=CLOSED), business("REC-3", "DMP-0430"),
        "REC-3-professional-cannot-submit-to-closed"),
    row(doctor(A.DOCUMENT_SUBMIT, record=CLOSED, blocked=True),
        business("REC-3", "DMP-0430"), "REC-3-blocked-professional-submits-to-closed"),
    row(doctor(A.AUDIT_READ, record=CLOSED), business("REC-3", "DMP-0430"),
        "REC-3-professional-cannot-read-traces-of-closed"),
    row(doctor(A.RECORD_CLOSE, reason=ClosureReason.PATIENT_REQUEST),
        forbidden("REC-3", "DMP-0422"), "REC-3-professional-cannot-close-on-request"),
    row(doctor(A.RECORD_CLOSE), forbidden("REC-3", "DMP-0422"),
        "REC-3-professional-close-without-reason"),
    row(facts(nurse(), A.RECORD_CLOSE, reason=ClosureReason.DEATH), ok("REC-3"),
        "REC-3-professional-closes-on-death"),
    # Professional credentials and modes (R-EM-1, R-EM-2, API.md §12)
    row(facts(physician(BTG, auth_mode=AuthMode.INDIRECT_REINFORCED), A.DOCUMENT_READ, DOC),
        forbidden("R-EM-1", "DMP-0417"), "R-EM-1-break-the-glass-needs-direct-auth"),
    row(facts(secretary(BTG), A.DOCUMENT_SUBMIT), forbidden("R-EM-1", "DMP-0417"),
        "R-EM-1-no-break-the-glass-with-cpe"),
    row(facts(establishment(BTG), A.DOCUMENT_SUBMIT), forbidden("R-EM-1", "DMP-0417"),
        "R-EM-1-no-break-the-glass-for-establishment"),
    row(facts(occupational(BTG), A.DOCUMENT_SEARCH), forbidden("R-EM-1", "DMP-0417"),
        "R-EM-1-no-break-the-glass-for-occupational-physician"),
    row(facts(occupational(C15), A.DOCUMENT_SEARCH), forbidden("R-EM-2", "DMP-0417"),
        "R-EM-2-no-centre-15-for-occupational-physician"),
    row(facts(secretary(C15), A.DOCUMENT_SUBMIT), forbidden("R-EM-2", "DMP-0417"),
        "R-EM-2-no-centre-15-with-cpe"),
    row(facts(physician(BTG, purpose_reason=" "), A.DOCUMENT_READ, DOC),
        forbidden("R-EM-1", "DMP-0416"), "API-12-break-the-glass-without-reason"),
    row(facts(physician(), A.RECORD_OPEN, record=None), ok("REC-1"),
        "REC-1-professional-opens"),
    row(facts(establishment(), A.RECORD_OPEN, record=None), forbidden("REC-1", "DMP-0421"),
        "REC-1-establishment-cannot-open"),
    row(facts(physician(BTG), A.RECORD_OPEN, record=None), forbidden("REC-1", "DMP-0421"),
        "REC-1-no-opening-in-emergency"),
    row(facts(physician(BTG), A.DOCUMENT_READ, DOC, record=a_record(allow_break_the_glass=False)),
        forbidden("R-EM-1", "DMP-0414"), "R-EM-1-patient-refused-break-the-glass"),
    row(facts(physician(C15), A.DOCUMENT_SUBMIT, record=a_record(allow_centre_15=False)),
        forbidden("R-EM-2", "DMP-0415"), "R-EM-2-patient-refused-centre-15"),
    row(facts(nurse(BTG), A.DOCUMENT_READ, DOC), ok("MATRIX-TD3.2", NOTIFY),
        "R-EM-1-break-the-glass-reads-without-authorization"),
    row(facts(establishment(C15), A.DOCUMENT_SUBMIT), ok("MATRIX-TD2.1", NOTIFY),
        "R-EM-2-regulation-centre-submits"),
    row(facts(physician(BTG), A.AUDIT_READ), ok("R-PS-7", OWN_TRACES, NOTIFY),
        "R-EM-3-emergency-trace-read-is-notified"),
    # Blocked (R-PS-1)
    row(doctor(A.DOCUMENT_READ, DOC, blocked=True), forbidden("R-PS-1", "DMP-0412"),
        "R-PS-1-blocked-cannot-read"),
    row(doctor(A.DOCUMENT_SEARCH, blocked=True), forbidden("R-PS-1", "DMP-0412"),
        "R-PS-1-blocked-cannot-search"),
    row(doctor(A.CONSENT_LIST, blocked=True, admin=True), forbidden("R-PS-1", "DMP-0412"),
        "R-PS-1-blocked-administrator-cannot-list"),
    row(facts(physician(BTG), A.DOCUMENT_READ, DOC, blocked=True),
        forbidden("R-PS-1", "DMP-0412"), "R-PS-1-blocked-even-in-break-the-glass"),
    row(facts(physician(), A.AUDIT_READ, blocked=True), forbidden("R-PS-1", "DMP-0412"),
        "R-PS-1-blocked-cannot-list-own-traces"),
    row(facts(physician(), A.RECORD_STATE_READ, blocked=True),
        forbidden("R-PS-1", "DMP-0412"), "R-PS-1-blocked-told-at-existence-test"),
    row(facts(physician(), A.CONSENT_SELF_AUTHORIZE, blocked=True),
        forbidden("R-PS-1", "DMP-0412"), "R-PS-1-blocked-cannot-authorize-itself"),
    row(facts(physician(), A.DOCUMENT_SUBMIT, blocked=True), ok("MATRIX-TD2.1"),
        "R-PS-1-blocked-may-submit"),
    # Authorization (R-PS-2), restricted credentials (R-PS-6)
    row(facts(physician(), A.DOCUMENT_SEARCH), forbidden("R-PS-2", "DMP-0413"),
        "R-PS-2-not-authorized-cannot-search"),
    row(facts(physician(), A.DOCUMENT_READ, MINE), forbidden("R-PS-2", "DMP-0413"),
        "R-PS-2-not-authorized-cannot-read-even-own"),
    row(facts(nurse(), A.CONSENT_LIST), forbidden("R-PS-2", "DMP-0413"),
        "R-PS-2-not-authorized-cannot-list"),
    row(facts(occupational(), A.DOCUMENT_SEARCH), forbidden("R-PS-2", "DMP-0413"),
        "R-PS-6-occupational-physician-needs-authorization"),
    row(facts(physician(), A.AUDIT_READ), ok("R-PS-7", OWN_TRACES),
        "R-PS-7-not-authorized-reads-own-traces"),
    row(facts(physician(), A.DOCUMENT_DELETE, MINE), ok("MATRIX-TD3.3c"),
        "R-PS-2-deleting-own-needs-no-authorization"),
    row(facts(physician(), A.DOCUMENT_LOOKUP, MINE), ok("MATRIX-TD3.1b"),
        "R-PS-2-looking-up-own-needs-no-authorization"),
    row(facts(physician(), A.DOCUMENT_DELETE, OURS), not_found("R-PS-2"),
        "R-PS-2-not-authorized-cannot-reach-colleague-document"),
    row(facts(physician(), A.DOCUMENT_MASK, DOC), not_found("R-PS-2"),
        "R-PS-2-not-authorized-cannot-mask-others"),
    row(facts(physician(), A.DOCUMENT_DELETE), ok("MATRIX-TD3.3c"),
        "R-PS-2-record-level-check-without-document"),
    row(facts(physician(auth_mode=AuthMode.INDIRECT_REINFORCED), A.CONSENT_SELF_AUTHORIZE),
        forbidden("R-PS-2", "DMP-0418"), "R-PS-2-indirect-cannot-authorize-itself"),
    row(facts(physician(), A.CONSENT_SELF_AUTHORIZE), ok("MATRIX-TD0.3"),
        "R-PS-2-physician-authorizes-itself"),
    row(facts(physician(auth_mode=AuthMode.INDIRECT_REINFORCED), A.DOCUMENT_READ, DOC,
              authorized=True), ok("MATRIX-TD3.2"), "R-PS-6-air-reads-like-its-ps"),
    row(facts(professional("60", auth_mode=AuthMode.INDIRECT), A.DOCUMENT_READ, DOC,
              authorized=True), forbidden("R-PS-6", "DMP-0418"),
        "R-PS-6-indirect-professional-is-an-establishment"),
    row(facts(occupational(), A.DOCUMENT_READ, DOC, authorized=True),
        forbidden("R-PS-6", "DMP-0418"), "R-PS-6-occupational-physician-never-reads"),
    row(facts(secretary(), A.DOCUMENT_SEARCH), forbidden("R-PS-6", "DMP-0418"),
        "R-PS-6-cpe-cannot-search"),
    row(facts(establishment(), A.DOCUMENT_READ, OURS), forbidden("R-PS-6", "DMP-0418"),
        "R-PS-6-establishment-cannot-read"),
    row(facts(establishment(), A.DOCUMENT_LOOKUP, DOC), not_found("R-PS-6"),
        "R-PS-6-establishment-lookup-other-structure"),
    row(facts(secretary(), A.DOCUMENT_DELETE, a_document(MASKED, structure=True)),
        ok("MATRIX-TD3.3c"), "R-PS-6-cpe-deletes-structure-document"),
    row(facts(establishment(), A.DOCUMENT_REPLACE, OURS), ok("DOC-3"),
        "DOC-3-establishment-replaces-structure-document"),
    row(facts(secretary(), A.CONSENT_SELF_AUTHORIZE), ok("MATRIX-TD0.3"),
        "MATRIX-TD0.3-cpe-footnote-1"),
    # Habilitation (R-PS-5), masked documents (R-PS-4), administrators (R-PS-3)
    row(doctor(A.DOCUMENT_READ, a_document(type_code=RESIDENCE), denied=frozenset({RESIDENCE})),
        not_found("R-PS-5"), "R-PS-5-type-not-allowed"),
    row(facts(physician(BTG), A.DOCUMENT_SEARCH, a_document(type_code=RESIDENCE),
              denied=frozenset({RESIDENCE})), not_found("R-PS-5"),
        "R-PS-5-also-in-break-the-glass"),
    row(doctor(A.DOCUMENT_READ, a_document(MASKED)), not_found("R-PS-4"),
        "R-PS-4-masked-hidden-from-authorized"),
    row(doctor(A.DOCUMENT_READ, a_document(MASKED, own=True)), ok("MATRIX-TD3.2"),
        "R-PS-4-author-reads-masked"),
    row(doctor(A.DOCUMENT_READ, a_document(MASKED, structure=True)), ok("MATRIX-TD3.2"),
        "R-PS-4-author-structure-reads-masked"),
    row(doctor(A.DOCUMENT_READ, a_document(MASKED), admin=True), ok("MATRIX-TD3.2"),
        "R-PS-3-administrator-reads-masked"),
    row(facts(physician(BTG), A.DOCUMENT_READ, a_document(MASKED), admin=True),
        not_found("R-PS-4"), "R-PS-4-administrator-in-break-the-glass-needs-consent"),
    row(facts(physician(C15), A.DOCUMENT_READ, a_document(MASKED),
              record=a_record(allow_masked_in_emergency=True)), ok("MATRIX-TD3.2", NOTIFY),
        "R-PS-4-emergency-reads-masked-if-allowed"),
    row(doctor(A.AUDIT_READ, admin=True), ok("R-PS-7"), "R-PS-3-administrator-reads-all-traces"),
    row(doctor(A.CONSENT_BLOCK, admin=True), ok("R-PS-3"), "R-PS-3-administrator-blocks"),
    row(doctor(A.DOCUMENT_UNMASK, a_document(MASKED), admin=True), ok("MATRIX-TD3.3a"),
        "R-PS-3-administrator-unmasks-any"),
    row(doctor(A.DOCUMENT_UNMASK, a_document(MASKED, structure=True)),
        forbidden("MATRIX-TD3.3a", "DMP-0423"), "MATRIX-TD3.3a-unmask-only-own"),
    # Who changes what (DOC-3, DOC-5, footnotes 8 and *)
    row(doctor(A.DOCUMENT_DELETE, DOC), forbidden("MATRIX-TD3.3c", "DMP-0423"),
        "DOC-5-only-author-deletes"),
    row(doctor(A.DOCUMENT_REPLACE, OURS), forbidden("DOC-3", "DMP-0423"),
        "DOC-3-colleague-cannot-replace"),
    row(doctor(A.DOCUMENT_ARCHIVE, a_document(own=True, archived=True)), ok("MATRIX-TD3.3d"),
        "DOC-4-author-unarchives"),
    row(doctor(A.DOCUMENT_DELETE, PATIENT_DOC, admin=True), ok("DOC-5"),
        "DOC-5-administrator-deletes-patient-document"),
    row(facts(physician(C15), A.DOCUMENT_ARCHIVE, PATIENT_DOC),
        forbidden("DOC-5", "DMP-0423"), "DOC-5-patient-document-reserved"),
    row(facts(physician(C15), A.DOCUMENT_ARCHIVE, DOC), ok("MATRIX-TD3.3d", NOTIFY),
        "MATRIX-TD3.3d-regulating-physician-archives"),
    row(doctor(A.DOCUMENT_READ, a_document(status=DocumentStatus.ENTERED_IN_ERROR)),
        ok("MATRIX-TD3.2"), "API-9-professional-reads-deleted"),
    row(facts(physician(BTG), A.CONSENT_SELF_AUTHORIZE), forbidden("MATRIX-TD0.3", "DMP-0421"),
        "R-EM-1-no-self-authorization-in-emergency"),
    row(facts(physician(BTG), A.DOCUMENT_MASK, MINE), forbidden("MATRIX-TD3.3a", "DMP-0421"),
        "R-EM-1-no-masking-in-emergency"),
    row(doctor(A.RECORD_EXPORT), forbidden("R-PAT-2", "DMP-0421"),
        "R-PAT-2-professional-cannot-export"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "expected"), SCENARIOS)
def test_scenario(scenario: Facts, expected: Expect) -> None:
    expected.check(decide(scenario))


# --- The published rights matrix, cell by cell (dmp-rules §3.1) -----------------------------

COLUMN_CALLERS = {
    1: lambda: facts(nurse(), A.RECORD_STATE_READ, authorized=True),
    2: lambda: facts(nurse(C15), A.RECORD_STATE_READ),
    3: lambda: facts(nurse(BTG), A.RECORD_STATE_READ),
    4: lambda: facts(physician(), A.RECORD_STATE_READ, authorized=True),
    5: lambda: facts(physician(C15), A.RECORD_STATE_READ),
    6: lambda: facts(physician(BTG), A.RECORD_STATE_READ),
    7: lambda: facts(occupational(), A.RECORD_STATE_READ, authorized=True),
    8: lambda: facts(physician(), A.RECORD_STATE_READ, admin=True),
    9: lambda: facts(physician(BTG), A.RECORD_STATE_READ, admin=True),
    10: lambda: facts(secretary(), A.RECORD_STATE_READ),
    11: lambda: facts(establishment(), A.RECORD_STATE_READ),
    12: lambda: facts(establishment(C15), A.RECORD_STATE_READ),
}

# The published rows, transcribed from dmp-rules §3.1 (footnotes as digits), then OpenDMP's
# rows for the actions the published matrix does not list (SPEC.md ids).
# Archive for columns 10-12 follows API.md §11 (structure documents) instead of the sheet's N.
PUBLISHED = [
    ("TD0.2", A.RECORD_STATE_READ, None, "Y Y Y Y Y Y Y Y Y Y Y Y"),
    ("TD0.3-declare", A.CONSENT_SELF_AUTHORIZE, None, "Y N N Y N N N Y N Y N N"),
    ("TD0.3-remove", A.CONSENT_SELF_REVOKE, None, "Y N N Y N N N Y N N N N"),
    ("TD0.5", A.RECORD_SEARCH_DEMOGRAPHIC, None, "N Y N N Y N N N N N N Y"),
    ("TD1.6", A.CONSENT_LIST, None, "Y N N Y N N Y Y N N N N"),
    ("TD2.1", A.DOCUMENT_SUBMIT, None, "Y Y Y Y Y Y Y Y Y Y Y Y"),
    ("TD3.1-search", A.DOCUMENT_SEARCH, DOC, "Y Y Y Y Y Y Y Y Y N N N"),
    ("TD3.1-lookup", A.DOCUMENT_LOOKUP, DOC, "Y Y Y Y Y Y Y Y Y 5 5 5"),
    ("TD3.2-not-masked", A.DOCUMENT_READ, DOC, "Y Y Y Y Y Y N Y Y N N N"),
    ("TD3.2-masked", A.DOCUMENT_READ, a_document(MASKED), "6 7 7 6 7 7 N Y 7 N N N"),
    ("TD3.2-invisible", A.DOCUMENT_READ, a_document(HIDDEN_FROM_PATIENT, HIDDEN_FROM_RL),
     "Y Y Y Y Y Y N Y Y N N N"),
    ("TD3.2-archived", A.DOCUMENT_READ, a_document(archived=True), "Y Y Y Y Y Y N Y Y N N N"),
    ("TD3.2-obsolete", A.DOCUMENT_READ, a_document(status=DocumentStatus.SUPERSEDED),
     "Y Y Y Y Y Y N Y Y N N N"),
    ("TD3.2-deleted", A.DOCUMENT_READ, a_document(status=DocumentStatus.ENTERED_IN_ERROR),
     "Y Y Y Y Y Y N Y Y N N N"),
    ("TD3.3a-mask", A.DOCUMENT_MASK, DOC, "Y N N Y N N Y Y N N N N"),
    ("TD3.3a-unmask", A.DOCUMENT_UNMASK, a_document(MASKED), "8 N N 8 N N 8 Y N N N N"),
    ("TD3.3b", A.DOCUMENT_SHOW_TO_PATIENT, a_document(HIDDEN_FROM_PATIENT),
     "Y N N Y N N Y Y N N N N"),
    ("TD3.3d", A.DOCUMENT_ARCHIVE, DOC, "8 N N 8 Y Y 8 Y Y 9 9 9"),
    ("TD3.3c", A.DOCUMENT_DELETE, DOC, "8 8 8 8 8 8 8 8 8 9 9 9"),
    ("DOC-3", A.DOCUMENT_REPLACE, DOC, "8 8 8 8 8 8 8 8 8 9 9 9"),
    ("DOC-7-hide-rl", A.DOCUMENT_HIDE_FROM_REPRESENTATIVES, DOC, "Y N N Y N N Y Y N N N N"),
    ("DOC-7-show-rl", A.DOCUMENT_SHOW_TO_REPRESENTATIVES, a_document(HIDDEN_FROM_RL),
     "Y N N Y N N Y Y N N N N"),
    ("R-PS-3-authorize", A.CONSENT_AUTHORIZE, None, "N N N N N N N Y N N N N"),
    ("R-PS-3-revoke", A.CONSENT_REVOKE, None, "N N N N N N N Y N N N N"),
    ("R-PS-3-block", A.CONSENT_BLOCK, None, "N N N N N N N Y N N N N"),
    ("R-PS-7", A.AUDIT_READ, None, "T T T T T T T Y Y T T T"),
    ("REC-3-death", A.RECORD_CLOSE, None, "Y N N Y N N N Y N N N N"),
    *[(f"R-PAT-2-{action.value}", action, None, "N N N N N N N N N N N N")
      for action in (A.CONSENT_UNBLOCK, A.CONSENT_ADMINISTRATOR, A.RECORD_ACTIVATE,
                     A.RECORD_REOPEN, A.RECORD_EXPORT, A.RECORD_DESTROY, A.SETTINGS_READ,
                     A.SETTINGS_WRITE)],
]  # fmt: skip


def _cell_cases() -> list[object]:
    """Each cell as one or two cases: (facts, expected permission, expected obligations)."""
    cases: list[object] = []
    for name, action, document, cells in PUBLISHED:
        for column, cell in enumerate(cells.split(), start=1):
            base = replace(
                COLUMN_CALLERS[column](),
                action=action,
                document=document,
                closure_reason=ClosureReason.DEATH,
            )
            variants: list[tuple[str, Facts, bool]] = []
            if cell in "YNT":
                variants.append(("", base, cell != "N"))
            elif cell in "68":  # own documents only
                mine = replace(document, is_own=True) if document else None
                variants += [("-own", replace(base, document=mine), True), ("-other", base, False)]
            elif cell in "59":  # the structure's documents only
                ours = replace(document, is_of_own_structure=True) if document else None
                variants += [("-ours", replace(base, document=ours), True), ("-other", base, False)]
            else:  # 7: masked documents in an emergency only if the patient allowed it
                allowed = a_record(allow_masked_in_emergency=True)
                variants += [
                    ("-allowed", replace(base, record=allowed), True),
                    ("-refused", base, False),
                ]
            for suffix, scenario, permitted in variants:
                traces = {OWN_TRACES} if cell == "T" else set()
                notify = (
                    {NOTIFY} if permitted and scenario.actor.access_mode.is_emergency else set()
                )
                expected = frozenset(traces | notify) if permitted else frozenset()
                cases.append(
                    pytest.param(
                        scenario, permitted, expected, id=f"MATRIX-{name}-col{column}{suffix}"
                    )
                )
    return cases  # fmt: skip


MATRIX_CELLS = _cell_cases()


@pytest.mark.parametrize(("scenario", "permitted", "obligations"), MATRIX_CELLS)
def test_matrix_cell(scenario: Facts, permitted: bool, obligations: frozenset[Obligation]) -> None:
    decision = decide(scenario)
    assert decision.is_permitted is permitted, decision
    assert decision.obligations == obligations, decision
    if not permitted:
        assert decision.refusal in (Refusal.FORBIDDEN, Refusal.NOT_FOUND) and decision.code


def test_every_rule_of_the_table_is_exercised() -> None:
    """STYLE.md: each rule of `RULES` decides at least one scenario of this file."""
    cases = [*SCENARIOS, *MATRIX_CELLS]
    exercised = {rule.name for case in cases if (rule := first_rule(case.values[0]))}  # type: ignore[attr-defined]
    missing = [rule.name for rule in RULES if rule.name not in exercised]
    assert not missing


def test_rule_names_are_unique_and_ids_cited() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert all(rule.id.split("-")[0] in {"R", "REC", "DOC", "API", "AUD", "MATRIX", "NO"}
               for rule in RULES)  # fmt: skip


def test_no_rule_means_deny() -> None:
    assert first_rule(facts(SYSTEM, A.RECORD_STATE_READ)) is None
    assert decide(facts(SYSTEM, A.RECORD_STATE_READ)) == DEFAULT_DENY
