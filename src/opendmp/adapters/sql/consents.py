"""The patient's relationships with professionals: authorized, blocked, administrators (§5)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, true, update

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.statements import insert_unless_exists
from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.errors import Conflict, NotFound
from opendmp.domain.identifiers import RecordId

c = t.consents
# Built once (asked on every request of a professional): each call only binds.
_FOR_PROFESSIONAL = (
    select(c)
    .where(
        c.c.record_id == bindparam("record_id"),
        c.c.professional_id == bindparam("professional_id"),
        c.c.is_active == true(),
    )
    .order_by(c.c.recorded_at, c.c.id)
)


def _values(consent: Consent) -> dict[str, Any]:
    return {
        "record_id": consent.record_id,
        "id": consent.id,
        "professional_id": consent.professional_id,
        "provision": consent.provision.value,
        "role": consent.role.value,
        "performer_kind": consent.performer_kind,
        "performer_id": consent.performer_id,
        "recorded_at": consent.recorded_at,
        "is_active": consent.is_active,
        "professional_name": consent.professional_name,
        "ended_at": consent.ended_at,
    }


def _consent(row: Row[Any]) -> Consent:
    return Consent(
        id=row.id,
        record_id=RecordId(row.record_id),
        professional_id=row.professional_id,
        provision=Provision(row.provision),
        role=ConsentRole(row.role),
        performer_kind=row.performer_kind,
        performer_id=row.performer_id,
        recorded_at=row.recorded_at,
        is_active=row.is_active,
        professional_name=row.professional_name,
        ended_at=row.ended_at,
    )


class SqlConsentRepository:
    """`ConsentRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, consent: Consent) -> None:
        if not insert_unless_exists(self._connection, c, _values(consent)):
            raise Conflict("DMP-0409", f"consent {consent.id} already exists")

    def get(self, consent_id: str) -> Consent | None:
        row = self._connection.execute(select(c).where(c.c.id == consent_id).limit(1)).first()
        return _consent(row) if row is not None else None

    def update(self, consent: Consent) -> None:
        values = _values(consent)
        del values["record_id"], values["id"]
        result = self._connection.execute(
            update(c).where(c.c.record_id == consent.record_id, c.c.id == consent.id).values(values)
        )
        if result.rowcount != 1:
            raise NotFound("DMP-0404", f"no consent {consent.id} on this record")

    def for_record(self, record_id: RecordId, *, active_only: bool = True) -> list[Consent]:
        statement = select(c).where(c.c.record_id == record_id)
        if active_only:
            statement = statement.where(c.c.is_active == true())
        return self._many(statement)

    def for_professional(self, record_id: RecordId, professional_id: str) -> list[Consent]:
        """R-PS-1..3: the active consents naming this professional on this record."""
        rows = self._connection.execute(
            _FOR_PROFESSIONAL, {"record_id": record_id, "professional_id": professional_id}
        )
        return [_consent(row) for row in rows]

    def _many(self, statement: Any) -> list[Consent]:
        ordered = statement.order_by(c.c.recorded_at, c.c.id)
        return [_consent(row) for row in self._connection.execute(ordered)]
