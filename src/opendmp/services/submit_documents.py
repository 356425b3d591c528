"""ITI-65 Provide Document Bundle: all or nothing (SPEC.md DOC-1..3, DOC-6..8, SEC-1, SEC-5).

Order: resolve the record, decide, validate every document (collecting every issue), lock and
check the documents replaced, encrypt and stage the blobs, then write metadata, audit and outbox
in one transaction. A failure before commit deletes the staged blobs; a crash leaves only
orphan blobs, which `jobs.sweep_orphan_blobs` removes (no metadata points to them).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime

from opendmp.domain.actors import ActorKind
from opendmp.domain.audit import Outcome
from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    SubmissionSet,
    Submitter,
)
from opendmp.domain.errors import (
    BusinessRuleViolation,
    Conflict,
    DmpError,
    NotFound,
    TooLarge,
    ValidationFailed,
)
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.domain.metadata import (
    DocumentMetadata,
    Issue,
    SubmissionSetMetadata,
    check_document,
    check_submission_set,
)
from opendmp.domain.notifications import NotificationKind
from opendmp.domain.policy import Action
from opendmp.domain.record import Record, RecordState
from opendmp.services.access import audit, enforce, notify
from opendmp.services.context import Call, ServiceContext, new_id
from opendmp.services.ports import UnitOfWork

# A coded element the MHD Minimal Metadata rules let a bundle omit (API.md §25); the DOC-1
# checks of the other profiles require it, so it is never stored under them.
NOT_GIVEN = Coding(system="", code="")


@dataclass(frozen=True, slots=True)
class DocumentDraft:
    """One DocumentReference of the bundle with its bytes, as parsed by the edge."""

    ref: str  # the entry's fullUrl, to report issues and locations per entry
    unique_id: str
    data: bytes
    content_type: str
    type: Coding | None
    category: Coding | None
    date: datetime | None
    authors: tuple[Author, ...]
    confidentiality: tuple[Coding, ...]
    format: Coding | None = None
    facility_type: Coding | None = None
    practice_setting: Coding | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    events: tuple[Coding, ...] = ()
    custodian: str | None = None
    title: str = ""
    language: str = ""
    description: str = ""
    declared_size: int | None = None
    declared_hash: str | None = None  # base64 SHA-1 (FHIR R4 Attachment.hash)
    replaces: str | None = None  # id of the DocumentReference it replaces (DOC-3)
    subject: Ins | None = None
    status: str = "current"
    index: int = 0  # position of the DocumentReference in the bundle, for FHIRPaths
    creation: datetime | None = None  # attachment.creation (required by MHD comprehensive)


@dataclass(frozen=True, slots=True)
class SubmissionSetDraft:
    unique_id: str
    source_id: str
    content_type: Coding | None
    date: datetime | None
    authors: tuple[Author, ...]
    title: str = ""
    subject: Ins | None = None
    index: int | None = None  # position of the List in the bundle, for FHIRPaths


@dataclass(frozen=True, slots=True)
class SubmitCommand:
    record_id: str | None  # `Patient/<id>` reference, or …
    subject_ins: Ins | None  # … the INS (API.md §14)
    submission_set: SubmissionSetDraft
    documents: tuple[DocumentDraft, ...]
    subject_path: str = ""  # FHIRPath of the element that names the patient, for errors
    # DOC-1 rules the bundle declares (API.md §25: `mhd-minimal` for an MHD Minimal bundle);
    # None: the deployment's profile
    metadata_profile: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    record: Record
    submission_set: SubmissionSet
    documents: tuple[DocumentEntry, ...]
    warnings: dict[str, list[Issue]] = field(default_factory=dict)  # by draft ref


def submit_documents(ctx: ServiceContext, call: Call, command: SubmitCommand) -> SubmitResult:
    """DOC-1: every document valid or none stored; replacement and labels applied (DOC-3, -8)."""
    limits = ctx.deployment.limits
    if len(command.documents) + 1 > limits.max_bundle_entries:
        raise TooLarge("DMP-0481", f"a bundle holds at most {limits.max_bundle_entries} entries")
    for draft in command.documents:
        if len(draft.data) > limits.max_document_bytes:
            raise TooLarge(
                "DMP-0482",
                f"document {draft.unique_id} exceeds {limits.max_document_bytes} bytes",
                rule="SEC-3",
            )
    if call.actor.kind is ActorKind.PERSON:
        command = replace(
            command, documents=tuple(_patient_defaults(ctx, d) for d in command.documents)
        )
    now = ctx.clock.now()
    staged: list[str] = []
    try:
        with ctx.uow() as uow:
            record = _resolve_record(ctx, uow, command)
            enforce(
                ctx,
                uow,
                call,
                Action.DOCUMENT_SUBMIT,
                record,
                resource_type="Bundle",
                audit_success=False,
            )
            if record.state is not RecordState.OPEN:
                raise BusinessRuleViolation("DMP-0430", "the record is closed", rule="REC-3")
            warnings = _validate(ctx, command, record)
            replaced = _lock_replaced(ctx, uow, call, record, command)
            entries = [
                _entry(ctx, call, record, draft, set_id="", now=now) for draft in command.documents
            ]
            submission_set = _submission_set(call, record, command.submission_set, entries, now)
            entries = [replace(e, submission_set_id=submission_set.id) for e in entries]
            key = uow.keys.get(record.id)
            if key is None:
                raise NotFound("DMP-0404", "no such record")
            for entry, draft in zip(entries, command.documents, strict=True):
                blob_key = f"{record.id}/{entry.id}"
                ciphertext = ctx.vault.encrypt(key, draft.data, context=blob_key)
                ctx.blobs.put(blob_key, ciphertext)
                staged.append(blob_key)
            for entry, draft in zip(entries, command.documents, strict=True):
                old = replaced.get(draft.ref)
                if old is not None:
                    superseded = replace(
                        old,
                        status=DocumentStatus.SUPERSEDED,
                        replaced_by=entry.id,
                        version=old.version + 1,
                    )
                    uow.documents.update(superseded, expected_version=old.version)
            for entry in entries:
                uow.documents.add(entry)
            uow.documents.add_submission_set(submission_set)
            for entry in entries:
                audit(
                    ctx,
                    uow,
                    call,
                    action=Action.DOCUMENT_SUBMIT
                    if entry.replaces is None
                    else Action.DOCUMENT_REPLACE,
                    record=record,
                    outcome=Outcome.SUCCESS,
                    rule="DOC-1" if entry.replaces is None else "DOC-3",
                    resource_type="DocumentReference",
                    resource_id=entry.id,
                )
            _notify_new_documents(ctx, uow, record, entries)
            uow.commit()
            staged.clear()
    finally:
        for blob_key in staged:
            ctx.blobs.delete(blob_key)
    return SubmitResult(record, submission_set, tuple(entries), warnings)


EXP_PATIENT = Coding(
    "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS",
    "EXP_PATIENT",
    "Expression personnelle du patient",
)


def _patient_defaults(ctx: ServiceContext, draft: DocumentDraft) -> DocumentDraft:
    """API.md §15: a patient's document gets the service as custodian and EXP_PATIENT as
    facility and setting when the client leaves them out."""
    return replace(
        draft,
        custodian=draft.custodian or ctx.deployment.service_organization,
        facility_type=draft.facility_type or EXP_PATIENT,
        practice_setting=draft.practice_setting or EXP_PATIENT,
    )


def _subject_path(command: SubmitCommand) -> str:
    """The subject of the bundle's first DocumentReference (API.md §14, §26)."""
    if command.subject_path:
        return command.subject_path
    if command.documents:
        return f"Bundle.entry[{command.documents[0].index}].resource.subject"
    return "DocumentReference.subject"


def _resolve_record(ctx: ServiceContext, uow: UnitOfWork, command: SubmitCommand) -> Record:
    """API.md §14, §26: the subject names an open record; reference and INS must agree."""
    by_id = uow.records.get(RecordId(command.record_id)) if command.record_id else None
    if command.record_id and by_id is None:
        raise BusinessRuleViolation(
            "DMP-0432",
            "the subject does not name a record of this service",
            rule="DOC-1",
            path=_subject_path(command),
        )
    record = by_id
    if command.subject_ins is not None:
        by_ins = uow.records.get_by_ins(command.subject_ins.value)
        if by_ins is None:
            raise BusinessRuleViolation(
                "DMP-0432",
                "no open record for this INS",
                rule="DOC-1",
                path=_subject_path(command),
            )
        if record is not None and record.id != by_ins.id:
            raise BusinessRuleViolation(
                "DMP-0483",
                "subject reference and identifier name different patients",
                rule="DOC-1",
                path=_subject_path(command),
            )
        record = by_ins
    if record is None or record.state is RecordState.DESTROYED:
        raise BusinessRuleViolation(
            "DMP-0432",
            "no open record for this subject",
            rule="DOC-1",
            path=_subject_path(command),
        )
    return record


def _validate(
    ctx: ServiceContext, command: SubmitCommand, record: Record
) -> dict[str, list[Issue]]:
    """DOC-1: collect every issue of every document, then refuse the bundle if any is an error."""
    profile = command.metadata_profile or ctx.deployment.profile
    errors: list[DmpError] = []
    warnings: dict[str, list[Issue]] = {}
    ss = command.submission_set
    set_base = f"Bundle.entry[{ss.index}].resource" if ss.index is not None else None
    for issue in check_submission_set(
        SubmissionSetMetadata(
            unique_id=ss.unique_id,
            source_id=ss.source_id,
            content_type=ss.content_type,
            date=ss.date,
            authors=ss.authors,
            subject=str(ss.subject or record.ins),
        ),
        profile=profile,
    ):
        if issue.is_error:
            errors.append(issue.as_error(prefix=set_base))
        else:
            warnings.setdefault("submission-set", []).append(issue)
    seen: set[str] = set()
    for draft in command.documents:
        base = f"Bundle.entry[{draft.index}].resource"
        if draft.unique_id in seen:
            errors.append(
                BusinessRuleViolation(
                    "DMP-0410",
                    f"uniqueId {draft.unique_id} appears twice in the bundle",
                    rule="DOC-1",
                    path=f"{base}.masterIdentifier",
                )
            )
        seen.add(draft.unique_id)
        if draft.subject is not None and draft.subject.value != record.ins.value:
            errors.append(
                BusinessRuleViolation(
                    "DMP-0484",
                    "the document's subject is not the record's INS",
                    rule="DOC-1",
                    path=f"{base}.subject",
                )
            )
        for issue in check_document(_metadata_of(draft, record), profile=profile):
            if issue.is_error:
                errors.append(issue.as_error(prefix=base))
            else:
                warnings.setdefault(draft.ref, []).append(issue)
    if errors:
        raise ValidationFailed(errors)
    return warnings


def _metadata_of(draft: DocumentDraft, record: Record) -> DocumentMetadata:
    return DocumentMetadata(
        unique_id=draft.unique_id,
        status=draft.status,
        subject=str(draft.subject or record.ins),
        custodian=draft.custodian,
        type=draft.type,
        category=draft.category,
        date=draft.date,
        authors=draft.authors,
        confidentiality=draft.confidentiality,
        content_type=draft.content_type,
        format=draft.format,
        facility_type=draft.facility_type,
        practice_setting=draft.practice_setting,
        period_start=draft.period_start,
        data=draft.data,
        declared_size=draft.declared_size,
        declared_hash=draft.declared_hash,
        title=draft.title,
        language=draft.language,
        creation=draft.creation,
        is_patient_document=any(a.kind is AuthorKind.PATIENT for a in draft.authors),
    )


def _lock_replaced(
    ctx: ServiceContext, uow: UnitOfWork, call: Call, record: Record, command: SubmitCommand
) -> dict[str, DocumentEntry]:
    """DOC-3: lock each replaced document; only a current one, only by its author/structure."""
    locked: dict[str, DocumentEntry] = {}
    for draft in command.documents:
        if draft.replaces is None:
            continue
        old = uow.documents.get_for_update(record.id, DocumentId(draft.replaces))
        if old is None:
            raise NotFound(
                "DMP-0441",
                "the replaced document does not exist",
                rule="DOC-3",
                path=f"Bundle.entry[{draft.index}].resource.relatesTo[0].target",
            )
        enforce(
            ctx,
            uow,
            call,
            Action.DOCUMENT_REPLACE,
            record,
            old,
            resource_type="DocumentReference",
            resource_id=old.id,
            audit_success=False,
        )
        if old.status is not DocumentStatus.CURRENT:
            raise Conflict(
                "DMP-0442",
                "the replaced document is no longer current",
                rule="DOC-3",
                path=f"Bundle.entry[{draft.index}].resource.relatesTo[0].target",
            )
        locked[draft.ref] = old
    return locked


def _entry(
    ctx: ServiceContext,
    call: Call,
    record: Record,
    draft: DocumentDraft,
    *,
    set_id: str,
    now: datetime,
) -> DocumentEntry:
    del ctx
    actor = call.actor
    labels, confidentiality = _labels(draft.confidentiality)
    if record.settings.mask_new_documents:
        labels |= {Label.MASQUE_PS}  # DOC-8
    if actor.is_secret_connection:
        labels |= {Label.INVISIBLE_REPRESENTANTS_LEGAUX}  # DOC-7
    if actor.kind is ActorKind.PERSON:
        labels -= {Label.INVISIBLE_PATIENT}  # DOC-6: one's own document is never hidden from one
    digest = hashlib.sha1(draft.data, usedforsecurity=False).hexdigest()
    return DocumentEntry(
        id=DocumentId(new_id()),
        record_id=record.id,
        unique_id=draft.unique_id,
        status=DocumentStatus.CURRENT,
        type=draft.type or NOT_GIVEN,
        category=draft.category or NOT_GIVEN,
        date=draft.date or now,
        authors=draft.authors,
        submitter=Submitter(kind=actor.kind.value, id=actor.id, structure=_structure(call)),
        submitted_at=now,
        submission_set_id=set_id,
        content_type=draft.content_type,
        size=len(draft.data),
        sha1=digest,
        title=draft.title,
        language=draft.language,
        format=draft.format,
        facility_type=draft.facility_type,
        practice_setting=draft.practice_setting,
        period_start=draft.period_start,
        period_end=draft.period_end,
        events=draft.events,
        custodian=draft.custodian,
        confidentiality=confidentiality,
        labels=frozenset(labels),
        subject=record.ins,
        replaces=DocumentId(draft.replaces) if draft.replaces else None,
        description=draft.description,
    )


def _structure(call: Call) -> str | None:
    actor = call.actor
    return actor.id if actor.kind is ActorKind.ORGANIZATION else actor.structure


def _labels(codings: tuple[Coding, ...]) -> tuple[set[Label], tuple[Coding, ...]]:
    labels = {Label(c.code) for c in codings if c.code in Label.__members__}
    rest = tuple(c for c in codings if c.code not in Label.__members__)
    return labels, rest


def _submission_set(
    call: Call,
    record: Record,
    draft: SubmissionSetDraft,
    entries: list[DocumentEntry],
    now: datetime,
) -> SubmissionSet:
    return SubmissionSet(
        id=new_id(),
        record_id=record.id,
        unique_id=draft.unique_id,
        source_id=draft.source_id,
        content_type=draft.content_type or NOT_GIVEN,
        date=draft.date or now,
        authors=draft.authors,
        submitter=Submitter(
            kind=call.actor.kind.value, id=call.actor.id, structure=_structure(call)
        ),
        submitted_at=now,
        document_ids=tuple(e.id for e in entries),
        title=draft.title,
    )


def _notify_new_documents(
    ctx: ServiceContext, uow: UnitOfWork, record: Record, entries: list[DocumentEntry]
) -> None:
    """NOT-3: tell the patient, if opted in; never of a document hidden from them (DOC-7)."""
    if not record.settings.notify_new_documents:
        return
    if all(Label.INVISIBLE_PATIENT in e.labels for e in entries):
        return
    notify(
        ctx,
        uow,
        record,
        NotificationKind.NEW_DOCUMENT,
        "Nouveau document dans votre DMP / New document in your record",
        "Un nouveau document a été ajouté à votre dossier. / A new document was added to your "
        "record.",
    )


def attachment_hash(data: bytes) -> str:
    """FHIR R4 Attachment.hash: base64 of the SHA-1 of the plaintext."""
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode("ascii")
