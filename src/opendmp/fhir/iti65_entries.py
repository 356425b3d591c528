"""ITI-65 entries → drafts: DocumentReference (+ its bytes) and the SubmissionSet List.

Element mapping: MHD 4.2 ITI TF-3 §4.5.1 and PDSm (dmp-rules §4.1, §7.2); see
docs/fhir-mapping.md. Only what the service cannot check is checked here: the bytes, the
references, relatesTo; value sets, sizes and hashes are DOC-1 checks of `domain.metadata`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from opendmp.domain import terminology
from opendmp.domain.documents import Author, Coding
from opendmp.domain.metadata import MetadataIssue, MetadataProfile
from opendmp.fhir import authors as author_map
from opendmp.fhir.bundle import RULE, BundleReader, EntryKind, EntryPlan, note
from opendmp.fhir.datatypes import (
    AUTHOR_ORG_URL,
    DESIGNATION_TYPE_URL,
    MHD_IDENTIFIER_TYPE,
    SOURCE_ID_URL,
    as_dict,
    as_list,
    coding,
    codings,
    extension_value,
    extensions,
    first_coding,
    parse_datetime,
    text,
    unique_id_from,
)
from opendmp.fhir.references import PatientRef, ReferenceKind, parse_reference
from opendmp.services.submit_documents import DocumentDraft, SubmissionSetDraft

_RELATES_TO_WARNINGS = {
    "appends": "PartialAppendContentNotProcessed",
    "transforms": "PartialTransformContentNotProcessed",
}


def document(
    reader: BundleReader, index: int, position: int
) -> tuple[DocumentDraft, PatientRef | None]:
    """One DocumentReference entry: its draft and the patient its subject names."""
    resource = reader.resource(index)
    base = f"Bundle.entry[{index}].resource"
    contents = as_list(resource.get("content"))
    if len(contents) > 1:
        reader.issues.rule(
            "DMP-0617",
            "a DocumentReference carries one document (content 1..1)",
            f"{base}.content",
        )
    content = as_dict(contents[0]) if contents else {}
    attachment = as_dict(content.get("attachment"))
    data, content_type = _content(reader, attachment, f"{base}.content[0].attachment", position)
    context = as_dict(resource.get("context"))
    period = as_dict(context.get("period"))
    creation = parse_datetime(attachment.get("creation"))
    date = parse_datetime(resource.get("date"))
    if date is None and reader.profile is not MetadataProfile.DMP:
        date = creation  # MHD carries creationTime in attachment.creation
    subject = reader.subject(resource.get("subject"), f"{base}.subject", resource)
    replaces, notes = _relates_to(reader, resource, base)
    reader.plans[index] = EntryPlan(
        EntryKind.DOCUMENT, index, reader.full_url(index), position, notes=notes
    )
    draft = DocumentDraft(
        ref=reader.full_url(index),
        unique_id=unique_id_from(as_dict(resource.get("masterIdentifier"))),
        data=data,
        content_type=content_type,
        type=first_coding(resource.get("type")),
        category=next(
            (first_coding(c) for c in as_list(resource.get("category")) if codings(c)), None
        ),
        date=date,
        authors=reader.authors(as_list(resource.get("author")), resource, f"{base}.author"),
        confidentiality=_security(resource),
        format=coding(content.get("format")),
        facility_type=first_coding(context.get("facilityType")),
        practice_setting=first_coding(context.get("practiceSetting")),
        period_start=parse_datetime(period.get("start")),
        period_end=parse_datetime(period.get("end")),
        events=tuple(c for e in as_list(context.get("event")) if (c := first_coding(e))),
        custodian=reader.custodian(as_dict(resource.get("custodian")), resource),
        title=text(attachment.get("title")),
        language=text(attachment.get("language")),
        description=text(resource.get("description")),
        declared_size=_int_or_none(attachment.get("size")),
        declared_hash=text(attachment.get("hash")) or None,
        replaces=replaces,
        subject=subject.ins if subject else None,
        status=text(resource.get("status")),
        index=index,
        creation=creation,
    )
    return draft, subject


def _content(
    reader: BundleReader, attachment: dict[str, Any], path: str, position: int
) -> tuple[bytes, str]:
    """The bytes: attachment.data, or the Binary of the Bundle that attachment.url names."""
    issues = reader.issues
    content_type = text(attachment.get("contentType"))
    if "data" in attachment:
        return _decode(reader, attachment.get("data"), f"{path}.data"), content_type
    url = text(attachment.get("url"))
    index = reader.by_url.get(url) if url else None
    if not url:
        issues.rule(
            "DMP-0607",
            "the attachment needs data or a url naming a Binary of the Bundle",
            path,
            rule="ITI-65",
        )
        return b"", content_type
    if index is None:
        issues.rule(
            "DMP-0606",
            f"attachment.url {url} does not name an entry of the Bundle (ITI-65: the Binary "
            "shall be in the Bundle)",
            f"{path}.url",
            rule="ITI-65",
        )
        return b"", content_type
    binary = reader.resource(index)
    if binary.get("resourceType") == "Bundle":
        return b"", content_type  # reported as FHIRDocumentNotSupported
    if binary.get("resourceType") != "Binary":
        issues.rule("DMP-0607", f"attachment.url {url} must name a Binary", f"{path}.url")
        return b"", content_type
    first_user = reader.binary_users.setdefault(index, position)
    reader.plans.setdefault(index, EntryPlan(EntryKind.BINARY, index, url, document=first_user))
    content_type = content_type or text(binary.get("contentType"))
    if "data" not in binary:
        issues.rule("DMP-0607", "the Binary has no data", f"Bundle.entry[{index}].resource.data")
        return b"", content_type
    return _decode(reader, binary.get("data"), f"Bundle.entry[{index}].resource.data"), content_type


def _decode(reader: BundleReader, value: object, path: str) -> bytes:
    raw = "".join(text(value).split())
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        reader.issues.invalid("DMP-0608", "the data is not valid base64", path, rule=RULE)
        return b""


def _relates_to(
    reader: BundleReader, resource: dict[str, Any], base: str
) -> tuple[str | None, tuple[MetadataIssue, ...]]:
    """DOC-3: `replaces` a DocumentReference of this server; other codes are not recorded."""
    replaces: str | None = None
    notes: list[MetadataIssue] = []
    for k, relation in enumerate(as_list(resource.get("relatesTo"))):
        code = text(as_dict(relation).get("code"))
        path = f"{base}.relatesTo[{k}]"
        target = text(as_dict(as_dict(relation).get("target")).get("reference"))
        if code != "replaces":
            warning = _RELATES_TO_WARNINGS.get(code, "PartialContentNotProcessed")
            notes.append(note("DMP-0651", f"{warning}: relatesTo {code!r} is not recorded", path))
            continue
        parsed = parse_reference(target, reader.base_url)
        if parsed.kind is not ReferenceKind.LOCAL or parsed.resource_type != "DocumentReference":
            reader.issues.rule(
                "DMP-0616",
                "relatesTo.target of `replaces` must be DocumentReference/<id> of this server",
                f"{path}.target",
                rule="DOC-3",
            )
        elif replaces is not None and replaces != parsed.id:
            reader.issues.rule(
                "DMP-0616", "a document replaces one document", f"{path}.target", rule="DOC-3"
            )
        else:
            replaces = parsed.id
    return replaces, tuple(notes)


def _security(resource: dict[str, Any]) -> tuple[Coding, ...]:
    """securityLabel, plus the meta.security codes of the DMP table (DOC-7, API.md §24)."""
    found: list[Coding] = []
    for label in as_list(resource.get("securityLabel")):
        found += codings(label)
    table = terminology.confidentiality_codes()
    for raw in as_list(as_dict(resource.get("meta")).get("security")):
        meta = coding(raw)
        if meta is not None and table.lookup(meta.system, meta.code) is not None:
            found.append(meta)
    unique: list[Coding] = []
    for each in found:
        if all((each.system, each.code) != (u.system, u.code) for u in unique):
            unique.append(each)
    return tuple(unique)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def submission_set(
    reader: BundleReader, index: int, documents: list[int]
) -> tuple[SubmissionSetDraft, PatientRef | None]:
    """The SubmissionSet List: uniqueId, sourceId, designationType, author(+authorOrg), date."""
    resource = reader.resource(index)
    base = f"Bundle.entry[{index}].resource"
    _members(reader, resource, base, documents)
    source = as_dict(resource.get("source"))
    authors: tuple[Author, ...] = ()
    if source:
        author = reader.author(source, resource, f"{base}.source")
        org_ref = as_dict(extension_value(source, AUTHOR_ORG_URL, "valueReference"))
        organization = (
            reader.author(org_ref, resource, f"{base}.source.extension") if org_ref else None
        )
        if author is not None:
            authors = (author_map.with_institution(author, organization),)
    subject = reader.subject(resource.get("subject"), f"{base}.subject", resource)
    source_id = as_dict(extension_value(resource, SOURCE_ID_URL, "valueIdentifier"))
    designation = extension_value(resource, DESIGNATION_TYPE_URL, "valueCodeableConcept")
    if len(extensions(resource, DESIGNATION_TYPE_URL)) > 1:
        reader.issues.rule(
            "DMP-0611",
            "the SubmissionSet has one designationType (contentTypeCode)",
            f"{base}.extension",
        )
    draft = SubmissionSetDraft(
        unique_id=_list_unique_id(resource),
        source_id=text(source_id.get("value")).removeprefix("urn:oid:"),
        content_type=first_coding(designation),
        date=parse_datetime(resource.get("date")),
        authors=authors,
        title=text(resource.get("title")),
        subject=subject.ins if subject else None,
        index=index,
    )
    return draft, subject


def _list_unique_id(resource: dict[str, Any]) -> str:
    """MHD: the identifier typed `uniqueId`, else `use: usual` (entryUUID is `official`)."""
    identifiers = [as_dict(i) for i in as_list(resource.get("identifier"))]
    for item in identifiers:
        for c in codings(item.get("type")):
            if c.system == MHD_IDENTIFIER_TYPE and c.code == "uniqueId":
                return unique_id_from(item)
    usual = [i for i in identifiers if i.get("use") == "usual"]
    chosen = usual or [i for i in identifiers if i.get("use") != "official"]
    return unique_id_from(chosen[0]) if chosen else ""


def _members(
    reader: BundleReader, resource: dict[str, Any], base: str, documents: list[int]
) -> None:
    """The SubmissionSet lists the DocumentReferences of the Bundle (XDS HasMember)."""
    listed: set[int] = set()
    for k, item in enumerate(as_list(resource.get("entry"))):
        raw = text(as_dict(as_dict(item).get("item")).get("reference"))
        index = reader.by_url.get(raw)
        path = f"{base}.entry[{k}].item"
        plan = reader.plans.get(index) if index is not None else None
        if index is None:
            reader.issues.rule(
                "DMP-0613",
                f"{raw or 'the item'} must name a DocumentReference of the Bundle",
                path,
                rule="ITI-65",
            )
        elif index in documents:
            listed.add(index)
        elif plan is None or plan.kind is not EntryKind.FOLDER:  # a Folder member: ignored
            reader.issues.rule("DMP-0613", "the item must be a DocumentReference", path)
    for index in documents:
        if index not in listed:
            reader.issues.rule(
                "DMP-0613",
                "this DocumentReference is not listed in the SubmissionSet (List.entry)",
                f"Bundle.entry[{index}].resource",
                rule="ITI-65",
            )
