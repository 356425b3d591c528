"""Read one DocumentReference and ITI-68 Retrieve Document (SPEC.md DOC-2, R rules).

The record-level decision comes first (API.md §20): a professional refused at record level gets
403 even for a document id; only an admitted caller gets 404 for a document it may not see.
"""

from __future__ import annotations

from opendmp.domain.documents import DocumentEntry
from opendmp.domain.errors import NotFound
from opendmp.domain.identifiers import DocumentId
from opendmp.domain.policy import Action
from opendmp.domain.record import Record
from opendmp.services.access import enforce
from opendmp.services.context import Call, ServiceContext
from opendmp.services.ports import UnitOfWork
from opendmp.services.records import load_record


def locate(
    uow: UnitOfWork, document_id: str, *, for_update: bool = False
) -> tuple[Record, DocumentEntry]:
    """The document and its record; locked until the unit of work ends when `for_update`."""
    found = uow.documents.find(DocumentId(document_id))
    if found is None:
        raise NotFound("DMP-0404", "no such document")
    record = load_record(uow, found.record_id)
    if not for_update:
        return record, found
    document = uow.documents.get_for_update(record.id, found.id)
    if document is None:
        raise NotFound("DMP-0404", "no such document")
    return record, document


def read_document(ctx: ServiceContext, call: Call, document_id: str) -> DocumentEntry:
    """The metadata (`GET DocumentReference/<id>`), traced as a read."""
    with ctx.uow() as uow:
        record, document = locate(uow, document_id)
        enforce(
            ctx,
            uow,
            call,
            Action.DOCUMENT_SEARCH,
            record,
            document,
            resource_type="DocumentReference",
            resource_id=document.id,
        )
        uow.commit()
    return document


def retrieve_document(
    ctx: ServiceContext, call: Call, document_id: str
) -> tuple[DocumentEntry, bytes]:
    """ITI-68: the exact bytes submitted (DOC-2), decrypted with the record's key (SEC-1)."""
    with ctx.uow() as uow:
        record, document = locate(uow, document_id)
        enforce(
            ctx,
            uow,
            call,
            Action.DOCUMENT_READ,
            record,
            document,
            resource_type="Binary",
            resource_id=document.id,
        )
        key = uow.keys.get(record.id)
        uow.commit()
    if key is None:
        raise NotFound("DMP-0404", "no such document")
    blob_key = f"{record.id}/{document.id}"
    data = ctx.vault.decrypt(key, ctx.blobs.get(blob_key), context=blob_key)
    return document, data
