"""Migrations: tables.py and the Alembic revisions describe the same schema, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, inspect

from opendmp.adapters.sql import current_revision, make_engine, metadata, upgrade
from opendmp.adapters.sql.engine import alembic_config


def drift(engine: Engine, target: MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target))


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_match_tables_py(engine: Engine) -> None:
    """`alembic check`: no difference between the migrated database and tables.py."""
    assert current_revision(engine) == head()
    assert drift(engine, metadata) == []


def test_the_drift_check_sees_a_missing_column(engine: Engine) -> None:
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["documents"].append_column(Column("not_migrated", String))
    differences = drift(engine, changed)
    assert [d[0] for d in differences if isinstance(d, tuple)] == ["add_column"]


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head()


def test_every_table_is_keyed_by_record_first(engine: Engine) -> None:
    """docs/storage.md: each primary key leads with record_id (hash partitioning, Citus)."""
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        assert inspector.get_pk_constraint(table.name)["constrained_columns"][0] == "record_id"


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    try:
        upgrade(engine)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(f"sqlite:///{tmp_path / 'scratch.db'}")
        assert drift(engine, metadata) == []
    finally:
        engine.dispose()
