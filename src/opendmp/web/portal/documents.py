"""What the two portals share about documents: the list's filters, the viewer, the content.

Filters and sort become a `DocumentQuery` (ITI-67 parameters) handed to `find_documents`,
which decides what this caller finds (SPEC.md §5). The viewer shows a PDF inline, a CDA as
readable text, plain text as text, and offers anything else as a download (issue 4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from starlette.responses import Response

from opendmp.domain import terminology
from opendmp.domain.documents import DocumentEntry
from opendmp.domain.errors import NotFound
from opendmp.domain.record import Record
from opendmp.services.context import Call, ServiceContext
from opendmp.services.find_documents import find_documents
from opendmp.services.ports import DocumentQuery, Page, SortOrder
from opendmp.services.retrieve_document import read_document, retrieve_document
from opendmp.web.portal.cda import CdaView, is_xml, parse_cda

PAGE_SIZE = 50
_INLINE = frozenset({"application/pdf", "image/png", "image/jpeg"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/xml": ".xml",
    "application/xml": ".xml",
    "application/hl7-cda+xml": ".xml",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    """The list's filters as given in the URL; unknown values are dropped, not refused."""

    category: str = ""
    type: str = ""
    author: str = ""
    day_from: date | None = None
    day_to: date | None = None
    sort: str = "-date"
    page: int = 0

    @classmethod
    def of(cls, params: Any) -> Filters:
        page = params.get("page", "0")
        category = params.get("category", "")
        type_code = params.get("type", "")
        return cls(
            category=category if category in terminology.class_codes().codes() else "",
            type=type_code if type_code in terminology.type_codes().codes() else "",
            author=params.get("author", "")[:64],
            day_from=parse_day(params.get("from", "")),
            day_to=parse_day(params.get("to", "")),
            sort="date" if params.get("sort") == "date" else "-date",
            page=int(page) if page.isdigit() and int(page) < 10_000 else 0,
        )

    def query(self) -> DocumentQuery:
        """`to` is inclusive on the page, exclusive in DocumentQuery (the next midnight)."""
        return DocumentQuery(
            category_codes=frozenset({self.category}) if self.category else frozenset(),
            type_codes=frozenset({self.type}) if self.type else frozenset(),
            author_ids=frozenset({self.author}) if self.author else frozenset(),
            date_from=datetime.combine(self.day_from, time(), UTC) if self.day_from else None,
            date_to=datetime.combine(self.day_to + timedelta(days=1), time(), UTC)
            if self.day_to
            else None,
            sort=SortOrder(self.sort),
            count=PAGE_SIZE,
            offset=self.page * PAGE_SIZE,
        )

    def params(self, **changes: object) -> dict[str, object]:
        values: dict[str, object] = {
            "category": self.category,
            "type": self.type,
            "author": self.author,
            "from": self.day_from.isoformat() if self.day_from else "",
            "to": self.day_to.isoformat() if self.day_to else "",
            "sort": self.sort if self.sort != "-date" else "",
            "page": self.page or "",
        }
        values.update(changes)
        return values

    @property
    def is_filtered(self) -> bool:
        return bool(self.category or self.type or self.author or self.day_from or self.day_to)


def search(
    ctx: ServiceContext, call: Call, record_id: str, filters: Filters
) -> Page[DocumentEntry]:
    return find_documents(ctx, call, record_id, filters.query())


def authors_of(documents: list[DocumentEntry], selected: str) -> list[tuple[str, str]]:
    """The authors of the documents shown, to filter by (plus the one already chosen)."""
    seen: dict[str, str] = {}
    for document in documents:
        for author in document.authors:
            if author.id:
                seen.setdefault(author.id, author.name or author.id)
    if selected and selected not in seen:
        seen[selected] = selected
    return sorted(seen.items(), key=lambda item: item[1].lower())


def type_groups(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """JDV_J66 types grouped by their ASS_X16 class, for a select with optgroups."""
    classes = {c.code: c for c in terminology.class_codes().concepts}
    groups: dict[str, list[tuple[str, str]]] = {}
    for concept in terminology.type_codes().concepts:
        label = concept.display_en if lang == "en" and concept.display_en else concept.display
        groups.setdefault(str(concept.properties.get("class_code", "")), []).append(
            (concept.code, label)
        )
    result = []
    for code, items in groups.items():
        klass = classes.get(code)
        name = code
        if klass is not None:
            name = klass.display_en if lang == "en" and klass.display_en else klass.display
        result.append((name, sorted(items, key=lambda item: item[1].lower())))
    return sorted(result, key=lambda group: group[0].lower())


def base_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


@dataclass(frozen=True)
class Viewer:
    kind: str  # pdf | image | cda | text | download
    cda: CdaView | None = None
    text: str = ""


def viewer_kind(document: DocumentEntry) -> str:
    media = base_type(document.content_type)
    if media == "application/pdf":
        return "pdf"
    if media in ("image/png", "image/jpeg"):
        return "image"
    if is_xml(media):
        return "cda"
    if media == "text/plain":
        return "text"
    return "download"


def viewer(document: DocumentEntry, data: bytes | None) -> Viewer:
    kind = viewer_kind(document)
    if kind == "cda" and data is not None:
        parsed = parse_cda(data)
        if parsed is not None:
            return Viewer("cda", cda=parsed)
        return Viewer("text", text=data.decode("utf-8", errors="replace"))
    if kind == "text" and data is not None:
        return Viewer("text", text=data.decode("utf-8", errors="replace"))
    return Viewer(kind)


def file_name(document: DocumentEntry, index: int | None = None) -> str:
    stem = _SAFE_NAME.sub("", document.title).strip()[:60] or "document"
    prefix = f"{index:03d}-" if index is not None else ""
    return prefix + stem + _EXTENSIONS.get(base_type(document.content_type), ".bin")


def content_response(document: DocumentEntry, data: bytes, *, download: bool) -> Response:
    """DOC-2: the exact bytes. Only PDF and images are shown inline; anything else is a
    download, sandboxed, so an uploaded page can never run in the portal's origin."""
    media = base_type(document.content_type)
    inline = media in _INLINE and not download
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{file_name(document)}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if media != "application/pdf":  # the browser's PDF viewer does not run in a sandbox
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    served = media if inline else (media if media in _EXTENSIONS else "application/octet-stream")
    return Response(data, media_type=served, headers=headers)


class RecordPage(Protocol):
    """A portal page on one record, the patient's or the professional's."""

    @property
    def call(self) -> Call: ...
    @property
    def record(self) -> Record: ...
    @property
    def services(self) -> ServiceContext: ...


def document_in(page: RecordPage, document_id: str) -> DocumentEntry:
    """A document of this page's record, as the caller may see it (404 otherwise)."""
    document = read_document(page.services, page.call, document_id)
    if document.record_id != page.record.id:
        raise NotFound("DMP-0404", "no such document")
    return document


def viewed_document(page: RecordPage, document_id: str) -> tuple[DocumentEntry, Viewer]:
    """The document and how to show it; the bytes are read (and traced) only when shown."""
    entry = document_in(page, document_id)
    data = None
    if viewer_kind(entry) in ("cda", "text"):
        entry, data = retrieve_document(page.services, page.call, document_id)
    return entry, viewer(entry, data)


def document_content(page: RecordPage, document_id: str, *, download: bool) -> Response:
    """ITI-68 for the browser: the exact bytes (DOC-2), traced as a read."""
    entry, data = retrieve_document(page.services, page.call, document_id)
    if entry.record_id != page.record.id:
        raise NotFound("DMP-0404", "no such document")
    return content_response(entry, data, download=download)
