"""Documents (IHE MHD): ITI-65, ITI-67, ITI-66, ITI-68 and the changes of a DocumentReference
(API.md "Documents", Details §8-§11, §13, §14, §16, §19, §24-§26; SPEC.md DOC-1..8)."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Request, Response

from opendmp.domain.documents import DocumentEntry
from opendmp.fhir import render
from opendmp.fhir.iti65 import parse_provide_bundle, transaction_response
from opendmp.fhir.outcomes import information_outcome
from opendmp.fhir.patch import parse_json_patch, parse_meta_change
from opendmp.fhir.search import page_links, parse_document_search, parse_list_search
from opendmp.services.context import Call
from opendmp.services.find_documents import find_documents, find_submission_sets
from opendmp.services.retrieve_document import read_document, retrieve_document
from opendmp.services.submit_documents import submit_documents
from opendmp.services.update_documents import (
    change_labels,
    delete_document,
    set_archived,
    set_status,
)
from opendmp.web.deps import (
    CurrentCall,
    FhirBase,
    FhirBody,
    PatchBody,
    QueryParams,
    RuntimeDep,
    Strict,
)
from opendmp.web.errors import PreconditionFailed
from opendmp.web.lookup import record_id_of
from opendmp.web.responses import FhirResponse, resource_response
from opendmp.web.runtime import Runtime

router = APIRouter(prefix="/fhir", tags=["Documents"])

_FHIR_JSON_ACCEPT = frozenset({"application/fhir+json", "application/json+fhir"})
_FHIR_XML_ACCEPT = frozenset({"application/fhir+xml", "application/xml+fhir"})
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[ -~]*)?")


@router.post("")
@router.post("/", include_in_schema=False)  # `[base]/` too: no 307 that a client may not follow
def provide_document_bundle(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, body: FhirBody
) -> FhirResponse:
    """ITI-65: all or nothing (DOC-1); a transaction-response with warnings per entry (§16)."""
    command = parse_provide_bundle(body, profile=runtime.profile, base_url=base)
    result = submit_documents(runtime.application.services, call, command)
    return FhirResponse(transaction_response(result, command, base))


@router.get("/DocumentReference")
def find_document_references(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, params: QueryParams, strict: Strict
) -> FhirResponse:
    """ITI-67 (API.md §13): patient required, `_count` capped (SEC-3), `next` link paging."""
    services = runtime.application.services
    patient, query, kept = parse_document_search(
        params,
        strict=strict,
        max_count=services.deployment.limits.max_count,
        base_url=base,
        any_system=runtime.any_system,
    )
    record_id = record_id_of(services, call, patient)
    page = find_documents(services, call, record_id, query)
    now = services.clock.now()
    self_url, next_url = page_links(
        base, "DocumentReference", kept, offset=page.offset, count=page.count, total=page.total
    )
    resources = [render.document_reference(d, base, now=now) for d in page.items]
    return FhirResponse(render.searchset(resources, page.total, self_url, next_url, base_url=base))


@router.get("/DocumentReference/{document_id}")
def read_document_reference(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, document_id: str
) -> FhirResponse:
    services = runtime.application.services
    document = read_document(services, call, document_id)
    return resource_response(render.document_reference(document, base, now=services.clock.now()))


def _check_version(request: Request, document: DocumentEntry) -> None:
    """`If-Match: W/"<version>"`: the change applies to that version only (412 otherwise)."""
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    version = wanted.strip().removeprefix("W/").strip('"')
    if version != str(document.version):
        raise PreconditionFailed(
            f"If-Match names version {version[:20]!r}, the current one is {document.version}"
        )


def _meta_change(
    runtime: Runtime, call: Call, request: Request, body: Any, doc_id: str, *, add: bool
) -> dict[str, Any]:
    """`$meta-add` / `$meta-delete`: the labels after the change, returned as `Meta`."""
    services = runtime.application.services
    document = read_document(services, call, doc_id)
    _check_version(request, document)
    labels = parse_meta_change(body, document.effective_labels(services.clock.now()), add=add)
    changed = change_labels(services, call, document.id, labels)
    rendered = render.document_reference(changed, "", now=services.clock.now())
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "return", "valueMeta": rendered["meta"]}],
    }


@router.post("/DocumentReference/{document_id}/$meta-add")
def meta_add(
    call: CurrentCall, runtime: RuntimeDep, request: Request, body: FhirBody, document_id: str
) -> FhirResponse:
    """DOC-7: add visibility labels (FHIR `$meta-add`); each label decided by its own rule."""
    return FhirResponse(_meta_change(runtime, call, request, body, document_id, add=True))


@router.post("/DocumentReference/{document_id}/$meta-delete")
def meta_delete(
    call: CurrentCall, runtime: RuntimeDep, request: Request, body: FhirBody, document_id: str
) -> FhirResponse:
    """DOC-7: remove visibility labels (FHIR `$meta-delete`); N always stays (API.md §8)."""
    return FhirResponse(_meta_change(runtime, call, request, body, document_id, add=False))


@router.patch("/DocumentReference/{document_id}")
def patch_document_reference(
    call: CurrentCall,
    runtime: RuntimeDep,
    base: FhirBase,
    request: Request,
    body: PatchBody,
    document_id: str,
) -> FhirResponse:
    """PDSm JSON Patch on securityLabel (DOC-7), isArchived (DOC-4), status (DOC-5)."""
    services = runtime.application.services
    document = read_document(services, call, document_id)
    _check_version(request, document)
    current = render.document_reference(document, base, now=services.clock.now())
    change = parse_json_patch(body, current)
    if change.labels is not None:
        document = change_labels(services, call, document.id, change.labels)
    if change.is_archived is not None:
        document = set_archived(services, call, document.id, is_archived=change.is_archived)
    if change.status is not None:
        document = set_status(services, call, document.id, change.status)
    return resource_response(render.document_reference(document, base, now=services.clock.now()))


@router.delete("/DocumentReference/{document_id}")
def delete_document_reference(
    call: CurrentCall, runtime: RuntimeDep, document_id: str
) -> FhirResponse:
    """DOC-5: logical deletion; the document reads `entered-in-error` afterwards (API.md §9)."""
    delete_document(runtime.application.services, call, document_id)
    return FhirResponse(information_outcome("document deleted (status entered-in-error, DOC-5)"))


@router.get("/List")
def find_document_lists(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, params: QueryParams, strict: Strict
) -> FhirResponse:
    """ITI-66: the submission sets holding documents this caller may find."""
    services = runtime.application.services
    patient, query, kept = parse_list_search(
        params,
        strict=strict,
        max_count=services.deployment.limits.max_count,
        base_url=base,
        any_system=runtime.any_system,
    )
    record_id = record_id_of(services, call, patient)
    sets, total = query.page(find_submission_sets(services, call, record_id))
    self_url, next_url = page_links(
        base, "List", kept, offset=query.offset, count=query.count, total=total
    )
    resources = [render.submission_set_list(s, base) for s in sets]
    return FhirResponse(render.searchset(resources, total, self_url, next_url, base_url=base))


def _accepted(request: Request) -> set[str]:
    return {
        part.split(";")[0].strip().lower()
        for part in request.headers.get("accept", "").split(",")
        if part.strip()
    }


@router.get("/Binary/{document_id}")
def retrieve(
    call: CurrentCall, runtime: RuntimeDep, request: Request, document_id: str
) -> Response:
    """ITI-68: the exact bytes with their content type (DOC-2); a Binary resource for an
    `Accept` of FHIR JSON or XML (API.md §19)."""
    document, data = retrieve_document(runtime.application.services, call, document_id)
    accepted = _accepted(request)
    if accepted & _FHIR_JSON_ACCEPT:
        return FhirResponse(render.binary(document, data))
    if accepted & _FHIR_XML_ACCEPT:
        return Response(
            _binary_xml(render.binary(document, data)), media_type="application/fhir+xml"
        )
    content_type = document.content_type if _MEDIA_TYPE.fullmatch(document.content_type) else ""
    return Response(
        content=data,
        headers={
            "Content-Type": content_type or "application/octet-stream",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


def _binary_xml(binary: dict[str, Any]) -> str:
    """The Binary resource in FHIR XML (the only XML this server writes)."""
    reference = binary["securityContext"]["reference"]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Binary xmlns="http://hl7.org/fhir">'
        f"<id value={quoteattr(binary['id'])}/>"
        f"<contentType value={quoteattr(binary['contentType'])}/>"
        f"<securityContext><reference value={quoteattr(reference)}/></securityContext>"
        f"<data value={quoteattr(binary['data'])}/>"
        "</Binary>"
    )
