"""The patient manages the record: access, emergency and notification settings, history,
export, closing and reopening (R-PAT-2, §5.4, AUD-3, REC-3, REC-5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from opendmp.domain.consents import ConsentRole, Provision
from opendmp.domain.identifiers import parse_idnps
from opendmp.domain.record import ClosureReason, PatientSettings
from opendmp.services.access_history import access_history
from opendmp.services.consents import ConsentCommand, end_consent, list_consents, record_consent
from opendmp.services.export_record import export_record
from opendmp.services.ports import AuditQuery
from opendmp.services.records import close_record, read_settings, reopen_record, update_settings
from opendmp.web.portal.documents import parse_day
from opendmp.web.portal.export import export_zip
from opendmp.web.portal.patient_common import patient_page
from opendmp.web.portal.view import FormView, PageView, PortalRoute

router = APIRouter(prefix="/patient", route_class=PortalRoute, include_in_schema=False)

HISTORY_PAGE = 100


@router.get("/records/{record_id}/access")
def access(view: PageView, record_id: str) -> Response:
    """TD1.6 / R-PAT-1: the authorized, blocked professionals and administrators."""
    page = patient_page(view, record_id)
    consents = list_consents(view.services, page.call, record_id)
    permits = [c for c in consents if c.provision is Provision.PERMIT]
    return view.page(
        "patient/access.html",
        **page.values(
            "access",
            administrators=[c for c in permits if c.role is ConsentRole.ADMINISTRATOR],
            authorized=[c for c in permits if c.role is not ConsentRole.ADMINISTRATOR],
            blocked=[c for c in consents if c.provision is Provision.DENY],
        ),
    )


@router.post("/records/{record_id}/access/add")
def add_access(
    view: FormView,
    record_id: str,
    idnps: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    relation: Annotated[str, Form()] = "authorize",
) -> Response:
    """R-PAT-2: authorize a professional, name an administrator (R-PS-3), or block (R-PS-1)."""
    page = patient_page(view, record_id)
    professional = idnps.strip()
    parse_idnps(professional, path="idnps")
    provision = Provision.DENY if relation == "block" else Provision.PERMIT
    role = ConsentRole.ADMINISTRATOR if relation == "administrator" else ConsentRole.PARTICIPANT
    record_consent(
        view.services,
        page.call,
        ConsentCommand(record_id, professional, provision, role, name.strip()[:120]),
    )
    ok = {"block": "blocked", "administrator": "administrator-named"}.get(relation, "authorized")
    return view.redirect(f"{page.base}/access", ok=ok)


@router.post("/records/{record_id}/access/{consent_id}/end")
def end_access(view: FormView, record_id: str, consent_id: str) -> Response:
    """Revoke an authorization, unblock (the patient's agreement is needed again), remove an
    administrator."""
    page = patient_page(view, record_id)
    ended = end_consent(view.services, page.call, consent_id)
    ok = "unblocked" if ended.provision is Provision.DENY else "access-ended"
    return view.redirect(f"{page.base}/access", ok=ok)


@router.get("/records/{record_id}/settings")
def settings(view: PageView, record_id: str) -> Response:
    page = patient_page(view, record_id)
    current = read_settings(view.services, page.call, record_id)
    return view.page("patient/settings.html", **page.values("settings", settings=current))


@router.post("/records/{record_id}/settings")
def save_settings(
    view: FormView,
    record_id: str,
    allow_centre_15: Annotated[str, Form()] = "",
    allow_break_the_glass: Annotated[str, Form()] = "",
    allow_masked_in_emergency: Annotated[str, Form()] = "",
    mask_new_documents: Annotated[str, Form()] = "",
    notify_new_documents: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    """§5.4 (masked-in-emergency is forced off when both modes are refused), DOC-8, NOT-3."""
    page = patient_page(view, record_id)
    asked = PatientSettings(
        allow_centre_15=bool(allow_centre_15),
        allow_break_the_glass=bool(allow_break_the_glass),
        allow_masked_in_emergency=bool(allow_masked_in_emergency),
        mask_new_documents=bool(mask_new_documents),
        notify_new_documents=bool(notify_new_documents),
        email=email.strip()[:200] or None,
    )
    saved = update_settings(view.services, page.call, record_id, asked)
    forced = asked.allow_masked_in_emergency and not saved.allow_masked_in_emergency
    return view.redirect(
        f"{page.base}/settings", ok="settings-forced" if forced else "settings-saved"
    )


@router.get("/records/{record_id}/history")
def history(view: PageView, record_id: str) -> Response:
    """AUD-3: every trace of the record, newest first, emergency accesses highlighted."""
    page = patient_page(view, record_id)
    params = view.request.query_params
    day_from, day_to = parse_day(params.get("from", "")), parse_day(params.get("to", ""))
    who = params.get("who", "")[:64]
    offset = params.get("offset", "0")
    query = AuditQuery(
        actor_id=who or None,
        date_from=datetime.combine(day_from, time(), UTC) if day_from else None,
        date_to=datetime.combine(day_to + timedelta(days=1), time(), UTC) if day_to else None,
        count=HISTORY_PAGE,
        offset=int(offset) if offset.isdigit() and int(offset) < 1_000_000 else 0,
    )
    found = access_history(view.services, page.call, record_id, query)
    only_emergency = params.get("emergency") == "1"
    entries = [e for e in found.items if not only_emergency or e.access_mode != "normal"]
    people = sorted(
        {e.actor_id: e.actor_name or e.actor_id for e in found.items}.items(),
        key=lambda item: item[1].lower(),
    )
    present = page.present()
    days = [
        (present.t.date(day), list(items))
        for day, items in groupby(entries, key=lambda e: e.recorded_at.date())
    ]
    return view.page(
        "patient/history.html",
        **page.values(
            "history",
            days=days,
            found=found,
            people=people,
            who=who,
            day_from=day_from.isoformat() if day_from else "",
            day_to=day_to.isoformat() if day_to else "",
            only_emergency=only_emergency,
            next_offset=query.offset + HISTORY_PAGE
            if query.offset + HISTORY_PAGE < found.total
            else None,
        ),
    )


@router.get("/records/{record_id}/record")
def record(view: PageView, record_id: str) -> Response:
    page = patient_page(view, record_id)
    return view.page("patient/record.html", **page.values("record"))


@router.get("/records/{record_id}/export.zip")
def export(view: PageView, record_id: str) -> Response:
    """R-PAT-2 (and REC-3: still possible once closed): the documents and their metadata."""
    page = patient_page(view, record_id)
    exported = export_record(view.services, page.call, record_id)
    now = view.services.clock.now()
    return Response(
        export_zip(exported, at=now),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="dmp-{now:%Y%m%d}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/records/{record_id}/close")
def close(view: FormView, record_id: str, confirm: Annotated[str, Form()] = "") -> Response:
    """REC-3: the patient closes the record at any time (kept 10 years, REC-4)."""
    page = patient_page(view, record_id)
    if not confirm:
        return view.redirect(f"{page.base}/record", ok="confirm-needed")
    close_record(view.services, page.call, record_id, ClosureReason.PATIENT_REQUEST)
    return view.redirect(f"{page.base}/record", ok="closed")


@router.post("/records/{record_id}/reopen")
def reopen(view: FormView, record_id: str) -> Response:
    """REC-5: everything archived at closure comes back."""
    page = patient_page(view, record_id)
    reopen_record(view.services, page.call, record_id)
    return view.redirect(f"{page.base}/record", ok="reopened")
