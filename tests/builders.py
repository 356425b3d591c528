"""Builders of real domain objects for tests (STYLE.md: no Mock() of domain objects).

Each builder returns a valid object with fresh ids (and a fresh, valid INS for records) so
tests can share a database; pass keyword arguments to change any field.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from opendmp.domain.audit import AuditEntry, Outcome
from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.documents import (
    CONFIDENTIALITY_SYSTEM,
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    SubmissionSet,
    Submitter,
)
from opendmp.domain.identifiers import OID_INS_NIR, DocumentId, Ins, RecordId
from opendmp.domain.notifications import Notification, NotificationKind
from opendmp.domain.record import (
    Demographics,
    OpeningChannel,
    PatientSettings,
    Record,
    RecordState,
)

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

LOINC = "http://loinc.org"
CLASS_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
FORMAT_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"
FACILITY_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
)
PRACTICE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"
ACTIVITY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite"

CONSULT_NOTE = Coding(LOINC, "11488-4", "CR ou fiche de consultation ou de visite")
REPORT_CLASS = Coding(CLASS_SYSTEM, "10", "Compte rendu")
DOCTOR_IDNPS = "899900063480"  # "8" + RPPS (test range), dmp-rules §5.3
STRUCTURE = "1750100125"  # IDNST: "1" + FINESS


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def a_nir(rng: random.Random | None = None) -> str:
    """A random NIR with a valid key (ID-1), so every built record has its own INS."""
    rng = rng or random.Random()
    body = (
        f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}"
        f"{rng.randint(1, 95):02d}{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
    )
    return f"{body}{97 - int(body) % 97:02d}"


def a_record(**changes: Any) -> Record:
    record = Record(
        id=RecordId(new_id("rec-")),
        ins=Ins(OID_INS_NIR, a_nir()),
        demographics=Demographics("DUPONT", "Marie", date(1995, 10, 1), "female"),
        state=RecordState.OPEN,
        opened_at=NOW - timedelta(days=30),
        opened_by=DOCTOR_IDNPS,
        channel=OpeningChannel.PROFESSIONAL,
        is_activated=True,
        settings=PatientSettings(email="marie.dupont@example.org"),
    )
    return replace(record, **changes)


def an_author(**changes: Any) -> Author:
    author = Author(
        kind=AuthorKind.PROFESSIONAL,
        id=DOCTOR_IDNPS,
        name="Dr Jean Martin",
        institution=STRUCTURE,
        role=Coding("https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante", "10", "Médecin"),
    )
    return replace(author, **changes)


def a_document(record_id: str | None = None, **changes: Any) -> DocumentEntry:
    document_id = new_id("doc-")
    document = DocumentEntry(
        id=DocumentId(document_id),
        record_id=RecordId(record_id or new_id("rec-")),
        unique_id=f"1.2.250.1.999.1.{uuid.uuid4().int % 10**12}",
        status=DocumentStatus.CURRENT,
        type=CONSULT_NOTE,
        category=REPORT_CLASS,
        date=NOW - timedelta(days=1),
        authors=(an_author(),),
        submitter=Submitter("professional", DOCTOR_IDNPS, STRUCTURE),
        submitted_at=NOW - timedelta(hours=1),
        submission_set_id=new_id("set-"),
        content_type="application/pdf",
        size=1234,
        sha1="a9993e364706816aba3e25717850c26c9cd0d89d",
        title="Compte rendu de consultation",
        language="fr-FR",
        format=Coding(FORMAT_SYSTEM, "urn:ihe:iti:xds-sd:pdf:2008", "PDF/A-1"),
        facility_type=Coding(FACILITY_SYSTEM, "SA01", "Établissement public de santé"),
        practice_setting=Coding(PRACTICE_SYSTEM, "AMBULATOIRE", "Ambulatoire"),
        period_start=NOW - timedelta(days=1, hours=2),
        custodian=STRUCTURE,
        confidentiality=(Coding(CONFIDENTIALITY_SYSTEM, "N", "Normal"),),
        subject=Ins(OID_INS_NIR, "295109912611193"),
    )
    return replace(document, **changes)


def a_submission_set(
    record_id: str, documents: tuple[DocumentEntry, ...] = (), **changes: Any
) -> SubmissionSet:
    submission_set = SubmissionSet(
        id=new_id("set-"),
        record_id=RecordId(record_id),
        unique_id=f"1.2.250.1.999.2.{uuid.uuid4().int % 10**12}",
        source_id="1.2.250.1.999",
        content_type=Coding(ACTIVITY_SYSTEM, "04", "Hospitalisation de Jour"),
        date=NOW - timedelta(hours=1),
        authors=(an_author(),),
        submitter=Submitter("professional", DOCTOR_IDNPS, STRUCTURE),
        submitted_at=NOW - timedelta(hours=1),
        document_ids=tuple(d.id for d in documents),
        title="Envoi",
    )
    return replace(submission_set, **changes)


def a_consent(record_id: str | None = None, **changes: Any) -> Consent:
    consent = Consent(
        id=new_id("consent-"),
        record_id=RecordId(record_id or new_id("rec-")),
        professional_id=DOCTOR_IDNPS,
        provision=Provision.PERMIT,
        role=ConsentRole.PARTICIPANT,
        performer_kind="professional",
        performer_id=DOCTOR_IDNPS,
        recorded_at=NOW - timedelta(days=2),
        professional_name="Dr Jean Martin",
    )
    return replace(consent, **changes)


_FRESH: Any = object()


def an_audit_entry(record_id: str | None = _FRESH, **changes: Any) -> AuditEntry:
    """An unchained entry (sequence and hashes are set by `AuditRepository.append`)."""
    entry = AuditEntry(
        id=new_id("audit-"),
        record_id=new_id("rec-") if record_id is _FRESH else record_id,
        recorded_at=NOW,
        action="record:document:search",
        outcome=Outcome.SUCCESS,
        rule="R-PS-2",
        actor_kind="professional",
        actor_id=DOCTOR_IDNPS,
        actor_name="Dr Jean Martin",
        actor_profession="10",
        actor_structure=STRUCTURE,
        request_id=new_id("req-"),
        client="test-suite",
    )
    return replace(entry, **changes)


def a_notification(record_id: str | None = None, **changes: Any) -> Notification:
    notification = Notification(
        id=new_id("notice-"),
        record_id=record_id or new_id("rec-"),
        kind=NotificationKind.NEW_DOCUMENT,
        recipient="marie.dupont@example.org",
        subject="Nouveau document / New document",
        body="Un nouveau document est disponible dans votre DMP.",
    )
    return replace(notification, **changes)
