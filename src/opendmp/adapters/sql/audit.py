"""The audit trail: one hash chain per record, append-only (SPEC.md §6, AUD-1..4).

Each chain has a head row (last sequence, last hash). Appending locks the head
(`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the `BEGIN IMMEDIATE` write transaction
already serializes writers), so two concurrent appends never take the same sequence.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, union, update

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.statements import insert_unless_exists
from opendmp.domain.audit import GENESIS, AuditEntry, Outcome, entry_hash
from opendmp.domain.identifiers import RecordId
from opendmp.domain.policy import Action
from opendmp.services.ports import AuditQuery, Page

e = t.audit_entries
h = t.audit_heads
_BATCH = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# NOT-1: what counts as having accessed a record (reading content, not merely submitting).
CONTENT_READS = frozenset(
    {
        Action.DOCUMENT_SEARCH.value,
        Action.DOCUMENT_READ.value,
        Action.DOCUMENT_LOOKUP.value,
        Action.RECORD_EXPORT.value,
    }
)


# Built once (every audited request locks its chain's head): each call only binds.
_LOCK_HEAD = (
    select(h.c.last_sequence, h.c.last_hash)
    .where(h.c.record_id == bindparam("key"))
    .with_for_update()
)


# PostgreSQL: the entry inserted and the head moved in one round trip (a data-modifying CTE
# always runs, once, in its statement). Built once; the entry's parameters are prefixed so that
# they are not taken for audit_heads columns of the same name.
_APPEND_AND_MOVE_HEAD = (
    insert(e)
    .values({c.name: bindparam(f"entry_{c.name}", type_=c.type) for c in e.columns})
    .add_cte(
        update(h)
        .where(h.c.record_id == bindparam("head_key"))
        .values(last_sequence=bindparam("head_sequence"), last_hash=bindparam("head_hash"))
        .cte("moved_head")
    )
)


def chain_key(entry: AuditEntry) -> str:
    """Entries without a record share the "" chain."""
    return entry.record_id or ""


def _values(key: str, entry: AuditEntry) -> dict[str, Any]:
    return {
        "record_id": key,
        "sequence": entry.sequence,
        "id": entry.id,
        "recorded_at": entry.recorded_at,
        "action": entry.action,
        "outcome": entry.outcome.value,
        "rule": entry.rule,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "actor_profession": entry.actor_profession,
        "actor_structure": entry.actor_structure,
        "access_mode": entry.access_mode,
        "purpose_reason": entry.purpose_reason,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "request_id": entry.request_id,
        "client": entry.client,
        "detail": entry.detail,
        "previous_hash": entry.previous_hash,
        "hash": entry.hash,
    }


def _entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        record_id=row.record_id or None,
        recorded_at=row.recorded_at,
        action=row.action,
        outcome=Outcome(row.outcome),
        rule=row.rule,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        actor_profession=row.actor_profession,
        actor_structure=row.actor_structure,
        access_mode=row.access_mode,
        purpose_reason=row.purpose_reason,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        request_id=row.request_id,
        client=row.client,
        detail=row.detail,
        sequence=row.sequence,
        previous_hash=row.previous_hash,
        hash=row.hash,
    )


def _chained(entry: AuditEntry, key: str, sequence: int, previous_hash: str) -> AuditEntry:
    """The entry placed at `sequence`, its hash computed over the UTC instant (AUD-2)."""
    placed = replace(
        entry,
        record_id=key or None,
        recorded_at=entry.recorded_at.astimezone(UTC),
        sequence=sequence,
        previous_hash=previous_hash,
        hash="",
    )
    return replace(placed, hash=entry_hash(placed))


class KnownReaders:
    """(record, actor) pairs already known to have read the record (NOT-1), shared by the units
    of work of one factory. The trail is append-only, so a yes stays a yes; only yeses are
    kept, at most `size`, the oldest forgotten first. Saves a query on every repeat read."""

    def __init__(self, size: int = 65_536) -> None:
        self._pairs: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        with self._lock:
            return pair in self._pairs

    def add(self, pair: tuple[str, str]) -> None:
        with self._lock:
            self._pairs[pair] = None
            if len(self._pairs) > self._size:
                self._pairs.popitem(last=False)


class SqlAuditRepository:
    """`AuditRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection, readers: KnownReaders | None = None) -> None:
        self._connection = connection
        self._readers = readers if readers is not None else KnownReaders()

    def append(self, entry: AuditEntry) -> AuditEntry:
        key = chain_key(entry)
        last_sequence, last_hash = self._lock_head(key)
        chained = _chained(entry, key, last_sequence + 1, last_hash)
        values = _values(key, chained)
        if self._connection.dialect.name == "postgresql":
            params = {f"entry_{name}": value for name, value in values.items()}
            params |= {"head_key": key, "head_sequence": chained.sequence}
            params["head_hash"] = chained.hash
            self._connection.execute(_APPEND_AND_MOVE_HEAD, params)
        else:
            self._connection.execute(insert(e).values(values))
            self._connection.execute(
                update(h)
                .where(h.c.record_id == key)
                .values(last_sequence=chained.sequence, last_hash=chained.hash)
            )
        return chained

    def search(self, record_id: RecordId, query: AuditQuery) -> Page[AuditEntry]:
        """AUD-3 / R-PS-7: a record's traces, optionally only one actor's."""
        conditions = [e.c.record_id == record_id]
        if query.actor_id is not None:
            conditions.append(e.c.actor_id == query.actor_id)
        if query.date_from is not None:
            conditions.append(e.c.recorded_at >= query.date_from)
        if query.date_to is not None:
            conditions.append(e.c.recorded_at < query.date_to)
        total = self._connection.execute(
            select(func.count()).select_from(e).where(*conditions)
        ).scalar_one()
        if query.newest_first:
            order = [e.c.recorded_at.desc(), e.c.sequence.desc()]
        else:
            order = [e.c.recorded_at.asc(), e.c.sequence.asc()]
        rows = self._connection.execute(
            select(e).where(*conditions).order_by(*order).offset(query.offset).limit(query.count)
        )
        items = [_entry(row) for row in rows]
        return Page(items=items, total=total, offset=query.offset, count=query.count)

    def chains(self) -> Iterator[str]:
        """Every chain key, from the heads and from the entries (a deleted head shows too)."""
        keys = union(select(h.c.record_id), select(e.c.record_id)).subquery()
        rows = self._connection.execute(select(keys.c.record_id).order_by(keys.c.record_id))
        for row in rows.all():
            yield row.record_id

    def chain(self, chain_key: str) -> Iterator[AuditEntry]:
        """The chain in sequence order; if the head disagrees with the last entry (entries cut
        off the end, or the last one rewritten), a final `head:<key>` pseudo-entry carrying the
        head's sequence and hash follows, so `verify_chain` reports the break (AUD-2)."""
        last: AuditEntry | None = None
        after = 0
        while True:
            rows = self._connection.execute(
                select(e)
                .where(e.c.record_id == chain_key, e.c.sequence > after)
                .order_by(e.c.sequence)
                .limit(_BATCH)
            ).all()
            for row in rows:
                last = _entry(row)
                yield last
            if len(rows) < _BATCH:
                break
            after = rows[-1].sequence
        recorded = self.head(chain_key) or (0, GENESIS)
        found = (last.sequence, last.hash) if last is not None else (0, GENESIS)
        if recorded != found:
            yield _head_marker(chain_key, recorded, last)

    def head(self, chain_key: str) -> tuple[int, str] | None:
        row = self._connection.execute(
            select(h.c.last_sequence, h.c.last_hash).where(h.c.record_id == chain_key)
        ).first()
        return (row.last_sequence, row.last_hash) if row is not None else None

    def replace_chain_with_tombstone(self, chain_key: str, tombstone: AuditEntry) -> None:
        """REC-4: the chain restarts with one pseudonymous entry (AUD-4)."""
        self._lock_head(chain_key)
        self._connection.execute(delete(e).where(e.c.record_id == chain_key))
        chained = _chained(tombstone, chain_key, 1, GENESIS)
        self._connection.execute(insert(e).values(_values(chain_key, chained)))
        self._connection.execute(
            update(h)
            .where(h.c.record_id == chain_key)
            .values(last_sequence=1, last_hash=chained.hash)
        )

    def has_access_by(self, record_id: RecordId, actor_id: str) -> bool:
        """NOT-1: whether this actor already read the record's content successfully."""
        if (record_id, actor_id) in self._readers:
            return True
        statement = (
            select(e.c.sequence)
            .where(
                e.c.record_id == record_id,
                e.c.actor_id == actor_id,
                e.c.outcome == Outcome.SUCCESS.value,
                e.c.action.in_(sorted(CONTENT_READS)),
            )
            .limit(1)
        )
        if self._connection.execute(statement).first() is None:
            return False
        self._readers.add((record_id, actor_id))
        return True

    def _lock_head(self, key: str) -> tuple[int, str]:
        """Lock the head for the rest of the transaction, creating it on first use."""
        row = self._connection.execute(_LOCK_HEAD, {"key": key}).first()
        if row is None:
            insert_unless_exists(
                self._connection, h, {"record_id": key, "last_sequence": 0, "last_hash": GENESIS}
            )
            row = self._connection.execute(_LOCK_HEAD, {"key": key}).one()
        return row.last_sequence, row.last_hash


def _head_marker(key: str, recorded: tuple[int, str], last: AuditEntry | None) -> AuditEntry:
    sequence, last_hash = recorded
    marker = AuditEntry(
        id=f"head:{key}",
        record_id=key or None,
        recorded_at=last.recorded_at if last is not None else _EPOCH,
        action="audit:head",
        outcome=Outcome.SUCCESS,
        rule="AUD-2",
        actor_kind="system",
        actor_id="opendmp",
        detail=f"the chain head records {sequence} entries ending with hash {last_hash}",
        sequence=sequence + 1,
        previous_hash=last_hash,
    )
    return replace(marker, hash=entry_hash(marker))
