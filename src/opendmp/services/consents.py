"""Who may access: authorize, self-declare, block, unblock, administrators (R-PS-1..3, R-PAT-2).

A relationship is a Consent row (API.md, Consent): permit = authorized, deny = blocked, permit
with role administrator = administrator. Blocking ends the professional's authorizations: after
unblocking, the patient's agreement must be obtained again (dmp-rules §3.3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opendmp.domain.actors import ActorKind
from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.errors import BusinessRuleViolation, NotFound
from opendmp.domain.policy import Action
from opendmp.services.access import enforce
from opendmp.services.context import Call, ServiceContext, new_id
from opendmp.services.ports import UnitOfWork
from opendmp.services.records import load_record


@dataclass(frozen=True, slots=True)
class ConsentCommand:
    record_id: str
    professional_id: str  # IDNPS of provision.actor
    provision: Provision
    role: ConsentRole = ConsentRole.PARTICIPANT
    professional_name: str = ""


def _action_for(call: Call, command: ConsentCommand) -> Action:
    if command.provision is Provision.DENY:
        return Action.CONSENT_BLOCK
    if command.role is ConsentRole.ADMINISTRATOR:
        return Action.CONSENT_ADMINISTRATOR
    if call.actor.kind is not ActorKind.PERSON and call.actor.id == command.professional_id:
        return Action.CONSENT_SELF_AUTHORIZE
    return Action.CONSENT_AUTHORIZE


def record_consent(ctx: ServiceContext, call: Call, command: ConsentCommand) -> Consent:
    """`POST Consent`: a PS declares itself authorized (attesting the patient's consent), the
    patient authorizes, blocks or names an administrator; an administrator blocks (R-PS-3)."""
    action = _action_for(call, command)
    with ctx.uow() as uow:
        record = load_record(uow, command.record_id, for_update=True)
        enforce(ctx, uow, call, action, record, resource_type="Consent")
        now = ctx.clock.now()
        existing = uow.consents.for_professional(record.id, command.professional_id)
        if command.provision is Provision.DENY:
            for other in existing:  # blocking ends every authorization of this PS
                uow.consents.update(replace(other, is_active=False, ended_at=now))
        elif any(c.provision is Provision.DENY for c in existing):
            raise BusinessRuleViolation(
                "DMP-0461",
                "this professional is blocked by the patient; unblock first",
                rule="R-PS-1",
            )
        else:
            for same in existing:
                if same.provision is command.provision and same.role is command.role:
                    uow.commit()
                    return same
        consent = Consent(
            id=new_id(),
            record_id=record.id,
            professional_id=command.professional_id,
            provision=command.provision,
            role=command.role,
            performer_kind=call.actor.kind.value,
            performer_id=call.actor.id,
            recorded_at=now,
            professional_name=command.professional_name,
        )
        uow.consents.add(consent)
        uow.commit()
    return consent


def list_consents(ctx: ServiceContext, call: Call, record_id: str) -> list[Consent]:
    """TD1.6 / R-PAT-1: the authorized and blocked professionals of the record."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        enforce(ctx, uow, call, Action.CONSENT_LIST, record, resource_type="Consent")
        consents = uow.consents.for_record(record.id)
        uow.commit()
    return consents


def get_consent(ctx: ServiceContext, call: Call, consent_id: str) -> Consent:
    with ctx.uow() as uow:
        consent = _load(uow, consent_id)
        record = load_record(uow, consent.record_id)
        enforce(
            ctx,
            uow,
            call,
            Action.CONSENT_LIST,
            record,
            resource_type="Consent",
            resource_id=consent.id,
        )
        uow.commit()
    return consent


def end_consent(ctx: ServiceContext, call: Call, consent_id: str) -> Consent:
    """`DELETE Consent/<id>`: revoke an authorization, unblock, or remove an administrator."""
    with ctx.uow() as uow:
        consent = _load(uow, consent_id)
        record = load_record(uow, consent.record_id, for_update=True)
        if consent.provision is Provision.DENY:
            action = Action.CONSENT_UNBLOCK
        elif consent.role is ConsentRole.ADMINISTRATOR:
            action = Action.CONSENT_ADMINISTRATOR
        elif call.actor.kind is not ActorKind.PERSON and call.actor.id == consent.professional_id:
            action = Action.CONSENT_SELF_REVOKE
        else:
            action = Action.CONSENT_REVOKE
        enforce(ctx, uow, call, action, record, resource_type="Consent", resource_id=consent.id)
        ended = replace(consent, is_active=False, ended_at=ctx.clock.now())
        uow.consents.update(ended)
        uow.commit()
    return ended


def _load(uow: UnitOfWork, consent_id: str) -> Consent:
    consent = uow.consents.get(consent_id)
    if consent is None or not consent.is_active:
        raise NotFound("DMP-0404", "no such consent")
    return consent
