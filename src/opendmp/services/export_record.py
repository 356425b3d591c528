"""The patient's export of the whole record (R-PAT-2, REC-3: still possible once closed)."""

from __future__ import annotations

from dataclasses import dataclass

from opendmp.domain.documents import DocumentEntry
from opendmp.domain.policy import Action, decide
from opendmp.domain.record import Record
from opendmp.services.access import about_document, enforce, gather
from opendmp.services.context import Call, ServiceContext
from opendmp.services.records import load_record


@dataclass(frozen=True, slots=True)
class RecordExport:
    record: Record
    documents: list[tuple[DocumentEntry, bytes]]


def export_record(ctx: ServiceContext, call: Call, record_id: str) -> RecordExport:
    """Every document the caller may read, with its bytes; traced as one export."""
    with ctx.uow() as uow:
        record = load_record(uow, record_id)
        enforce(ctx, uow, call, Action.RECORD_EXPORT, record, resource_type="Patient")
        reader = gather(ctx, uow, call.actor, Action.DOCUMENT_READ, record)
        now = ctx.clock.now()
        documents = [
            d
            for d in uow.documents.list_all(record.id)
            if decide(about_document(reader, d, now=now)).is_permitted
        ]
        key = uow.keys.get(record.id)
        uow.commit()
    contents: list[tuple[DocumentEntry, bytes]] = []
    if key is not None:
        for document in documents:
            blob_key = f"{record.id}/{document.id}"
            contents.append(
                (document, ctx.vault.decrypt(key, ctx.blobs.get(blob_key), context=blob_key))
            )
    return RecordExport(record, contents)
