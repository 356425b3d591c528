"""How domain values read on a page: code labels, visibility flags, states, trace lines.

Only wording lives here: what a person may see or do was decided by the services before
anything reaches a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opendmp.domain import terminology
from opendmp.domain.audit import AuditEntry, Outcome
from opendmp.domain.documents import Coding, DocumentEntry, DocumentStatus, Label
from opendmp.domain.record import Record
from opendmp.web.portal.i18n import Translator

LABEL_ORDER = (Label.MASQUE_PS, Label.INVISIBLE_PATIENT, Label.INVISIBLE_REPRESENTANTS_LEGAUX)


@dataclass(frozen=True)
class Badge:
    text: str
    css: str  # a class of static/portal.css


class Present:
    def __init__(self, t: Translator, now: datetime) -> None:
        self.t = t
        self.now = now

    def type(self, coding: Coding | None) -> str:
        if coding is None or not coding.code:
            return self.t("document.type-unknown")
        return self.t.concept(terminology.type_codes(), coding.code, coding.system)

    def category(self, coding: Coding | None) -> str:
        if coding is None or not coding.code:
            return ""
        return self.t.concept(terminology.class_codes(), coding.code, coding.system)

    def profession(self, code: str | None) -> str:
        return self.t.concept(terminology.professions(), code) if code else ""

    def authors(self, document: DocumentEntry) -> str:
        return ", ".join(a.name or a.id for a in document.authors) or "—"

    def badges(self, document: DocumentEntry) -> list[Badge]:
        labels = document.effective_labels(self.now)
        badges = [
            Badge(self.t(f"label.{label.value}"), "badge-warn")
            for label in LABEL_ORDER
            if label in labels
        ]
        if document.is_archived:
            badges.append(Badge(self.t("document.archived"), "badge-muted"))
        if document.status is not DocumentStatus.CURRENT:
            badges.append(Badge(self.t(f"status.{document.status.value}"), "badge-muted"))
        if document.is_patient_document:
            badges.append(Badge(self.t("document.patient-document"), "badge-info"))
        return badges

    def is_masked(self, document: DocumentEntry) -> bool:
        return Label.MASQUE_PS in document.effective_labels(self.now)

    def is_invisible_to_patient(self, document: DocumentEntry) -> bool:
        return Label.INVISIBLE_PATIENT in document.effective_labels(self.now)

    def state(self, record: Record) -> str:
        return self.t(f"state.{record.state.value}")

    def size(self, size: int) -> str:
        if size < 1024:
            return self.t("format.bytes", n=size)
        if size < 1024 * 1024:
            return self.t("format.kb", n=f"{size / 1024:.0f}")
        return self.t("format.mb", n=f"{size / 1024 / 1024:.1f}")

    def action(self, entry: AuditEntry) -> str:
        key = f"action.{entry.action}"
        return self.t(key) if self.t.has(key) else entry.action

    def mode(self, mode: str) -> str:
        key = f"mode.{mode}"
        return self.t(key) if self.t.has(key) else mode

    def is_emergency(self, entry: AuditEntry) -> bool:
        return entry.access_mode != "normal"

    def is_refused(self, entry: AuditEntry) -> bool:
        return entry.outcome is not Outcome.SUCCESS

    def who(self, entry: AuditEntry) -> str:
        if entry.actor_kind == "person":
            return entry.actor_name or self.t("history.a-person")
        if entry.actor_kind == "system":
            return self.t("history.system")
        if entry.actor_kind == "operator":
            return self.t("history.operator")
        return entry.actor_name or entry.actor_id
