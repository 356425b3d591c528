"""The notification outbox: written with the change, sent later, never lost (SPEC.md §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.statements import insert_unless_exists
from opendmp.domain.identifiers import RecordId
from opendmp.domain.notifications import Notification, NotificationKind
from opendmp.services.ports import OutboxMessage, OutboxStatus

o = t.outbox


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        notification=Notification(
            id=row.id,
            record_id=row.record_id,
            kind=NotificationKind(row.kind),
            recipient=row.recipient,
            subject=row.subject,
            body=row.body,
        ),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


class SqlOutboxRepository:
    """`OutboxRepository` on one connection; never commits (the unit of work does)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, notification: Notification, *, at: datetime) -> None:
        """Queue a notice; adding the same id again is a no-op ("never twice", §7)."""
        insert_unless_exists(
            self._connection,
            o,
            {
                "record_id": notification.record_id,
                "id": notification.id,
                "kind": notification.kind.value,
                "recipient": notification.recipient,
                "subject": notification.subject,
                "body": notification.body,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": at,
                "sent_at": None,
                "last_error": "",
            },
        )

    def claim_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Due pending messages, locked; PostgreSQL skips rows another sender holds."""
        statement = (
            select(o)
            .where(o.c.status == OutboxStatus.PENDING.value, o.c.next_attempt_at <= now)
            .order_by(o.c.next_attempt_at, o.c.record_id, o.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_message(row) for row in self._connection.execute(statement)]

    def mark_sent(self, notification_id: str, at: datetime) -> None:
        self._connection.execute(
            update(o)
            .where(o.c.id == notification_id)
            .values(status=OutboxStatus.SENT.value, sent_at=at, attempts=o.c.attempts + 1)
        )

    def mark_attempt_failed(
        self, notification_id: str, *, error: str, next_attempt_at: datetime, give_up: bool
    ) -> None:
        status = OutboxStatus.FAILED if give_up else OutboxStatus.PENDING
        self._connection.execute(
            update(o)
            .where(o.c.id == notification_id)
            .values(
                status=status.value,
                attempts=o.c.attempts + 1,
                last_error=error,
                next_attempt_at=next_attempt_at,
            )
        )

    def for_record(self, record_id: RecordId) -> list[OutboxMessage]:
        rows = self._connection.execute(
            select(o).where(o.c.record_id == record_id).order_by(o.c.created_at, o.c.id)
        )
        return [_message(row) for row in rows]
