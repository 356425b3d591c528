"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_unless_exists(connection: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """`INSERT … ON CONFLICT DO NOTHING`; False when a unique key already held the row.

    Unlike catching IntegrityError, this leaves a PostgreSQL transaction usable, so the use
    case can still trace the refusal in the same unit of work (AUD-1).
    """
    statement = _insert_unless_exists(connection.dialect.name, table)
    return connection.execute(statement, dict(values)).first() is not None


@cache
def _insert_unless_exists(dialect: str, table: Table) -> Any:
    """One statement per table, values bound at execution: built and cache-keyed once."""
    key = next(iter(table.primary_key.columns))
    dml = postgresql if dialect == "postgresql" else sqlite
    return dml.insert(table).on_conflict_do_nothing().returning(key)


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
