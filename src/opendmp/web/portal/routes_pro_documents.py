"""A professional's documents: viewer, upload with the DMP metadata, replace, archive, delete,
mask, make visible to the patient (DOC-1, DOC-3..5, DOC-7, SPEC.md §5.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.responses import Response

from opendmp.domain import terminology
from opendmp.domain.documents import DocumentEntry, Label
from opendmp.domain.errors import DmpError, NotFound
from opendmp.domain.identifiers import Ins
from opendmp.services.context import Call, ServiceContext
from opendmp.services.submit_documents import submit_documents
from opendmp.services.update_documents import change_labels, delete_document, set_archived
from opendmp.web.portal.documents import (
    document_content,
    document_in,
    parse_day,
    type_groups,
    viewed_document,
)
from opendmp.web.portal.messages import problem_of
from opendmp.web.portal.routes_pro import ProPage, pro_page
from opendmp.web.portal.upload import (
    DEFAULT_DESIGNATION,
    DEFAULT_FACILITY,
    DEFAULT_SETTING,
    FormProblem,
    ProfessionalMetadata,
    Upload,
    professional_submission,
)
from opendmp.web.portal.view import FormView, PageView, PortalRoute, View

router = APIRouter(prefix="/pro", route_class=PortalRoute, include_in_schema=False)


@router.get("/records/{record_id}/documents/{document_id}")
def document(view: PageView, record_id: str, document_id: str) -> Response:
    page = pro_page(view, record_id)
    entry, shown = viewed_document(page, document_id)
    return view.page("pro/document.html", **page.values("record", document=entry, viewer=shown))


@router.get("/records/{record_id}/documents/{document_id}/content")
def content(view: PageView, record_id: str, document_id: str, download: str = "") -> Response:
    return document_content(pro_page(view, record_id), document_id, download=bool(download))


def _labels(add: Label | None = None, remove: Label | None = None) -> Callable[..., object]:
    def change(ctx: ServiceContext, call: Call, entry: DocumentEntry) -> object:
        labels = entry.effective_labels(ctx.clock.now())
        wanted = (labels | {add} if add else labels) - ({remove} if remove else set())
        return change_labels(ctx, call, entry.id, frozenset(wanted))

    return change


_ACTIONS: dict[str, tuple[Callable[..., object], str]] = {
    "mask": (_labels(add=Label.MASQUE_PS), "masked"),  # DOC-7, TD3.3a
    "unmask": (_labels(remove=Label.MASQUE_PS), "unmasked"),
    "show-to-patient": (_labels(remove=Label.INVISIBLE_PATIENT), "shown-to-patient"),  # TD3.3b
    "archive": (lambda ctx, call, e: set_archived(ctx, call, e.id, is_archived=True), "archived"),
    "unarchive": (
        lambda ctx, call, e: set_archived(ctx, call, e.id, is_archived=False),
        "unarchived",
    ),
    "delete": (lambda ctx, call, e: delete_document(ctx, call, e.id), "deleted"),  # DOC-5
}


@router.post("/records/{record_id}/documents/{document_id}/{action}")
def change_document(view: FormView, record_id: str, document_id: str, action: str) -> Response:
    page = pro_page(view, record_id)
    known = _ACTIONS.get(action)
    if known is None:
        raise NotFound("DMP-0404", "no such action")
    run, ok = known
    entry = document_in(page, document_id)
    run(view.services, page.call, entry)
    if action == "delete":
        return view.redirect(f"{page.base}/", ok=ok)
    return view.redirect(f"{page.base}/documents/{document_id}", ok=ok)


def _choices(view: View) -> dict[str, object]:
    t = view.t

    def listed(value_set: terminology.ValueSet) -> list[tuple[str, str]]:
        return [(c.code, t.concept(value_set, c.code, c.system)) for c in value_set.concepts]

    formats = [
        (c.code, t.concept(terminology.format_codes(), c.code, c.system))
        for c in terminology.format_codes().concepts
        if c.properties.get("kind") != "signature"
    ]
    return {
        "type_groups": type_groups(view.lang),
        "facilities": listed(terminology.facility_type_codes()),
        "settings": listed(terminology.practice_setting_codes()),
        "formats": formats,
        "designations": listed(terminology.content_type_codes()),
    }


def _upload_page(
    view: View,
    page: ProPage,
    status: int = 200,
    *,
    replaces: DocumentEntry | None = None,
    **values: object,
) -> Response:
    defaults: dict[str, object] = {
        "form": {
            "facility": DEFAULT_FACILITY,
            "setting": DEFAULT_SETTING,
            "designation": DEFAULT_DESIGNATION,
            "custodian": page.call.actor.structure or "",
            "type": replaces.type.code if replaces else "",
            "title": replaces.title if replaces else "",
        },
        "form_error": "",
        "problem": None,
    }
    return view.page(
        "pro/upload.html",
        status=status,
        **page.values(
            "upload", replaces=replaces, hidden={}, **_choices(view), **(defaults | values)
        ),
    )


@router.get("/records/{record_id}/upload")
def upload_form(view: PageView, record_id: str, replaces: str = "") -> Response:
    page = pro_page(view, record_id)
    replaced = document_in(page, replaces) if replaces else None
    return _upload_page(view, page, replaces=replaced)


@dataclass
class UploadFields:
    """The professional's upload form, as posted."""

    file: UploadFile | None
    values: dict[str, str]

    def upload(self) -> Upload:
        v, file = self.values, self.file
        return Upload(
            filename=(file.filename or "") if file is not None else "",
            content_type=(file.content_type or "") if file is not None else "",
            data=file.file.read() if file is not None else b"",
            title=v["title"],
            type_code=v["type"],
            day=parse_day(v["day"]),
            description=v["description"],
        )

    def metadata(self, replaces: str | None = None) -> ProfessionalMetadata:
        v = self.values
        flags = (
            (Label.MASQUE_PS, "masked"),
            (Label.INVISIBLE_PATIENT, "invisible_patient"),
            (Label.INVISIBLE_REPRESENTANTS_LEGAUX, "invisible_representatives"),
        )
        return ProfessionalMetadata(
            facility=v["facility"],
            setting=v["setting"],
            format=v["format"],
            designation=v["designation"],
            custodian=v["custodian"],
            labels=frozenset(label for label, name in flags if v[name]),
            replaces=replaces,
        )


async def _fields(
    file: Annotated[UploadFile | None, File()] = None,
    title: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    facility: Annotated[str, Form()] = DEFAULT_FACILITY,
    setting: Annotated[str, Form()] = DEFAULT_SETTING,
    format: Annotated[str, Form()] = "",
    designation: Annotated[str, Form()] = DEFAULT_DESIGNATION,
    custodian: Annotated[str, Form()] = "",
    masked: Annotated[str, Form()] = "",
    invisible_patient: Annotated[str, Form()] = "",
    invisible_representatives: Annotated[str, Form()] = "",
) -> UploadFields:
    values = {
        "title": title,
        "type": type,
        "day": day,
        "description": description,
        "facility": facility,
        "setting": setting,
        "format": format,
        "designation": designation,
        "custodian": custodian,
        "masked": masked,
        "invisible_patient": invisible_patient,
        "invisible_representatives": invisible_representatives,
    }
    return UploadFields(file, values)


Fields = Annotated[UploadFields, Depends(_fields)]


@router.post("/records/{record_id}/upload")
def upload(
    view: FormView, record_id: str, fields: Fields, replaces: Annotated[str, Form()] = ""
) -> Response:
    """TD2.1 and DOC-3 replacement."""
    page = pro_page(view, record_id)
    replaced = document_in(page, replaces) if replaces else None
    ctx = view.services
    try:
        command = professional_submission(
            record_id,
            page.call.actor,
            fields.upload(),
            fields.metadata(replaced.id if replaced else None),
            ctx.clock.now(),
        )
        result = submit_documents(ctx, page.call, command)
    except FormProblem as problem:
        error = view.t(f"form.{problem.key}")
        return _upload_page(
            view, page, 400, replaces=replaced, form=fields.values, form_error=error
        )
    except DmpError as failure:
        found = problem_of(view.t, failure)
        return _upload_page(
            view, page, found.status, replaces=replaced, form=fields.values, problem=found
        )
    new_id = result.documents[0].id
    return view.redirect(
        f"{page.base}/documents/{new_id}", ok="replaced" if replaced else "uploaded"
    )


def _deposit_page(
    view: View, ins: str, system: str, status: int = 200, **values: object
) -> Response:
    view.require("pro")
    defaults: dict[str, object] = {
        "form": {
            "facility": DEFAULT_FACILITY,
            "setting": DEFAULT_SETTING,
            "designation": DEFAULT_DESIGNATION,
            "custodian": view.call().actor.structure or "",
        },
        "form_error": "",
        "problem": None,
    }
    return view.page(
        "pro/deposit.html",
        status=status,
        hidden={"ins": ins, "system": system},
        **_choices(view),
        **(defaults | values),
    )


@router.post("/deposit")
def deposit_form(
    view: FormView, ins: Annotated[str, Form()] = "", system: Annotated[str, Form()] = ""
) -> Response:
    """R-PS-1: a blocked professional may still submit, naming the patient by INS."""
    return _deposit_page(view, "".join(ins.split()).upper(), system)


@router.post("/deposit/submit")
def deposit(
    view: FormView,
    fields: Fields,
    ins: Annotated[str, Form()] = "",
    system: Annotated[str, Form()] = "",
) -> Response:
    """TD2.1 by INS (API.md §14): the service resolves the record and decides."""
    view.require("pro")
    call = view.call()
    ctx = view.services
    try:
        command = professional_submission(
            None,
            call.actor,
            fields.upload(),
            fields.metadata(),
            ctx.clock.now(),
            subject_ins=Ins(system, ins),
        )
        submit_documents(ctx, call, command)
    except FormProblem as problem:
        error = view.t(f"form.{problem.key}")
        return _deposit_page(view, ins, system, 400, form=fields.values, form_error=error)
    except DmpError as failure:
        found = problem_of(view.t, failure)
        return _deposit_page(view, ins, system, found.status, form=fields.values, problem=found)
    return view.redirect("/pro/", ok="deposited")
