"""Records, their legal representatives and their lifecycle queries (SPEC.md §3, REC-1..6)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, exists, func, insert, select, update

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.statements import insert_unless_exists
from opendmp.domain.errors import Conflict
from opendmp.domain.identifiers import Ins, RecordId
from opendmp.domain.record import (
    ClosureReason,
    Demographics,
    OpeningChannel,
    PatientSettings,
    Record,
    RecordState,
    Representative,
)

_LIKE_ESCAPE = "\\"


def name_key(name: str) -> str:
    """Case- and accent-insensitive form of a name (R-EM-2 search: "Élodie" finds "ELODIE")."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _escape_like(value: str) -> str:
    return (
        value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def _values(record: Record) -> dict[str, Any]:
    demographics, settings = record.demographics, record.settings
    return {
        "record_id": record.id,
        "ins_system": record.ins.system,
        "ins_value": record.ins.value,
        "family": demographics.family,
        "given": demographics.given,
        "family_key": name_key(demographics.family),
        "given_key": name_key(demographics.given),
        "birth_date": demographics.birth_date,
        "sex": demographics.sex,
        "state": record.state.value,
        "opened_at": record.opened_at,
        "opened_by": record.opened_by,
        "channel": record.channel.value,
        "is_activated": record.is_activated,
        "allow_centre_15": settings.allow_centre_15,
        "allow_break_the_glass": settings.allow_break_the_glass,
        "allow_masked_in_emergency": settings.allow_masked_in_emergency,
        "mask_new_documents": settings.mask_new_documents,
        "notify_new_documents": settings.notify_new_documents,
        "email": settings.email,
        "closed_at": record.closed_at,
        "closure_reason": record.closure_reason.value if record.closure_reason else None,
        "destroy_after": record.destroy_after,
        "version": record.version,
    }


def _record(row: Row[Any], representatives: tuple[Representative, ...]) -> Record:
    return Record(
        id=RecordId(row.record_id),
        ins=Ins(row.ins_system, row.ins_value),
        demographics=Demographics(
            family=row.family, given=row.given, birth_date=row.birth_date, sex=row.sex
        ),
        state=RecordState(row.state),
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        channel=OpeningChannel(row.channel),
        is_activated=row.is_activated,
        settings=PatientSettings(
            allow_centre_15=row.allow_centre_15,
            allow_break_the_glass=row.allow_break_the_glass,
            allow_masked_in_emergency=row.allow_masked_in_emergency,
            mask_new_documents=row.mask_new_documents,
            notify_new_documents=row.notify_new_documents,
            email=row.email,
        ),
        representatives=representatives,
        closed_at=row.closed_at,
        closure_reason=ClosureReason(row.closure_reason) if row.closure_reason else None,
        destroy_after=row.destroy_after,
        version=row.version,
    )


def _with_representatives(*conditions: Any) -> Any:
    """A record and its representatives, one row per representative (at least one row)."""
    r = t.representatives
    return (
        select(
            t.records,
            r.c.ins_system.label("rep_ins_system"),
            r.c.ins_value.label("rep_ins_value"),
            r.c.relationship.label("rep_relationship"),
            r.c.name.label("rep_name"),
        )
        .outerjoin(r, r.c.record_id == t.records.c.record_id)
        .where(*conditions)
        .order_by(r.c.position)
    )


# Built once (every request loads its record): a statement keeps its cache key, calls only bind.
_BY_ID = _with_representatives(t.records.c.record_id == bindparam("record_id"))
_LIVE_BY_INS = _with_representatives(
    t.records.c.ins_value == bindparam("ins_value"),
    t.records.c.state != RecordState.DESTROYED.value,
)


class SqlRecordRepository:
    """`RecordRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, record: Record) -> None:
        """REC-1: a second live record for the same INS is refused by a unique index."""
        values = _values(record)
        if not insert_unless_exists(self._connection, t.records, values):
            raise Conflict(
                "DMP-0300",
                "a record already exists for this INS or with this id",
                rule="REC-1",
            )
        self._write_representatives(record)

    def get(self, record_id: RecordId) -> Record | None:
        return self._load(_BY_ID, {"record_id": record_id})

    def get_for_update(self, record_id: RecordId) -> Record | None:
        statement = select(t.records).where(t.records.c.record_id == record_id)
        return self._one(statement.with_for_update())

    def get_by_ins(self, ins_value: str) -> Record | None:
        return self._load(_LIVE_BY_INS, {"ins_value": ins_value})

    def update(self, record: Record, *, expected_version: int) -> None:
        """Optimistic lock: the row must still carry `expected_version` (DMP-0409)."""
        if record.version <= expected_version:
            raise ValueError("an updated record must carry a higher version than expected")
        values = _values(record)
        del values["record_id"]
        result = self._connection.execute(
            update(t.records)
            .where(t.records.c.record_id == record.id, t.records.c.version == expected_version)
            .values(values)
        )
        if result.rowcount != 1:
            raise Conflict(
                "DMP-0409",
                f"the record changed meanwhile (expected version {expected_version})",
            )
        self._connection.execute(
            delete(t.representatives).where(t.representatives.c.record_id == record.id)
        )
        self._write_representatives(record)

    def find_by_demographics(
        self, *, family: str, given: str | None, birth_date: str | None, limit: int
    ) -> list[Record]:
        """R-EM-2: exact family name and given-name prefix, both case- and accent-folded."""
        conditions = [
            t.records.c.family_key == name_key(family),
            t.records.c.state != RecordState.DESTROYED.value,
        ]
        if given:
            pattern = _escape_like(name_key(given)) + "%"
            conditions.append(t.records.c.given_key.like(pattern, escape=_LIKE_ESCAPE))
        if birth_date:
            conditions.append(t.records.c.birth_date == date.fromisoformat(birth_date))
        statement = (
            select(t.records)
            .where(*conditions)
            .order_by(t.records.c.family_key, t.records.c.given_key, t.records.c.record_id)
            .limit(limit)
        )
        return self._many(statement)

    def represented_by(self, ins_value: str) -> list[Record]:
        """REC-6: the records naming this INS as a legal representative."""
        named = exists().where(
            t.representatives.c.record_id == t.records.c.record_id,
            t.representatives.c.ins_value == ins_value,
        )
        statement = (
            select(t.records)
            .where(named, t.records.c.state != RecordState.DESTROYED.value)
            .order_by(t.records.c.record_id)
        )
        return self._many(statement)

    def due_for_destruction(self, now: datetime, limit: int) -> list[Record]:
        """REC-4: closed records past their destroy_after, oldest first."""
        statement = (
            select(t.records)
            .where(
                t.records.c.state == RecordState.CLOSED.value,
                t.records.c.destroy_after <= now,
            )
            .order_by(t.records.c.destroy_after, t.records.c.record_id)
            .limit(limit)
        )
        return self._many(statement)

    def purge(self, record_id: RecordId) -> None:
        """REC-4: delete the record's rows except its audit chain and its `records` row.

        The `records` row stays so that the record can be marked destroyed (the service's
        update), which keeps statistics and the INS free for a new record.
        """
        for table in (
            t.document_events,
            t.document_authors,
            t.documents,
            t.submission_sets,
            t.consents,
            t.outbox,
            t.record_keys,
            t.representatives,
        ):
            self._connection.execute(delete(table).where(table.c.record_id == record_id))

    def count_by_state(self) -> dict[str, int]:
        counts = {state.value: 0 for state in RecordState}
        statement = select(t.records.c.state, func.count()).group_by(t.records.c.state)
        for state, count in self._connection.execute(statement):
            counts[state] = count
        return counts

    def _write_representatives(self, record: Record) -> None:
        rows = [
            {
                "record_id": record.id,
                "position": position,
                "ins_system": representative.ins.system,
                "ins_value": representative.ins.value,
                "relationship": representative.relationship,
                "name": representative.name,
            }
            for position, representative in enumerate(record.representatives)
        ]
        if rows:
            self._connection.execute(insert(t.representatives), rows)

    def _load(self, statement: Any, params: dict[str, Any]) -> Record | None:
        """One record from a `_with_representatives` statement (one round trip)."""
        rows = self._connection.execute(statement, params).all()
        if not rows:
            return None
        representatives = tuple(
            Representative(
                Ins(row.rep_ins_system, row.rep_ins_value), row.rep_relationship, row.rep_name
            )
            for row in rows
            if row.rep_ins_value is not None
        )
        return _record(rows[0], representatives)

    def _one(self, statement: Any) -> Record | None:
        found = self._many(statement)
        return found[0] if found else None

    def _many(self, statement: Any) -> list[Record]:
        rows = self._connection.execute(statement).all()
        if not rows:
            return []
        ids = [row.record_id for row in rows]
        representatives: dict[str, list[Representative]] = {}
        for rep in self._connection.execute(
            select(t.representatives)
            .where(t.representatives.c.record_id.in_(ids))
            .order_by(t.representatives.c.record_id, t.representatives.c.position)
        ):
            representatives.setdefault(rep.record_id, []).append(
                Representative(Ins(rep.ins_system, rep.ins_value), rep.relationship, rep.name)
            )
        return [_record(row, tuple(representatives.get(row.record_id, ()))) for row in rows]
