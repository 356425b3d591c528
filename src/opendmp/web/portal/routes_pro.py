"""The professionals' portal: find a patient, the record, authorization, break-the-glass,
documents and their viewer, own traces (issue 4 §2).

The professional acts with the claims of its sign-in (profession, structure, mode); on a
record where it declared break-the-glass, the mode and the stated reason go with every call
(R-EM-1, R-EM-3). What it may see or do is decided by the services (SPEC.md §5.2, §5.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form
from starlette.responses import Response

from opendmp.domain import terminology
from opendmp.domain.actors import AccessMode
from opendmp.domain.consents import Provision
from opendmp.domain.errors import DmpError, InvalidRequest
from opendmp.domain.identifiers import OID_INS_DEMO, OID_INS_NIA, OID_INS_NIR, OID_INS_TEST, Ins
from opendmp.domain.record import Record
from opendmp.services.access_history import access_history
from opendmp.services.consents import ConsentCommand, record_consent
from opendmp.services.context import Call, ServiceContext
from opendmp.services.ports import AuditQuery
from opendmp.services.records import find_by_demographics, find_record, read_record
from opendmp.web.portal.documents import Filters, authors_of, parse_day, search
from opendmp.web.portal.messages import Problem, problem_of
from opendmp.web.portal.present import Present
from opendmp.web.portal.view import FormView, PageView, PortalRoute, View

router = APIRouter(prefix="/pro", route_class=PortalRoute, include_in_schema=False)

INS_SYSTEMS = (OID_INS_NIR, OID_INS_NIA, OID_INS_TEST, OID_INS_DEMO)
# Refusals that end a declared emergency access: the patient refused it, no reason, no column.
_EMERGENCY_REFUSALS = frozenset({"DMP-0414", "DMP-0415", "DMP-0416", "DMP-0417", "DMP-0426"})
TRACES_PAGE = 100


@dataclass
class ProPage:
    view: View
    call: Call
    record: Record

    @property
    def services(self) -> ServiceContext:
        return self.view.services

    @property
    def base(self) -> str:
        return f"/pro/records/{self.record.id}"

    def values(self, section: str, **extra: Any) -> dict[str, Any]:
        actor = self.call.actor
        return {
            "record": self.record,
            "base": self.base,
            "section": section,
            "p": Present(self.view.t, self.view.services.clock.now()),
            "actor": actor,
            "emergency_reason": self.view.emergency_reason(self.record.id),
            "mode": actor.access_mode.value,
            **extra,
        }


def pro_page(view: View, record_id: str) -> ProPage:
    """TD1.3a: the record's state, read (and traced) with the caller's mode."""
    view.require("pro")
    call = view.call(record_id)
    try:
        record = read_record(view.services, call, record_id)
    except DmpError as error:
        if error.code in _EMERGENCY_REFUSALS:  # the declared emergency ends with its refusal
            end_emergency(view, record_id)
        raise
    return ProPage(view, call, record)


def end_emergency(view: View, record_id: str) -> None:
    if view.session is not None and view.session.emergency.pop(record_id, None) is not None:
        view.is_session_changed = True


def _search_page(view: View, status: int = 200, **values: object) -> Response:
    view.require("pro")
    actor = view.call().actor
    defaults: dict[str, object] = {
        "problem": None,
        "not_found": False,
        "results": None,
        "form": {},
    }
    return view.page(
        "pro/search.html",
        status=status,
        **(defaults | values),
        systems=INS_SYSTEMS,
        is_centre_15=actor.access_mode is AccessMode.CENTRE_15,
        actor=actor,
        p=Present(view.t, view.services.clock.now()),
    )


@router.get("/")
def search_page(view: PageView) -> Response:
    return _search_page(view)


@router.post("/search")
def search_by_ins(
    view: FormView,
    ins: Annotated[str, Form()] = "",
    system: Annotated[str, Form()] = OID_INS_NIR,
) -> Response:
    """TD0.2 / PDQm: does this patient have a record, in what state (ID-1 key checked)."""
    value = "".join(ins.split()).upper()
    form = {"ins": ins, "system": system}
    if system not in INS_SYSTEMS:
        system = OID_INS_NIR
    try:
        record = find_record(view.services, view.call(), Ins(system, value))
    except DmpError as error:
        found = problem_of(view.t, error)
        return _search_page(view, found.status, problem=found, form=form)
    if record is None:
        return _search_page(view, 404, not_found=True, form=form)
    return view.redirect(f"/pro/records/{record.id}/")


@router.post("/search/demographics")
def search_by_demographics(
    view: FormView,
    family: Annotated[str, Form()] = "",
    given: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
) -> Response:
    """R-EM-2 / TD0.5: without the INS, in centre-15 mode only (the service decides)."""
    form = {"family": family, "given": given, "birth_date": birth_date}
    day = parse_day(birth_date)
    try:
        if not family.strip():
            raise InvalidRequest("DMP-0808", "the family name is required", path="family")
        found = find_by_demographics(
            view.services,
            view.call(),
            family=family.strip(),
            given=given.strip() or None,
            birth_date=day.isoformat() if day else None,
        )
    except DmpError as error:
        problem = problem_of(view.t, error)
        return _search_page(view, problem.status, problem=problem, form=form)
    return _search_page(view, results=found, form=form)


@router.get("/records/{record_id}/")
def record(view: PageView, record_id: str) -> Response:
    """The record's state, then the documents this professional may find, or why not."""
    page = pro_page(view, record_id)
    filters = Filters.of(view.request.query_params)
    refusal: Problem | None = None
    found = None
    try:
        found = search(view.services, page.call, record_id, filters)
    except DmpError as error:
        refusal = problem_of(view.t, error)
        if error.code in _EMERGENCY_REFUSALS:
            end_emergency(view, record_id)
            page = ProPage(view, view.call(record_id), page.record)
    return view.page(
        "pro/record.html",
        **page.values(
            "record",
            found=found,
            refusal=refusal,
            filters=filters,
            authors=authors_of(found.items, filters.author) if found else [],
            categories=terminology.class_codes().concepts,
        ),
    )


@router.post("/records/{record_id}/authorize")
def authorize(view: FormView, record_id: str, attest: Annotated[str, Form()] = "") -> Response:
    """R-PS-2 / TD0.3: the professional declares itself authorized, attesting that it
    obtained the patient's consent (API.md, Consent)."""
    page = pro_page(view, record_id)
    if not attest:
        return view.redirect(f"{page.base}/", ok="attest-needed")
    actor = page.call.actor
    record_consent(
        view.services,
        page.call,
        ConsentCommand(record_id, actor.id, Provision.PERMIT, professional_name=actor.name),
    )
    return view.redirect(f"{page.base}/", ok="self-authorized")


@router.get("/records/{record_id}/emergency")
def emergency_form(view: PageView, record_id: str) -> Response:
    """R-EM-1: the warning before break-the-glass: traced, notified, reason required."""
    page = pro_page(view, record_id)
    return view.page("pro/emergency.html", **page.values("emergency", form_error=""))


@router.post("/records/{record_id}/emergency")
def emergency(
    view: FormView,
    record_id: str,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    page = pro_page(view, record_id)
    stated = " ".join(reason.split())[:500]
    if not stated or not confirm:
        key = "form.reason-required" if not stated else "form.confirm-required"
        return view.page(
            "pro/emergency.html", status=400, **page.values("emergency", form_error=view.t(key))
        )
    assert view.session is not None
    view.session.emergency[record_id] = stated
    view.is_session_changed = True
    return view.redirect(f"{page.base}/", ok="emergency-started")


@router.post("/records/{record_id}/emergency/end")
def emergency_end(view: FormView, record_id: str) -> Response:
    view.require("pro")
    end_emergency(view, record_id)
    return view.redirect(f"/pro/records/{record_id}/", ok="emergency-ended")


@router.get("/records/{record_id}/traces")
def traces(view: PageView, record_id: str) -> Response:
    """R-PS-7: a professional sees the traces of its own actions (administrators: all)."""
    page = pro_page(view, record_id)
    offset = view.request.query_params.get("offset", "0")
    query = AuditQuery(
        count=TRACES_PAGE,
        offset=int(offset) if offset.isdigit() and int(offset) < 1_000_000 else 0,
    )
    found = access_history(view.services, page.call, record_id, query)
    return view.page(
        "pro/traces.html",
        **page.values(
            "traces",
            found=found,
            next_offset=query.offset + TRACES_PAGE
            if query.offset + TRACES_PAGE < found.total
            else None,
        ),
    )
