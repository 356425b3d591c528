"""Invariants of the access decision over generated facts (SPEC.md §5; STYLE.md: a property
test checks that the search narrowing agrees with `decide`)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.consents import Relation
from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.policy import (
    Action,
    DocumentFacts,
    Facts,
    Obligation,
    RecordFacts,
    Refusal,
    decide,
    narrow,
)
from opendmp.domain.record import ClosureReason, PatientSettings, RecordState

TYPES = ("11490-0", "ATTEST-RESID", "68599-0", "80788-3")

actors = st.builds(
    Actor,
    kind=st.sampled_from(ActorKind),
    id=st.just("810000000001"),
    profession=st.sampled_from(("10", "21", "60", None)),
    structure=st.sampled_from(("10B0000001", None)),
    auth_mode=st.sampled_from(AuthMode),
    card=st.sampled_from(Card),
    is_occupational_physician=st.booleans(),
    access_mode=st.sampled_from(AccessMode),
    purpose_reason=st.sampled_from(("", " ", "unconscious patient")),
)
records = st.none() | st.builds(
    RecordFacts,
    state=st.sampled_from(RecordState),
    is_activated=st.booleans(),
    settings=st.builds(
        PatientSettings,
        allow_centre_15=st.booleans(),
        allow_break_the_glass=st.booleans(),
        allow_masked_in_emergency=st.booleans(),
    ),
    is_minor=st.booleans(),
)
documents = st.builds(
    DocumentFacts,
    labels=st.frozensets(st.sampled_from(Label)),
    status=st.sampled_from(DocumentStatus),
    is_archived=st.booleans(),
    type_code=st.sampled_from(TYPES),
    is_own=st.booleans(),
    is_of_own_structure=st.booleans(),
    is_patient_document=st.booleans(),
)
all_facts = st.builds(
    Facts,
    actor=actors,
    action=st.sampled_from(Action),
    record=records,
    is_holder=st.booleans(),
    is_representative=st.booleans(),
    relation=st.builds(Relation, st.booleans(), st.booleans(), st.booleans()),
    document=st.none() | documents,
    denied_types=st.frozensets(st.sampled_from(TYPES)),
    closure_reason=st.none() | st.sampled_from(ClosureReason),
)
# Callers likely to be admitted (a live record, a reason, nobody blocked), so that the
# narrowing property meets many scopes and not only refusals.
likely_admitted = st.builds(
    Facts,
    actor=st.builds(
        replace,
        actors,
        kind=st.sampled_from((ActorKind.PROFESSIONAL, ActorKind.PERSON)),
        auth_mode=st.just(AuthMode.DIRECT),
        card=st.sampled_from((Card.CPS, Card.CPF)),
        purpose_reason=st.just("unconscious patient"),
    ),
    action=st.just(Action.DOCUMENT_SEARCH),
    record=st.builds(
        RecordFacts,
        state=st.sampled_from((RecordState.OPEN, RecordState.CLOSED)),
        is_activated=st.booleans(),
        settings=st.builds(PatientSettings, allow_masked_in_emergency=st.booleans()),
        is_minor=st.booleans(),
    ),
    is_holder=st.booleans(),
    is_representative=st.booleans(),
    relation=st.builds(Relation, st.just(True), st.just(False), st.booleans()),
    denied_types=st.frozensets(st.sampled_from(TYPES)),
)
CONSULTING = (
    Action.DOCUMENT_SEARCH,
    Action.DOCUMENT_LOOKUP,
    Action.DOCUMENT_READ,
    Action.CONSENT_LIST,
    Action.AUDIT_READ,
)


@settings(max_examples=500)
@given(all_facts)
def test_decide_never_raises_and_decisions_are_well_formed(facts: Facts) -> None:
    """STYLE.md: decide never raises; a refusal has a kind and a stable code, a grant none."""
    decision = decide(facts)
    assert decision.rule
    if decision.is_permitted:
        assert decision.refusal is None and not decision.code
    else:
        assert decision.refusal is not None and decision.code.startswith("DMP-")
        assert not decision.obligations


@settings(max_examples=400)
@given(all_facts, st.sampled_from(CONSULTING))
def test_r_ps_1_blocked_professional_never_searches_reads_or_lists(
    facts: Facts, action: Action
) -> None:
    actor = replace(facts.actor, kind=ActorKind.PROFESSIONAL)
    blocked = replace(facts.relation, is_blocked=True)
    assert not decide(replace(facts, actor=actor, relation=blocked, action=action)).is_permitted


@settings(max_examples=500)
@given(all_facts, st.sampled_from((AccessMode.BREAK_THE_GLASS, AccessMode.CENTRE_15)))
def test_r_em_3_every_permitted_emergency_access_notifies(facts: Facts, mode: AccessMode) -> None:
    decision = decide(replace(facts, actor=replace(facts.actor, access_mode=mode)))
    if decision.is_permitted:
        assert Obligation.NOTIFY_EMERGENCY in decision.obligations


@settings(max_examples=1000)
@given(all_facts | likely_admitted, documents)
def test_narrow_agrees_with_decide_on_every_document(facts: Facts, document: DocumentFacts) -> None:
    """HAPI-style search narrowing: the filter admits exactly what decide lets the caller see,
    for a search and for a lookup by identifier (R-PS-6, footnote 5)."""
    for action in (Action.DOCUMENT_SEARCH, Action.DOCUMENT_LOOKUP):
        scope = narrow(replace(facts, action=action))
        search = replace(facts, action=action, document=document)
        permitted = decide(search).is_permitted
        if scope is None:
            assert not permitted
            assert not decide(replace(search, document=None)).is_permitted
        else:
            assert scope.admits(document) == permitted


@settings(max_examples=300)
@given(all_facts, documents)
def test_persons_never_see_deleted_documents(facts: Facts, document: DocumentFacts) -> None:
    """API.md §9: a deleted document is 404 for the patient and the representatives."""
    deleted = replace(document, status=DocumentStatus.ENTERED_IN_ERROR)
    actor = replace(facts.actor, kind=ActorKind.PERSON)
    for action in (Action.DOCUMENT_SEARCH, Action.DOCUMENT_READ):
        decision = decide(replace(facts, actor=actor, action=action, document=deleted))
        assert not decision.is_permitted


@settings(max_examples=200)
@given(all_facts)
def test_operators_never_reach_medical_content(facts: Facts) -> None:
    """API.md §28."""
    operator = replace(facts, actor=replace(facts.actor, kind=ActorKind.OPERATOR))
    for action in (*CONSULTING, Action.RECORD_EXPORT):
        decision = decide(replace(operator, action=action))
        assert not decision.is_permitted and decision.refusal is Refusal.FORBIDDEN
