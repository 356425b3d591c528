"""What every page of the patient's portal needs: the signed-in person and the record shown.

A person acts on their own record and on the records of the minors they represent
(`records_of_person`, REC-6); every action is then decided by the services (R-PAT-1..3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opendmp.domain.errors import NotFound
from opendmp.domain.record import Record
from opendmp.services.context import Call, ServiceContext
from opendmp.services.records import records_of_person
from opendmp.web.portal.present import Present
from opendmp.web.portal.view import View


@dataclass
class PatientPage:
    view: View
    call: Call
    record: Record
    records: list[Record]

    @property
    def services(self) -> ServiceContext:
        return self.view.services

    @property
    def base(self) -> str:
        return f"/patient/records/{self.record.id}"

    @property
    def is_own(self) -> bool:
        return self.record.ins.value == self.call.actor.id

    def present(self) -> Present:
        return Present(self.view.t, self.view.services.clock.now())

    def values(self, section: str, **extra: Any) -> dict[str, Any]:
        return {
            "record": self.record,
            "records": self.records,
            "base": self.base,
            "is_own": self.is_own,
            "section": section,
            "p": self.present(),
            **extra,
        }


def patient_records(view: View) -> tuple[Call, list[Record]]:
    view.require("patient")
    call = view.call()
    return call, records_of_person(view.services, call)


def patient_page(view: View, record_id: str) -> PatientPage:
    """The record if this person may act on it; else the same 404 as an unknown record."""
    call, records = patient_records(view)
    record = next((r for r in records if r.id == record_id), None)
    if record is None:
        raise NotFound("DMP-0404", "no such record")
    return PatientPage(view, call, record, records)
