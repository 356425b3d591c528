"""The patient's portal: records, dashboard, documents, viewer, own documents (issue 4 §1).

Every page calls the same use cases as the FHIR interface with the signed-in person as the
caller; R-PAT-1..3 and DOC-5..7 are decided there, and a refusal is shown in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.responses import Response

from opendmp.domain import terminology
from opendmp.domain.documents import Label
from opendmp.domain.errors import DmpError, NotFound
from opendmp.domain.record import PatientSettings
from opendmp.services.access_history import access_history
from opendmp.services.find_documents import find_documents
from opendmp.services.ports import AuditQuery, DocumentQuery
from opendmp.services.records import activate_record
from opendmp.services.submit_documents import submit_documents
from opendmp.services.update_documents import change_labels, delete_document
from opendmp.web.portal.documents import (
    Filters,
    authors_of,
    document_content,
    document_in,
    parse_day,
    search,
    viewed_document,
)
from opendmp.web.portal.messages import problem_of
from opendmp.web.portal.patient_common import PatientPage, patient_page, patient_records
from opendmp.web.portal.upload import PATIENT_TYPES, FormProblem, Upload, patient_submission
from opendmp.web.portal.view import FormView, PageView, PortalRoute, View

router = APIRouter(prefix="/patient", route_class=PortalRoute, include_in_schema=False)

RECENT = 5
ALERTS_WINDOW = 200


@router.get("/")
def records(view: PageView) -> Response:
    """One record: straight to it; a representative chooses among the records (REC-6)."""
    call, found = patient_records(view)
    if len(found) == 1:
        return view.redirect(f"/patient/records/{found[0].id}/")
    return view.page("patient/records.html", records=found, me=call.actor.id)


@router.get("/records/{record_id}/")
def dashboard(view: PageView, record_id: str) -> Response:
    page = patient_page(view, record_id)
    ctx, call = view.services, page.call
    latest = find_documents(ctx, call, record_id, DocumentQuery(count=RECENT))
    history = access_history(ctx, call, record_id, AuditQuery(count=ALERTS_WINDOW))
    emergencies = [e for e in history.items if e.access_mode != "normal"]
    return view.page(
        "patient/dashboard.html",
        **page.values("dashboard", latest=latest, emergencies=emergencies[:RECENT]),
        emergency_count=len(emergencies),
    )


@router.post("/records/{record_id}/activate")
def activate(
    view: FormView,
    record_id: str,
    allow_centre_15: Annotated[str, Form()] = "",
    allow_break_the_glass: Annotated[str, Form()] = "",
    allow_masked_in_emergency: Annotated[str, Form()] = "",
    mask_new_documents: Annotated[str, Form()] = "",
) -> Response:
    """REC-2: the first sign-in chooses the default confidentiality and the consents (§5.4)."""
    page = patient_page(view, record_id)
    settings = PatientSettings(
        allow_centre_15=bool(allow_centre_15),
        allow_break_the_glass=bool(allow_break_the_glass),
        allow_masked_in_emergency=bool(allow_masked_in_emergency),
        mask_new_documents=bool(mask_new_documents),
        notify_new_documents=page.record.settings.notify_new_documents,
        email=page.record.settings.email,
    )
    activate_record(view.services, page.call, record_id, settings)
    return view.redirect(f"{page.base}/", ok="activated")


@router.get("/records/{record_id}/documents")
def documents(view: PageView, record_id: str) -> Response:
    page = patient_page(view, record_id)
    filters = Filters.of(view.request.query_params)
    found = search(view.services, page.call, record_id, filters)
    return view.page(
        "patient/documents.html",
        **page.values(
            "documents",
            found=found,
            filters=filters,
            authors=authors_of(found.items, filters.author),
            categories=terminology.class_codes().concepts,
        ),
    )


@router.get("/records/{record_id}/documents/{document_id}")
def document(view: PageView, record_id: str, document_id: str) -> Response:
    page = patient_page(view, record_id)
    entry, shown = viewed_document(page, document_id)
    return view.page(
        "patient/document.html", **page.values("documents", document=entry, viewer=shown)
    )


@router.get("/records/{record_id}/documents/{document_id}/content")
def content(view: PageView, record_id: str, document_id: str, download: str = "") -> Response:
    """ITI-68 for the browser: the exact bytes (DOC-2), traced as a read."""
    return document_content(patient_page(view, record_id), document_id, download=bool(download))


@dataclass(frozen=True)
class _LabelChange:
    add: bool
    ok: str


_LABEL_CHANGES = {"mask": _LabelChange(True, "masked"), "unmask": _LabelChange(False, "unmasked")}


@router.post("/records/{record_id}/documents/{document_id}/{change}")
def change_document(view: FormView, record_id: str, document_id: str, change: str) -> Response:
    """R-PAT-2 masking (DOC-7 MASQUE_PS) and DOC-6 deletion of one's own document."""
    page = patient_page(view, record_id)
    ctx = view.services
    if change == "delete":
        delete_document(ctx, page.call, document_id)
        return view.redirect(f"{page.base}/documents", ok="deleted")
    label_change = _LABEL_CHANGES.get(change)
    if label_change is None:
        raise NotFound("DMP-0404", "no such action")
    entry = document_in(page, document_id)
    labels = entry.effective_labels(ctx.clock.now())
    wanted = labels | {Label.MASQUE_PS} if label_change.add else labels - {Label.MASQUE_PS}
    change_labels(ctx, page.call, document_id, wanted)
    return view.redirect(f"{page.base}/documents/{document_id}", ok=label_change.ok)


def _upload_page(view: View, page: PatientPage, status: int = 200, **values: object) -> Response:
    types = [(code, view.t.concept(terminology.type_codes(), code)) for code in PATIENT_TYPES]
    defaults: dict[str, object] = {"form": {}, "form_error": "", "problem": None}
    return view.page(
        "patient/upload.html",
        status=status,
        **page.values("upload", types=types, **(defaults | values)),
    )


@router.get("/records/{record_id}/upload")
def upload_form(view: PageView, record_id: str) -> Response:
    return _upload_page(view, patient_page(view, record_id))


@router.post("/records/{record_id}/upload")
def upload(
    view: FormView,
    record_id: str,
    file: Annotated[UploadFile | None, File()] = None,
    title: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """DOC-6: the patient adds a document (author = the patient, no institution)."""
    page = patient_page(view, record_id)
    form = {"title": title, "type": type, "day": day, "description": description}
    data = file.file.read() if file is not None else b""
    given = Upload(
        filename=(file.filename or "") if file is not None else "",
        content_type=(file.content_type or "") if file is not None else "",
        data=data,
        title=title,
        type_code=type,
        day=parse_day(day),
        description=description,
    )
    ctx = view.services
    try:
        command = patient_submission(record_id, page.call.actor, given, ctx.clock.now())
        submit_documents(ctx, page.call, command)
    except FormProblem as problem:
        return _upload_page(view, page, 400, form=form, form_error=view.t(f"form.{problem.key}"))
    except DmpError as error:
        found = problem_of(view.t, error)
        return _upload_page(view, page, found.status, form=form, problem=found)
    return view.redirect(f"{page.base}/documents", ok="uploaded")
