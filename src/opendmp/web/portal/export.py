"""The patient's export as a zip: every document they may read and their metadata (R-PAT-2).

`services.export_record` decides and traces the export; this module only packs it:
`documents/NNN-title.ext` with the exact bytes (DOC-2) and `metadata.json` describing the
record and each document (codes with their labels, authors, dates, hashes, visibility).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from typing import Any

from opendmp.domain import terminology
from opendmp.domain.documents import Coding, DocumentEntry
from opendmp.services.export_record import RecordExport
from opendmp.web.portal.documents import file_name


def _coding(coding: Coding | None, table: terminology.ValueSet | None = None) -> dict[str, str]:
    if coding is None or not coding.code:
        return {}
    display = coding.display or (table.display(coding.code, coding.system) if table else "") or ""
    return {"system": coding.system, "code": coding.code, "display": display}


def _document(document: DocumentEntry, path: str) -> dict[str, Any]:
    return {
        "file": path,
        "id": document.id,
        "uniqueId": document.unique_id,
        "title": document.title,
        "status": document.status.value,
        "isArchived": document.is_archived,
        "type": _coding(document.type, terminology.type_codes()),
        "category": _coding(document.category, terminology.class_codes()),
        "date": document.date.isoformat(),
        "submittedAt": document.submitted_at.isoformat(),
        "authors": [
            {"kind": a.kind.value, "id": a.id, "name": a.name, "institution": a.institution}
            for a in document.authors
        ],
        "contentType": document.content_type,
        "size": document.size,
        "sha1": document.sha1,
        "language": document.language,
        "format": _coding(document.format, terminology.format_codes()),
        "facilityType": _coding(document.facility_type, terminology.facility_type_codes()),
        "practiceSetting": _coding(document.practice_setting, terminology.practice_setting_codes()),
        "securityLabels": sorted(label.value for label in document.labels),
        "description": document.description,
        "replaces": document.replaces,
    }


def export_zip(export: RecordExport, *, at: datetime) -> bytes:
    record = export.record
    buffer = io.BytesIO()
    documents = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, (document, data) in enumerate(export.documents, start=1):
            path = f"documents/{file_name(document, index)}"
            archive.writestr(path, data)
            documents.append(_document(document, path))
        metadata = {
            "exportedAt": at.isoformat(),
            "record": {
                "id": record.id,
                "ins": {"system": f"urn:oid:{record.ins.system}", "value": record.ins.value},
                "family": record.demographics.family,
                "given": record.demographics.given,
                "birthDate": record.demographics.birth_date.isoformat()
                if record.demographics.birth_date
                else None,
                "state": record.state.value,
                "openedAt": record.opened_at.isoformat(),
                "closedAt": record.closed_at.isoformat() if record.closed_at else None,
            },
            "documents": documents,
        }
        archive.writestr(
            "metadata.json", json.dumps(metadata, ensure_ascii=False, indent=2).encode("utf-8")
        )
    return buffer.getvalue()
