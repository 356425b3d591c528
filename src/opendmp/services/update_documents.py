"""Change a document: labels (DOC-7), archive (DOC-4), logical deletion (DOC-5).

Each change locks the document, decides on it, traces it and writes a new version with an
optimistic check, so concurrent changes cannot silently overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from opendmp.domain.documents import DocumentEntry, DocumentStatus, Label
from opendmp.domain.errors import BusinessRuleViolation
from opendmp.domain.policy import Action
from opendmp.services.access import enforce_on_document
from opendmp.services.context import Call, ServiceContext
from opendmp.services.retrieve_document import locate

_ADD = {
    Label.MASQUE_PS: Action.DOCUMENT_MASK,
    Label.INVISIBLE_REPRESENTANTS_LEGAUX: Action.DOCUMENT_HIDE_FROM_REPRESENTATIVES,
}
_REMOVE = {
    Label.MASQUE_PS: Action.DOCUMENT_UNMASK,
    Label.INVISIBLE_PATIENT: Action.DOCUMENT_SHOW_TO_PATIENT,
    Label.INVISIBLE_REPRESENTANTS_LEGAUX: Action.DOCUMENT_SHOW_TO_REPRESENTATIVES,
}


def change_labels(
    ctx: ServiceContext, call: Call, document_id: str, labels: frozenset[Label]
) -> DocumentEntry:
    """DOC-7: set the document's visibility labels; each added/removed label is decided alone.

    INVISIBLE_PATIENT can only be removed after submission (it is set by the author at
    submission, DOC-7).
    """
    with ctx.uow() as uow:
        record, document = locate(uow, document_id, for_update=True)
        current = document.effective_labels(ctx.clock.now())
        added, removed = labels - current, current - labels
        if not added and not removed:
            enforce_on_document(ctx, uow, call, Action.DOCUMENT_SEARCH, record, document)
            uow.commit()
            return document
        for label in sorted(added):
            action = _ADD.get(label)
            if action is None:
                raise BusinessRuleViolation(
                    "DMP-0451",
                    f"{label.value} can only be set at submission",
                    rule="DOC-7",
                    path="DocumentReference.securityLabel",
                )
            enforce_on_document(ctx, uow, call, action, record, document)
        for label in sorted(removed):
            enforce_on_document(ctx, uow, call, _REMOVE[label], record, document)
        changed = replace(document, labels=labels, version=document.version + 1)
        uow.documents.update(changed, expected_version=document.version)
        uow.commit()
    return changed


def set_archived(
    ctx: ServiceContext, call: Call, document_id: str, *, is_archived: bool
) -> DocumentEntry:
    """DOC-4: archive or unarchive (PDSm isArchived); an archived document stays current."""
    return _change(
        ctx,
        call,
        document_id,
        Action.DOCUMENT_ARCHIVE,
        lambda d: replace(d, is_archived=is_archived),
    )


def delete_document(ctx: ServiceContext, call: Call, document_id: str) -> DocumentEntry:
    """DOC-5: logical deletion (status entered-in-error), never physical."""

    def deleted(document: DocumentEntry) -> DocumentEntry:
        if document.status is DocumentStatus.ENTERED_IN_ERROR:
            return document
        return replace(document, status=DocumentStatus.ENTERED_IN_ERROR)

    return _change(ctx, call, document_id, Action.DOCUMENT_DELETE, deleted)


def set_status(
    ctx: ServiceContext, call: Call, document_id: str, status: DocumentStatus
) -> DocumentEntry:
    """PDSm PATCH of `status`: only deletion (entered-in-error) is a change a client may ask."""
    if status is DocumentStatus.ENTERED_IN_ERROR:
        return delete_document(ctx, call, document_id)
    raise BusinessRuleViolation(
        "DMP-0452",
        "status can only be patched to entered-in-error; replacement makes superseded (DOC-3)",
        rule="DOC-5",
        path="DocumentReference.status",
    )


def _change(
    ctx: ServiceContext,
    call: Call,
    document_id: str,
    action: Action,
    change: Callable[[DocumentEntry], DocumentEntry],
) -> DocumentEntry:
    with ctx.uow() as uow:
        record, document = locate(uow, document_id, for_update=True)
        enforce_on_document(ctx, uow, call, action, record, document)
        changed = change(document)
        if changed != document:
            changed = replace(changed, version=document.version + 1)
            uow.documents.update(changed, expected_version=document.version)
        uow.commit()
    return changed
