"""Open, find, activate, close, reopen a record; the patient's settings (SPEC.md §3, §5.4)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from opendmp.domain import record as lifecycle
from opendmp.domain.actors import ActorKind
from opendmp.domain.audit import Outcome
from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.errors import BusinessRuleViolation, Conflict, NotFound
from opendmp.domain.identifiers import Ins, RecordId, parse_ins
from opendmp.domain.notifications import NotificationKind
from opendmp.domain.policy import Action
from opendmp.domain.record import (
    ClosureReason,
    Demographics,
    OpeningChannel,
    PatientSettings,
    Record,
    RecordState,
    Representative,
)
from opendmp.services.access import audit, enforce, notify
from opendmp.services.context import Call, ServiceContext, new_id
from opendmp.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class OpenRecordCommand:
    """REC-1: `$dmp-open` (a PS with consent), self-service, or one row of a bulk import."""

    ins: Ins
    demographics: Demographics
    has_consent: bool
    representatives: tuple[Representative, ...] = ()
    settings: PatientSettings | None = None


def validated_ins(ctx: ServiceContext, ins: Ins) -> Ins:
    """ID-1, ID-2: a valid key and a system this deployment accepts, else 422."""
    return parse_ins(ins.system, ins.value, allow_test=ctx.deployment.allow_test_ins)


def open_record(ctx: ServiceContext, call: Call, command: OpenRecordCommand) -> Record:
    """REC-1: refused without consent, with an invalid INS, or when a record exists (409)."""
    ins = validated_ins(ctx, command.ins)
    channel = _channel_of(call)
    if not command.has_consent and channel is not OpeningChannel.BULK_IMPORT:
        raise BusinessRuleViolation(
            "DMP-0301", "the patient's consent is required to open a record", rule="REC-1"
        )
    now = ctx.clock.now()
    record = Record(
        id=RecordId(new_id()),
        ins=ins,
        demographics=command.demographics,
        state=RecordState.OPEN,
        opened_at=now,
        opened_by=call.actor.id,
        channel=channel,
        is_activated=channel is not OpeningChannel.BULK_IMPORT,
        settings=(command.settings or PatientSettings()).normalized(),
        representatives=tuple(
            replace(r, ins=validated_ins(ctx, r.ins)) for r in command.representatives
        ),
    )
    if record.representatives and not record.is_minor(
        now.date(), ctx.deployment.limits.age_of_majority
    ):
        raise BusinessRuleViolation(
            "DMP-0307",
            "legal representatives can only be named for a minor",
            rule="REC-6",
            path="Parameters.parameter('representative')",
        )
    with ctx.uow() as uow:
        enforce(
            ctx,
            uow,
            call,
            Action.RECORD_OPEN,
            None,
            audit_success=False,
            is_holder=call.actor.is_person and call.actor.id == ins.value,
        )
        if uow.records.get_by_ins(ins.value) is not None:
            raise Conflict("DMP-0300", "a record already exists for this INS", rule="REC-1")
        uow.records.add(record)
        uow.keys.put(record.id, ctx.vault.new_data_key())
        if channel is OpeningChannel.PROFESSIONAL and call.actor.kind is ActorKind.PROFESSIONAL:
            # The PS who opens the record with the patient's consent is authorized (R-PS-2).
            uow.consents.add(
                Consent(
                    id=new_id(),
                    record_id=record.id,
                    professional_id=call.actor.id,
                    provision=Provision.PERMIT,
                    role=ConsentRole.PARTICIPANT,
                    performer_kind=call.actor.kind.value,
                    performer_id=call.actor.id,
                    recorded_at=now,
                    professional_name=call.actor.name,
                )
            )
        audit(
            ctx,
            uow,
            call,
            action=Action.RECORD_OPEN,
            record=record,
            outcome=Outcome.SUCCESS,
            rule="REC-1",
            resource_type="Patient",
            resource_id=record.id,
            detail=channel.value,
        )
        uow.commit()
    return record


def _channel_of(call: Call) -> OpeningChannel:
    if call.actor.kind is ActorKind.OPERATOR:
        return OpeningChannel.BULK_IMPORT
    if call.actor.kind is ActorKind.PERSON:
        return OpeningChannel.SELF_SERVICE
    return OpeningChannel.PROFESSIONAL


def load_record(uow: UnitOfWork, record_id: str, *, for_update: bool = False) -> Record:
    record = (
        uow.records.get_for_update(RecordId(record_id))
        if for_update
        else uow.records.get(RecordId(record_id))
    )
    if record is None or record.state is RecordState.DESTROYED:
        raise NotFound("DMP-0404", "no such record")
    return record


def read_record(ctx: ServiceContext, call: Call, record_id: str) -> Record:
    """TD0.2/TD1.3a: the record's state, traced (API.md §4)."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        enforce(ctx, uow, call, Action.RECORD_STATE_READ, record, resource_type="Patient")
        uow.commit()
    return record


def find_record(ctx: ServiceContext, call: Call, ins: Ins) -> Record | None:
    """PDQm ITI-78 by INS: does this patient have a record, in what state (TD0.2)."""
    ins = validated_ins(ctx, ins)
    with ctx.uow() as uow:
        record = uow.records.get_by_ins(ins.value)
        if record is None:
            uow.commit()
            return None
        enforce(ctx, uow, call, Action.RECORD_STATE_READ, record, resource_type="Patient")
        uow.commit()
    return record


def find_by_demographics(
    ctx: ServiceContext,
    call: Call,
    *,
    family: str,
    given: str | None = None,
    birth_date: str | None = None,
) -> list[Record]:
    """R-EM-2, TD0.5: search without the INS, in centre-15 mode only."""
    with ctx.uow() as uow:
        enforce(ctx, uow, call, Action.RECORD_SEARCH_DEMOGRAPHIC, None)
        found = uow.records.find_by_demographics(
            family=family, given=given, birth_date=birth_date, limit=ctx.deployment.limits.max_count
        )
        uow.commit()
    return [r for r in found if r.state is not RecordState.DESTROYED]


def close_record(ctx: ServiceContext, call: Call, record_id: str, reason: ClosureReason) -> Record:
    """REC-3 and NOT-5: by the patient at any time, on death by a PS or the operator."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id, for_update=True)
        enforce(
            ctx,
            uow,
            call,
            Action.RECORD_CLOSE,
            record,
            resource_type="Patient",
            resource_id=record.id,
            closure_reason=reason,
        )
        closed = lifecycle.close(record, reason=reason, at=ctx.clock.now())
        uow.records.update(closed, expected_version=record.version)
        notify(
            ctx,
            uow,
            closed,
            NotificationKind.RECORD_CLOSED,
            "Votre DMP a été fermé / Your record was closed",
            "Votre dossier médical partagé a été fermé. Vous pouvez encore le consulter, "
            "l'exporter et le rouvrir. / Your shared record was closed; you can still read, "
            "export and reopen it.",
        )
        uow.commit()
    return closed


def reopen_record(ctx: ServiceContext, call: Call, record_id: str) -> Record:
    """REC-5 and NOT-5."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id, for_update=True)
        enforce(
            ctx,
            uow,
            call,
            Action.RECORD_REOPEN,
            record,
            resource_type="Patient",
            resource_id=record.id,
        )
        reopened = lifecycle.reopen(record)
        uow.records.update(reopened, expected_version=record.version)
        notify(
            ctx,
            uow,
            reopened,
            NotificationKind.RECORD_REOPENED,
            "Votre DMP a été rouvert / Your record was reopened",
            "Votre dossier médical partagé est de nouveau ouvert. / Your shared record is open "
            "again.",
        )
        uow.commit()
    return reopened


def activate_record(
    ctx: ServiceContext, call: Call, record_id: str, settings: PatientSettings
) -> Record:
    """REC-2: the patient's first login chooses default confidentiality and consents."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id, for_update=True)
        enforce(ctx, uow, call, Action.RECORD_ACTIVATE, record, resource_type="Patient")
        active = lifecycle.activate(record, settings=settings)
        uow.records.update(active, expected_version=record.version)
        uow.commit()
    return active


def read_settings(ctx: ServiceContext, call: Call, record_id: str) -> PatientSettings:
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        enforce(ctx, uow, call, Action.SETTINGS_READ, record, resource_type="Patient")
        uow.commit()
    return record.settings


def update_settings(
    ctx: ServiceContext, call: Call, record_id: str, settings: PatientSettings
) -> PatientSettings:
    """§5.4, DOC-8, NOT-3: masked-in-emergency forced off when both modes are refused."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id, for_update=True)
        enforce(ctx, uow, call, Action.SETTINGS_WRITE, record, resource_type="Patient")
        changed = replace(record, settings=settings.normalized(), version=record.version + 1)
        uow.records.update(changed, expected_version=record.version)
        uow.commit()
    return changed.settings


def request_destruction(ctx: ServiceContext, call: Call, record_id: str) -> Record:
    """REC-4: early destruction of a closed record, within three months."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id, for_update=True)
        enforce(ctx, uow, call, Action.RECORD_DESTROY, record, resource_type="Patient")
        asked = lifecycle.request_early_destruction(record, at=ctx.clock.now())
        uow.records.update(asked, expected_version=record.version)
        uow.commit()
    return asked


def records_of_person(ctx: ServiceContext, call: Call) -> list[Record]:
    """The records a person may act on: their own and those of minors they represent."""
    with ctx.uow() as uow:
        own = uow.records.get_by_ins(call.actor.id)
        represented = uow.records.represented_by(call.actor.id)
    records = ([own] if own is not None else []) + [
        r
        for r in represented
        if r.is_minor(ctx.clock.now().date(), ctx.deployment.limits.age_of_majority)
    ]
    return [r for r in records if r.state is not RecordState.DESTROYED]
