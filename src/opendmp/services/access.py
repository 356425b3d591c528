"""Gather facts, decide, audit, notify: the one path every use case takes (SPEC.md §5, §6).

The policy is pure (`domain.policy.decide`); this module is the one place that reads storage to
build its facts, writes the audit row of every attempt (AUD-1, refusals too) and turns the
decision's obligations into outbox events (R-EM-3, NOT-1).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from opendmp.domain.actors import Actor, ActorKind
from opendmp.domain.audit import AuditEntry, Outcome
from opendmp.domain.consents import Relation
from opendmp.domain.documents import DocumentEntry
from opendmp.domain.errors import BusinessRuleViolation, DmpError, Forbidden, NotFound
from opendmp.domain.notifications import Notification, NotificationKind
from opendmp.domain.policy import (
    Action,
    Decision,
    DocumentFacts,
    Facts,
    Obligation,
    RecordFacts,
    Refusal,
    decide,
)
from opendmp.domain.record import Record
from opendmp.services.context import Call, ServiceContext, new_id
from opendmp.services.ports import UnitOfWork

NO_RECORD_CHAIN = ""


def record_facts(record: Record, *, now: datetime, age_of_majority: int) -> RecordFacts:
    return RecordFacts(
        state=record.state,
        is_activated=record.is_activated,
        settings=record.settings,
        is_minor=record.is_minor(now.date(), age_of_majority),
    )


def document_facts(document: DocumentEntry, actor: Actor, *, now: datetime) -> DocumentFacts:
    return DocumentFacts(
        labels=document.effective_labels(now),
        status=document.status,
        is_archived=document.is_archived,
        type_code=document.type.code,
        is_own=document.is_authored_by(actor.id),
        is_of_own_structure=document.is_of_structure(_structure_of(actor)),
        is_patient_document=document.is_patient_document,
    )


def _structure_of(actor: Actor) -> str | None:
    """An establishment credential is its own structure (API.md §10)."""
    if actor.kind is ActorKind.ORGANIZATION:
        return actor.id
    return actor.structure


def gather(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor: Actor,
    action: Action,
    record: Record | None,
    document: DocumentEntry | None = None,
    **extra: object,
) -> Facts:
    """Build the decision's facts from storage: relation, habilitation, record and document."""
    now = ctx.clock.now()
    relation = Relation()
    if record is not None and actor.kind in (ActorKind.PROFESSIONAL, ActorKind.ORGANIZATION):
        relation = Relation.from_consents(
            uow.consents.for_professional(record.id, actor.id), actor.id
        )
    is_holder = record is not None and actor.is_person and actor.id == record.ins.value
    is_representative = (
        record is not None and actor.is_person and record.is_represented_by(actor.id)
    )
    facts = Facts(
        actor=actor,
        action=action,
        record=(
            record_facts(record, now=now, age_of_majority=ctx.deployment.limits.age_of_majority)
            if record is not None
            else None
        ),
        is_holder=is_holder,
        is_representative=is_representative,
        relation=relation,
        document=document_facts(document, actor, now=now) if document is not None else None,
        denied_types=ctx.habilitation.denied_types(actor.profession)
        if actor.kind is ActorKind.PROFESSIONAL
        else frozenset(),
    )
    if extra:
        facts = replace(facts, **extra)  # type: ignore[arg-type]
    return facts


def about_document(facts: Facts, document: DocumentEntry, *, now: datetime) -> Facts:
    """The same caller's facts about one more document of the record, without reading storage.

    The relation, habilitation and record facts do not depend on the document, so a search
    gathers once and checks each row with this (no query per row).
    """
    return replace(facts, document=document_facts(document, facts.actor, now=now))


def audit(
    ctx: ServiceContext,
    uow: UnitOfWork,
    call: Call,
    *,
    action: Action | str,
    record: Record | None,
    outcome: Outcome,
    rule: str,
    resource_type: str = "",
    resource_id: str = "",
    detail: str = "",
) -> AuditEntry:
    """Append one trace to the record's chain, in the caller's unit of work (AUD-1, AUD-2)."""
    actor = call.actor
    entry = AuditEntry(
        id=new_id(),
        record_id=record.id if record is not None else None,
        recorded_at=ctx.clock.now(),
        action=str(action),
        outcome=outcome,
        rule=rule,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        actor_name=actor.name,
        actor_profession=actor.profession or "",
        actor_structure=_structure_of(actor) or "",
        access_mode=actor.access_mode.value,
        purpose_reason=actor.purpose_reason,
        resource_type=resource_type,
        resource_id=resource_id,
        request_id=call.request_id,
        client=actor.client,
        detail=detail,
    )
    return uow.audit.append(entry)


def refusal_error(decision: Decision) -> DmpError:
    """The domain error a denial becomes; the edge maps it to 403/404/422 (API.md §6, §20)."""
    code = decision.code or "DMP-0403"
    if decision.refusal is Refusal.NOT_FOUND:
        return NotFound(code, "not found", rule=decision.rule)
    if decision.refusal is Refusal.BUSINESS_RULE:
        return BusinessRuleViolation(code, decision.reason, rule=decision.rule)
    return Forbidden(code, decision.reason, rule=decision.rule)


def enforce(
    ctx: ServiceContext,
    uow: UnitOfWork,
    call: Call,
    action: Action,
    record: Record | None,
    document: DocumentEntry | None = None,
    *,
    resource_type: str = "",
    resource_id: str = "",
    audit_success: bool = True,
    **extra: object,
) -> Decision:
    """Decide; on refusal, commit the refusal's trace and raise; on permit, honour obligations.

    Called before the use case writes anything, so committing a refusal's trace commits
    nothing else.
    """
    facts = gather(ctx, uow, call.actor, action, record, document, **extra)
    return enforce_facts(
        ctx,
        uow,
        call,
        facts,
        record,
        resource_type=resource_type,
        resource_id=resource_id,
        audit_success=audit_success,
    )


def enforce_facts(
    ctx: ServiceContext,
    uow: UnitOfWork,
    call: Call,
    facts: Facts,
    record: Record | None,
    *,
    resource_type: str = "",
    resource_id: str = "",
    audit_success: bool = True,
) -> Decision:
    """`enforce` on facts the caller already gathered (a search reuses them to narrow)."""
    action = facts.action
    decision = decide(facts)
    if not decision.is_permitted:
        audit(
            ctx,
            uow,
            call,
            action=action,
            record=record,
            outcome=Outcome.REFUSED,
            rule=decision.rule,
            resource_type=resource_type,
            resource_id=resource_id,
            detail=decision.reason,
        )
        uow.commit()
        raise refusal_error(decision)
    if record is not None:
        notify_obligations(ctx, uow, call, action, decision, record)
    if audit_success:
        audit(
            ctx,
            uow,
            call,
            action=action,
            record=record,
            outcome=Outcome.SUCCESS,
            rule=decision.rule,
            resource_type=resource_type,
            resource_id=resource_id,
        )
    return decision


def enforce_on_document(
    ctx: ServiceContext,
    uow: UnitOfWork,
    call: Call,
    action: Action,
    record: Record,
    document: DocumentEntry,
) -> Decision:
    """`enforce` for an action on one DocumentReference, traced with its id."""
    return enforce(
        ctx,
        uow,
        call,
        action,
        record,
        document,
        resource_type="DocumentReference",
        resource_id=document.id,
    )


_CONTENT_READS = frozenset(
    {Action.DOCUMENT_SEARCH, Action.DOCUMENT_READ, Action.DOCUMENT_LOOKUP, Action.RECORD_EXPORT}
)


def notify_obligations(
    ctx: ServiceContext,
    uow: UnitOfWork,
    call: Call,
    action: Action,
    decision: Decision,
    record: Record,
) -> None:
    """R-EM-3 / NOT-2 emergency notices; NOT-1 first access by a professional.

    Must run before the access's own trace is appended (first access is read from the trail).
    """
    actor = call.actor
    if Obligation.NOTIFY_EMERGENCY in decision.obligations:
        notify(
            ctx,
            uow,
            record,
            NotificationKind.EMERGENCY_ACCESS,
            "Accès en urgence à votre DMP / Emergency access to your record",
            f"Un professionnel ({actor.name or actor.id}) a accédé à votre dossier en mode "
            f"{actor.access_mode.value}. / A professional accessed your record in "
            "emergency mode.",
            to_administrators=True,
        )
    elif (
        actor.kind is ActorKind.PROFESSIONAL
        and action in _CONTENT_READS
        and not uow.audit.has_access_by(record.id, actor.id)
    ):
        notify(
            ctx,
            uow,
            record,
            NotificationKind.FIRST_ACCESS,
            "Premier accès à votre DMP / First access to your record",
            f"{actor.name or 'Un professionnel de santé'} a consulté votre dossier pour la "
            "première fois. / A health professional accessed your record for the first time.",
        )


def notify(
    ctx: ServiceContext,
    uow: UnitOfWork,
    record: Record,
    kind: NotificationKind,
    subject: str,
    body: str,
    *,
    to_administrators: bool = False,
    notification_id: str | None = None,
) -> None:
    """Queue a notice in the outbox, in the same transaction as the change (NOT rules)."""
    now = ctx.clock.now()
    recipients: list[str] = []
    if record.settings.email:
        recipients.append(record.settings.email)
    if to_administrators:
        recipients.extend(
            f"professional:{c.professional_id}"
            for c in uow.consents.for_record(record.id)
            if c.role.value == "administrator" and c.provision.value == "permit"
        )
    if not recipients:
        recipients.append(f"portal:{record.id}")  # shown in the patient's portal (§7)
    for index, recipient in enumerate(recipients):
        uow.outbox.add(
            Notification(
                id=f"{notification_id}-{index}" if notification_id else new_id(),
                record_id=record.id,
                kind=kind,
                recipient=recipient,
                subject=subject,
                body=body,
            ),
            at=now,
        )
