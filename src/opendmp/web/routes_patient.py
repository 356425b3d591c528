"""Patients and records: PDQm ITI-78 and the DMP operations (API.md "Patients and records",
Details §3-§5, §23; SPEC.md REC-1..6, R-EM-2, §5.4)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter

from opendmp.domain.errors import DmpError, ErrorKind, InvalidRequest, NotFound
from opendmp.domain.identifiers import OID_INS_NIR, Ins
from opendmp.domain.record import Record
from opendmp.fhir import render
from opendmp.fhir.operations import (
    parse_close_parameters,
    parse_open_parameters,
    parse_settings_parameters,
    settings_parameters,
)
from opendmp.fhir.references import ins_of
from opendmp.services import records
from opendmp.services.context import Call
from opendmp.services.find_documents import find_documents, find_submission_sets
from opendmp.services.ports import DocumentQuery
from opendmp.web.deps import CurrentCall, FhirBase, FhirBody, QueryParams, RuntimeDep, Strict
from opendmp.web.errors import BAD_PATIENT_SEARCH
from opendmp.web.lookup import is_state_only
from opendmp.web.responses import FhirResponse, resource_response

router = APIRouter(prefix="/fhir", tags=["Patient"])

_KNOWN = frozenset({"identifier", "_id", "family", "given", "birthdate", "_count"})
_IGNORED = frozenset({"_format", "_pretty", "_summary", "_total"})
_BIRTHDATE = re.compile(r"(eq)?(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class PatientSearch:
    """ITI-78 by INS, by id, or (centre 15 only, R-EM-2) by demographics."""

    ins: Ins | None = None
    record_id: str | None = None
    family: str | None = None
    given: str | None = None
    birth_date: str | None = None
    kept: tuple[tuple[str, str], ...] = ()


def _bad(message: str, path: str) -> InvalidRequest:
    return InvalidRequest(BAD_PATIENT_SEARCH, message, path=path)


def parse_patient_search(
    params: list[tuple[str, str]], *, strict: bool, any_system: bool
) -> PatientSearch:
    values: dict[str, str] = {}
    unknown = [name for name, _ in params if name not in _KNOWN | _IGNORED]
    if strict and unknown:
        raise InvalidRequest(
            "DMP-0622",
            f"unknown search parameters {', '.join(sorted(set(unknown)))} "
            "(Prefer: handling=strict)",
            path=unknown[0],
        )
    for name, value in params:
        if name not in _KNOWN:
            continue
        if name in values and values[name] != value:
            raise _bad(f"{name} is given twice with different values", name)
        values[name] = value.strip()
    kept = tuple((n, v) for n, v in params if n in _KNOWN)
    if "identifier" in values:
        system, sep, value = values["identifier"].rpartition("|")
        ins = ins_of(system if sep else OID_INS_NIR, value, any_system=any_system)
        if ins is None:
            raise _bad(
                "identifier is <INS system>|<INS> (urn:oid:1.2.250.1.213.1.4.8|…)", "identifier"
            )
        return PatientSearch(ins=ins, kept=kept)
    if values.get("_id"):
        return PatientSearch(record_id=values["_id"], kept=kept)
    if values.get("family"):
        born = values.get("birthdate")
        match = _BIRTHDATE.fullmatch(born) if born else None
        if born and match is None:
            raise _bad("birthdate is YYYY-MM-DD", "birthdate")
        return PatientSearch(
            family=values["family"],
            given=values.get("given") or None,
            birth_date=match.group(2) if match else None,
            kept=kept,
        )
    raise _bad(
        "search by identifier (the INS), _id, or family (+ given, birthdate) in centre-15 mode",
        "identifier",
    )


def _patient(call: Call, record: Record, base: str) -> dict[str, Any]:
    return render.patient(record, base, state_only=is_state_only(call, record))


@router.get("/Patient")
def search_patients(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, params: QueryParams, strict: Strict
) -> FhirResponse:
    """PDQm ITI-78: does this patient have a record, in what state (API.md Details §4)."""
    services = runtime.application.services
    search = parse_patient_search(params, strict=strict, any_system=runtime.any_system)
    found: list[Record] = []
    if search.ins is not None or search.record_id is not None:
        try:
            if search.ins is not None:
                record = records.find_record(services, call, search.ins)
            else:
                record = records.read_record(services, call, search.record_id or "")
        except NotFound:
            record = None  # not theirs, or none: the same empty answer (API.md §6)
        found = [record] if record is not None else []
    else:
        found = records.find_by_demographics(
            services,
            call,
            family=search.family or "",
            given=search.given,
            birth_date=search.birth_date,
        )
    self_url = f"{base}/Patient" + (f"?{urlencode(search.kept)}" if search.kept else "")
    resources = [_patient(call, r, base) for r in found]
    return FhirResponse(render.searchset(resources, len(resources), self_url, base_url=base))


@router.get("/Patient/{record_id}")
def read_patient(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, record_id: str
) -> FhirResponse:
    record = records.read_record(runtime.application.services, call, record_id)
    return resource_response(_patient(call, record, base))


@router.post("/Patient/$dmp-open")
def open_record(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, body: FhirBody
) -> FhirResponse:
    """REC-1: 201 Created with the Patient and its Location (API.md Details §3)."""
    command = parse_open_parameters(body, any_system=runtime.any_system)
    record = records.open_record(runtime.application.services, call, command)
    return resource_response(
        _patient(call, record, base), status=201, location=f"{base}/Patient/{record.id}"
    )


@router.post("/Patient/{record_id}/$dmp-close")
def close_record(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, body: FhirBody, record_id: str
) -> FhirResponse:
    """REC-3: `reason` patient-request (the patient, the operator) or death (API.md §5, §23)."""
    reason = parse_close_parameters(body)
    record = records.close_record(runtime.application.services, call, record_id, reason)
    return resource_response(_patient(call, record, base))


@router.post("/Patient/{record_id}/$dmp-reopen")
def reopen_record(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, record_id: str
) -> FhirResponse:
    """REC-5 (a Parameters body, if any, holds nothing the operation needs)."""
    record = records.reopen_record(runtime.application.services, call, record_id)
    return resource_response(_patient(call, record, base))


@router.get("/Patient/{record_id}/$dmp-settings")
def read_settings(call: CurrentCall, runtime: RuntimeDep, record_id: str) -> FhirResponse:
    settings = records.read_settings(runtime.application.services, call, record_id)
    return FhirResponse(settings_parameters(settings))


@router.post("/Patient/{record_id}/$dmp-settings")
def change_settings(
    call: CurrentCall, runtime: RuntimeDep, body: FhirBody, record_id: str
) -> FhirResponse:
    """§5.4, DOC-8, NOT-3: the named settings change, the others stay."""
    services = runtime.application.services
    current = records.read_settings(services, call, record_id)
    wanted = parse_settings_parameters(body, current)
    settings = records.update_settings(services, call, record_id, wanted)
    return FhirResponse(settings_parameters(settings))


@router.get("/Patient/{record_id}/$everything")
def everything(
    call: CurrentCall, runtime: RuntimeDep, base: FhirBase, record_id: str
) -> FhirResponse:
    """What this caller may see of the record: the Patient, its submission sets and documents.

    A professional on a closed record sees the state only (REC-3, API.md §5); any other
    refusal of the document search is the answer (API.md §20).
    """
    services = runtime.application.services
    record = records.read_record(services, call, record_id)
    resources = [_patient(call, record, base)]
    try:
        sets = find_submission_sets(services, call, record.id)
        documents = []
        query = DocumentQuery(count=services.deployment.limits.max_count)
        while True:
            page = find_documents(services, call, record.id, query)
            documents += page.items
            if not page.items or query.offset + query.count >= page.total:
                break
            query = replace(query, offset=query.offset + query.count)
    except DmpError as error:
        if error.kind is not ErrorKind.BUSINESS_RULE or not is_state_only(call, record):
            raise
        sets, documents = [], []
    now = services.clock.now()
    resources += [render.submission_set_list(s, base) for s in sets]
    resources += [render.document_reference(d, base, now=now) for d in documents]
    self_url = f"{base}/Patient/{record.id}/$everything"
    return FhirResponse(render.searchset(resources, len(resources), self_url, base_url=base))
