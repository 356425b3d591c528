"""SQL storage: SQLAlchemy Core tables and repositories for SQLite and PostgreSQL.

Public entry points: `make_engine(url)`, `upgrade(engine_or_url)` (Alembic to head), and
`SqlUnitOfWorkFactory(engine)`, the `UnitOfWorkFactory` the services take (docs/storage.md).
"""

from opendmp.adapters.sql.engine import current_revision, make_engine, upgrade
from opendmp.adapters.sql.tables import metadata
from opendmp.adapters.sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "current_revision",
    "make_engine",
    "metadata",
    "upgrade",
]
