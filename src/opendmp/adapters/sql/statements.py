"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_unless_exists(connection: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """`INSERT … ON CONFLICT DO NOTHING`; False when a unique key already held the row.

    Unlike catching IntegrityError, this leaves a PostgreSQL transaction usable, so the use
    case can still trace the refusal in the same unit of work (AUD-1).
    """
    key = next(iter(table.primary_key.columns))
    if connection.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(dict(values)).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(dict(values)).on_conflict_do_nothing()
    return connection.execute(statement.returning(key)).first() is not None


def upsert(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
) -> None:
    """`INSERT … ON CONFLICT (keys) DO UPDATE` with the non-key values."""
    if connection.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(dict(values))
        pg_changes = {name: pg.excluded[name] for name in values if name not in keys}
        connection.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=pg_changes))
    else:
        lite = sqlite.insert(table).values(dict(values))
        lite_changes = {name: lite.excluded[name] for name in values if name not in keys}
        connection.execute(lite.on_conflict_do_update(index_elements=list(keys), set_=lite_changes))
