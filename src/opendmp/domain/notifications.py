"""Notifications to the patient and administrators, never with medical content (§7)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NotificationKind(StrEnum):
    FIRST_ACCESS = "first-access"  # NOT-1
    EMERGENCY_ACCESS = "emergency-access"  # NOT-2
    NEW_DOCUMENT = "new-document"  # NOT-3
    DOCUMENT_AWAITS_CONSULTATION = "document-awaits-consultation"  # NOT-4
    RECORD_CLOSED = "record-closed"  # NOT-5
    RECORD_REOPENED = "record-reopened"  # NOT-5
    RECORD_DESTROYED = "record-destroyed"  # NOT-5


@dataclass(frozen=True, slots=True)
class Notification:
    """An outbox event: who to tell and what happened, in words free of medical content."""

    id: str
    record_id: str
    kind: NotificationKind
    recipient: str  # e-mail address
    subject: str
    body: str
