"""Scheduled jobs: INVISIBLE_PATIENT notice and lapse (DOC-7, NOT-4), retention and destruction
(REC-4, AUD-4, NOT-5), orphan blobs (SEC-5), key rotation (SEC-1), outbox delivery (§7)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from opendmp.domain.actors import SYSTEM_ACTOR
from opendmp.domain.audit import AuditEntry, Outcome
from opendmp.domain.documents import (
    INVISIBLE_PATIENT_NOTICE,
    Label,
    add_months,
    invisible_patient_lapse,
)
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.domain.notifications import NotificationKind
from opendmp.domain.record import Demographics, PatientSettings, Record, RecordState
from opendmp.services.access import audit, notify
from opendmp.services.context import Call, ServiceContext, new_id
from opendmp.services.ports import MailSender

BATCH = 500
_SYSTEM_CALL = Call(actor=SYSTEM_ACTOR, request_id="job")


@dataclass(frozen=True, slots=True)
class JobReport:
    name: str
    done: int
    failed: int = 0


def invisible_patient_notices(ctx: ServiceContext) -> JobReport:
    """NOT-4: two weeks after submission, tell the patient a document awaits a consultation.

    The notice id is derived from the document, so running the job twice sends one notice.
    """
    now = ctx.clock.now()
    done = 0
    with ctx.uow() as uow:
        documents = uow.documents.invisible_patient_between(
            submitted_after=add_months(now, -1),
            submitted_before=now - INVISIBLE_PATIENT_NOTICE,
            limit=BATCH,
        )
        for document in documents:
            notice_id = f"not4-{document.id}"
            if any(
                m.notification.id.startswith(notice_id)
                for m in uow.outbox.for_record(document.record_id)
            ):
                continue
            record = uow.records.get(document.record_id)
            if record is None or record.state is not RecordState.OPEN:
                continue
            notify(
                ctx,
                uow,
                record,
                NotificationKind.DOCUMENT_AWAITS_CONSULTATION,
                "Votre DMP a été mis à jour / Your record was updated",
                "Un document a été ajouté à votre dossier ; nous vous invitons à consulter un "
                "professionnel de santé, par exemple votre médecin traitant. / A document was "
                "added to your record; please see a health professional, e.g. your GP.",
                notification_id=notice_id,
            )
            done += 1
        uow.commit()
    return JobReport("invisible-patient-notices", done)


def lapse_invisible_patient(ctx: ServiceContext) -> JobReport:
    """DOC-7: one month after submission INVISIBLE_PATIENT lapses; the job makes it explicit
    (reads already apply the lapse through `DocumentEntry.effective_labels`)."""
    now = ctx.clock.now()
    done = 0
    with ctx.uow() as uow:
        documents = uow.documents.invisible_patient_between(
            submitted_after=datetime.min.replace(tzinfo=now.tzinfo),
            submitted_before=add_months(now, -1),
            limit=BATCH,
        )
        for document in documents:
            if now < invisible_patient_lapse(document.submitted_at):
                continue
            lapsed = replace(
                document,
                labels=document.labels - {Label.INVISIBLE_PATIENT},
                version=document.version + 1,
            )
            uow.documents.update(lapsed, expected_version=document.version)
            record = uow.records.get(document.record_id)
            audit(
                ctx,
                uow,
                _SYSTEM_CALL,
                action="record:document:label-lapse",
                record=record,
                outcome=Outcome.SUCCESS,
                rule="DOC-7",
                resource_type="DocumentReference",
                resource_id=document.id,
            )
            done += 1
        uow.commit()
    return JobReport("invisible-patient-lapse", done)


def destroy_due_records(ctx: ServiceContext) -> JobReport:
    """REC-4: crypto-shred (destroy the data key), purge rows and blobs, keep a pseudonymous
    tombstone in place of the record's audit chain (AUD-4), notify the patient (NOT-5)."""
    now = ctx.clock.now()
    done = 0
    with ctx.uow() as uow:
        due = uow.records.due_for_destruction(now, BATCH)
    for record in due:
        with ctx.uow() as uow:
            locked = uow.records.get_for_update(record.id)
            if locked is None or locked.state is not RecordState.CLOSED:
                continue
            if locked.destroy_after is None or locked.destroy_after > now:
                continue
            if locked.settings.email:
                notify(
                    ctx,
                    uow,
                    locked,
                    NotificationKind.RECORD_DESTROYED,
                    "Votre DMP a été supprimé / Your record was destroyed",
                    "Votre dossier médical partagé a été définitivement supprimé. / Your shared "
                    "record was permanently destroyed.",
                )
            documents = uow.documents.list_all(locked.id)
            uow.keys.destroy(locked.id)
            uow.records.purge(locked.id)
            uow.records.update(_remains(locked), expected_version=locked.version)
            uow.audit.replace_chain_with_tombstone(locked.id, _tombstone(locked.id, now))
            uow.commit()
        for document in documents:
            ctx.blobs.delete(f"{record.id}/{document.id}")
        done += 1
    return JobReport("destroy-due-records", done)


def _pseudonym(record_id: RecordId) -> str:
    return hashlib.sha256(f"opendmp-tombstone:{record_id}".encode()).hexdigest()[:32]


def _remains(record: Record) -> Record:
    """What is kept of a destroyed record: its id and state, no identity (REC-4)."""
    return replace(
        record,
        ins=Ins(record.ins.system, _pseudonym(record.id)),
        demographics=Demographics(),
        state=RecordState.DESTROYED,
        settings=PatientSettings(),
        representatives=(),
        version=record.version + 1,
    )


def _tombstone(record_id: RecordId, now: datetime) -> AuditEntry:
    pseudonym = _pseudonym(record_id)
    return AuditEntry(
        id=new_id(),
        record_id=record_id,
        recorded_at=now,
        action="record:destroy",
        outcome=Outcome.SUCCESS,
        rule="REC-4",
        actor_kind=SYSTEM_ACTOR.kind.value,
        actor_id=SYSTEM_ACTOR.id,
        detail=f"record {pseudonym} destroyed; data key shredded",
    )


def sweep_orphan_blobs(
    ctx: ServiceContext, *, older_than: timedelta = timedelta(hours=1)
) -> JobReport:
    """SEC-5: blobs staged by a submission that never committed (crash) are removed."""
    del older_than  # blob stores do not all expose times; absence of metadata decides
    done = 0
    with ctx.uow() as uow:
        for blob_key in list(ctx.blobs.keys()):
            record_id, _, document_id = blob_key.partition("/")
            if not document_id:
                continue
            if uow.documents.get(RecordId(record_id), DocumentId(document_id)) is None:
                ctx.blobs.delete(blob_key)
                done += 1
    return JobReport("sweep-orphan-blobs", done)


def rotate_keys(ctx: ServiceContext) -> JobReport:
    """SEC-1: rewrap every record key still wrapped by an older master key, batch by batch."""
    done = 0
    current = ctx.vault.current_master_key_id
    while True:
        with ctx.uow() as uow:
            stale = uow.keys.wrapped_by_other_than(current, BATCH)
            for record_id in stale:
                key = uow.keys.get(record_id)
                if key is not None:
                    uow.keys.put(record_id, ctx.vault.rewrap(key))
                    done += 1
            uow.commit()
        if len(stale) < BATCH:
            return JobReport("rotate-keys", done)


def deliver_notifications(
    ctx: ServiceContext, sender: MailSender, *, max_attempts: int = 8
) -> JobReport:
    """§7: send due outbox messages by e-mail; retried with backoff, marked sent once.

    Each message is claimed (row lock, SKIP LOCKED on PostgreSQL), sent and marked sent in one
    transaction, so two senders never take the same message and a sent one is never taken
    again. Portal-only recipients are marked delivered (they are shown in the portal).
    """
    done = failed = 0
    for _ in range(BATCH):
        now = ctx.clock.now()
        with ctx.uow() as uow:
            claimed = uow.outbox.claim_due(now, 1)  # locked until this transaction ends
            if not claimed:
                return JobReport("deliver-notifications", done, failed)
            message = claimed[0]
            note = message.notification
            try:
                if "@" in note.recipient:
                    sender.send(
                        to=note.recipient,
                        subject=note.subject,
                        body=note.body,
                        message_id=f"<{note.id}@opendmp>",
                    )
            except Exception as error:  # any delivery failure is retried later
                attempts = message.attempts + 1
                uow.outbox.mark_attempt_failed(
                    note.id,
                    error=type(error).__name__,
                    next_attempt_at=now + timedelta(minutes=2**attempts),
                    give_up=attempts >= max_attempts,
                )
                failed += 1
            else:
                uow.outbox.mark_sent(note.id, ctx.clock.now())
                done += 1
            uow.commit()
    return JobReport("deliver-notifications", done, failed)
