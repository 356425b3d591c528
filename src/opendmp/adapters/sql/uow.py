"""The unit of work: one connection and one transaction per `with` block (STYLE.md).

Repositories share the connection and never commit; `commit()` makes the block's writes
durable together (DOC-1 all or nothing, AUD-1 trace with the change, SEC-5), and leaving the
block rolls back whatever was not committed. After a commit the next statement opens a new
transaction on the same connection.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from opendmp.adapters.sql.audit import KnownReaders, SqlAuditRepository
from opendmp.adapters.sql.consents import SqlConsentRepository
from opendmp.adapters.sql.documents import SqlDocumentRepository
from opendmp.adapters.sql.keys import SqlKeyRepository
from opendmp.adapters.sql.outbox import SqlOutboxRepository
from opendmp.adapters.sql.records import SqlRecordRepository
from opendmp.services.ports import (
    AuditRepository,
    ConsentRepository,
    DocumentRepository,
    KeyRepository,
    OutboxRepository,
    RecordRepository,
)


class SqlUnitOfWork:
    """`UnitOfWork` over a SQLAlchemy engine."""

    # Declared as the ports (Protocol attributes are invariant).
    records: RecordRepository
    documents: DocumentRepository
    consents: ConsentRepository
    audit: AuditRepository
    outbox: OutboxRepository
    keys: KeyRepository

    def __init__(self, engine: Engine, readers: KnownReaders | None = None) -> None:
        self._engine = engine
        self._readers = readers
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already in use")
        connection = self._engine.connect()
        self._connection = connection
        self.records = SqlRecordRepository(connection)
        self.documents = SqlDocumentRepository(connection)
        self.consents = SqlConsentRepository(connection)
        self.audit = SqlAuditRepository(connection, self._readers)
        self.outbox = SqlOutboxRepository(connection)
        self.keys = SqlKeyRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.rollback()
        finally:
            connection.close()

    @property
    def connection(self) -> Connection:
        """The block's connection, for adapters that must join the same transaction."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


class SqlUnitOfWorkFactory:
    """`UnitOfWorkFactory`: a fresh unit of work per call, all on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.readers = KnownReaders()

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.readers)
