"""Demo data and a guided scenario on the embedded default (README, Quick start).

Fictional people with valid NIR keys in the demo INS system (1.2.250.1.213.1.4.11, ID-2) and
test RPPS numbers (899900…); a few documents with DMP codes. Idempotent: run it twice, the data
is loaded once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from opendmp.domain.actors import AccessMode, Actor, ActorKind
from opendmp.domain.consents import ConsentRole, Provision
from opendmp.domain.documents import Author, AuthorKind, Coding, Label
from opendmp.domain.errors import DmpError
from opendmp.domain.identifiers import OID_INS_DEMO, Ins, nir_key
from opendmp.domain.record import Demographics, PatientSettings, Record, Representative
from opendmp.services.access_history import access_history
from opendmp.services.consents import ConsentCommand, record_consent
from opendmp.services.context import Call, ServiceContext
from opendmp.services.find_documents import find_documents
from opendmp.services.ports import AuditQuery, DocumentQuery
from opendmp.services.records import OpenRecordCommand, find_record, open_record, update_settings
from opendmp.services.retrieve_document import retrieve_document
from opendmp.services.submit_documents import (
    DocumentDraft,
    SubmissionSetDraft,
    SubmitCommand,
    attachment_hash,
    submit_documents,
)
from opendmp.services.update_documents import change_labels

LOINC = "http://loinc.org"
CLASS = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
FORMAT = "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"
FACILITY = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
SETTING = "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"
ACTIVITY = "https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite"
N = Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", "Normal")


def demo_nir(body13: str) -> str:
    """A NIR with its valid key (ID-1)."""
    return f"{body13}{nir_key(body13):02d}"


@dataclass(frozen=True)
class DemoPeople:
    patient: Ins
    minor: Ins
    parent: Ins
    gp: Actor  # the attending physician, administrator of the record
    nurse: Actor
    emergency: Actor  # an emergency physician using break-the-glass
    blocked: Actor
    hospital: Actor  # an establishment credential


def people() -> DemoPeople:
    hospital_id = "1750000018"
    return DemoPeople(
        patient=Ins(OID_INS_DEMO, demo_nir("2851075123456")),
        minor=Ins(OID_INS_DEMO, demo_nir("1150675123789")),
        parent=Ins(OID_INS_DEMO, demo_nir("1820275123111")),
        gp=Actor(
            ActorKind.PROFESSIONAL,
            "899900000001",
            "Dr Jeanne Martin",
            profession="10",
            specialty="SM54",
            structure=hospital_id,
        ),
        nurse=Actor(
            ActorKind.PROFESSIONAL,
            "899900000002",
            "Paul Bernard",
            profession="60",
            structure="1690000011",  # a nursing practice elsewhere: R-PS-4 hides masked documents
        ),
        emergency=Actor(
            ActorKind.PROFESSIONAL,
            "899900000003",
            "Dr Ali Haddad",
            profession="10",
            access_mode=AccessMode.BREAK_THE_GLASS,
            purpose_reason="patient inconscient aux urgences",
        ),
        blocked=Actor(ActorKind.PROFESSIONAL, "899900000004", "Dr Luc Petit", profession="10"),
        hospital=Actor(ActorKind.ORGANIZATION, hospital_id, "Hôpital de démonstration"),
    )


def person(ins: Ins, name: str = "") -> Actor:
    return Actor(ActorKind.PERSON, ins.value, name, ins_system=ins.system)


def _document(
    unique: str,
    type_code: str,
    class_code: str,
    title: str,
    text: str,
    author: Actor,
    when: datetime,
    labels: tuple[Coding, ...] = (),
) -> DocumentDraft:
    data = f"%PDF-1.4\n% OpenDMP demo document\n{title}\n{text}\n%%EOF\n".encode()
    return DocumentDraft(
        ref=f"urn:uuid:{unique}",
        unique_id=f"1.2.250.1.999.1.{unique}",
        data=data,
        content_type="application/pdf",
        type=Coding(LOINC, type_code),
        category=Coding(CLASS, class_code),
        date=when,
        authors=(
            Author(AuthorKind.PROFESSIONAL, author.id, author.name, institution=author.structure),
        ),
        confidentiality=(N, *labels),
        format=Coding(FORMAT, "urn:ihe:iti:xds-sd:pdf:2008"),
        facility_type=Coding(FACILITY, "SA01"),
        practice_setting=Coding(SETTING, "AMBULATOIRE"),
        period_start=when,
        title=title,
        language="fr-FR",
        custodian="1750000018",
        creation=when,
        declared_size=len(data),
        declared_hash=attachment_hash(data),
    )


def load(ctx: ServiceContext) -> list[str]:
    """Open the demo records and submit their documents; returns what it did, line by line."""
    p = people()
    log: list[str] = []
    gp = Call(p.gp)
    existing = find_record(ctx, gp, p.patient)
    if existing is not None:
        return [f"demo data already loaded (record {existing.id})"]
    record = open_record(
        ctx,
        gp,
        OpenRecordCommand(
            ins=p.patient,
            demographics=Demographics("DURAND", "Camille", date(1985, 10, 4), "female"),
            has_consent=True,
        ),
    )
    log.append(f"opened the record of Camille DURAND (INS {p.patient.value}) as {p.gp.name}")
    minor = open_record(
        ctx,
        gp,
        OpenRecordCommand(
            ins=p.minor,
            demographics=Demographics("DURAND", "Léo", date(2015, 6, 12), "male"),
            has_consent=True,
            representatives=(_rep(p.parent),),
        ),
    )
    log.append(f"opened the record of Léo DURAND (a minor, represented by {p.parent.value})")
    owner = Call(person(p.patient, "Camille DURAND"))
    update_settings(
        ctx,
        owner,
        record.id,
        PatientSettings(notify_new_documents=True, email="camille.durand@example.org"),
    )
    record_consent(
        ctx,
        owner,
        ConsentCommand(record.id, p.gp.id, Provision.PERMIT, ConsentRole.ADMINISTRATOR, p.gp.name),
    )
    record_consent(
        ctx,
        owner,
        ConsentCommand(record.id, p.nurse.id, Provision.PERMIT, professional_name=p.nurse.name),
    )
    record_consent(
        ctx,
        owner,
        ConsentCommand(record.id, p.blocked.id, Provision.DENY, professional_name=p.blocked.name),
    )
    log.append("the patient named her GP administrator, authorized a nurse, blocked Dr Petit")
    now = datetime.now(UTC).replace(microsecond=0)
    result = submit_documents(
        ctx,
        gp,
        _submission(
            record,
            p.gp,
            now,
            [
                _document(
                    "1001",
                    "11488-4",
                    "10",
                    "Consultation du 4 mars",
                    "Examen clinique normal.",
                    p.gp,
                    now,
                ),
                _document(
                    "1002", "11502-2", "10", "Bilan sanguin", "Hémoglobine 13,5 g/dL.", p.gp, now
                ),
                _document("1003", "57833-6", "42", "Ordonnance", "Paracétamol 1 g.", p.gp, now),
                _document(
                    "1004", "18748-4", "31", "Radiographie thoracique", "Pas d'anomalie.", p.gp, now
                ),
            ],
        ),
    )
    log.append(f"{p.gp.name} submitted {len(result.documents)} documents")
    change_labels(ctx, owner, result.documents[2].id, frozenset({Label.MASQUE_PS}))
    log.append("the patient masked the prescription from professionals (DOC-7)")
    submit_documents(
        ctx,
        gp,
        _submission(
            minor,
            p.gp,
            now,
            [
                _document(
                    "2001",
                    "11488-4",
                    "10",
                    "Consultation pédiatrique",
                    "Croissance normale.",
                    p.gp,
                    now,
                ),
            ],
        ),
    )
    return log


def _rep(ins: Ins) -> Representative:
    return Representative(ins, "MTH", "Camille DURAND")


def _submission(
    record: Record, author: Actor, now: datetime, documents: list[DocumentDraft]
) -> SubmitCommand:
    return SubmitCommand(
        record_id=record.id,
        subject_ins=None,
        submission_set=SubmissionSetDraft(
            unique_id=f"1.2.250.1.999.2.{documents[0].unique_id.rsplit('.', 1)[1]}",
            source_id="1.2.250.1.999",
            content_type=Coding(ACTIVITY, "04"),
            date=now,
            authors=(Author(AuthorKind.PROFESSIONAL, author.id, author.name),),
        ),
        documents=tuple(replace(d, index=i + 1) for i, d in enumerate(documents)),
    )


def scenario(ctx: ServiceContext) -> list[str]:
    """What each demo actor sees: the rules of SPEC.md §5 at work."""
    p = people()
    log: list[str] = []
    record = find_record(ctx, Call(p.gp), p.patient)
    assert record is not None
    for actor, label in [
        (p.gp, "the GP (administrator)"),
        (p.nurse, "the nurse (authorized)"),
        (p.emergency, "an emergency physician (break-the-glass)"),
        (p.blocked, "the blocked physician"),
        (person(p.patient), "the patient"),
    ]:
        try:
            page = find_documents(ctx, Call(actor), record.id, DocumentQuery())
            titles = ", ".join(d.title for d in page.items)
            log.append(f"{label} finds {page.total}: {titles}")
        except DmpError as refused:
            log.append(f"{label} is refused: {refused.code} {refused.message} ({refused.rule})")
    page = find_documents(ctx, Call(p.gp), record.id, DocumentQuery())
    document, data = retrieve_document(ctx, Call(p.gp), page.items[0].id)
    log.append(f"the GP retrieves '{document.title}': {len(data)} bytes, decrypted")
    history = access_history(ctx, Call(person(p.patient)), record.id, AuditQuery(count=200))
    emergencies = [e for e in history.items if e.access_mode != "normal"]
    log.append(
        f"the patient's access history holds {history.total} traces, "
        f"{len(emergencies)} in emergency mode"
    )
    return log
