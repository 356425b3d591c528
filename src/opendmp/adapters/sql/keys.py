"""Wrapped per-record data keys (SEC-1 envelope encryption, REC-4 crypto-shredding)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, select

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.statements import upsert
from opendmp.domain.identifiers import RecordId
from opendmp.services.ports import WrappedKey

k = t.record_keys
# Built once: a statement object keeps its cache key, so each call only binds (every read).
_GET = select(k).where(k.c.record_id == bindparam("record_id"))


class SqlKeyRepository:
    """`KeyRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def put(self, record_id: RecordId, key: WrappedKey) -> None:
        values = {
            "record_id": record_id,
            "master_key_id": key.master_key_id,
            "wrapped": key.wrapped,
        }
        upsert(self._connection, k, values, keys=["record_id"])

    def get(self, record_id: RecordId) -> WrappedKey | None:
        row = self._connection.execute(_GET, {"record_id": record_id}).first()
        return WrappedKey(row.master_key_id, bytes(row.wrapped)) if row is not None else None

    def destroy(self, record_id: RecordId) -> None:
        """REC-4: without this key the record's blobs can no longer be decrypted."""
        self._connection.execute(delete(k).where(k.c.record_id == record_id))

    def wrapped_by_other_than(self, master_key_id: str, limit: int) -> list[RecordId]:
        """SEC-1 rotation: the records whose key still needs rewrapping."""
        rows = self._connection.execute(
            select(k.c.record_id)
            .where(k.c.master_key_id != master_key_id)
            .order_by(k.c.record_id)
            .limit(limit)
        )
        return [RecordId(row.record_id) for row in rows]
