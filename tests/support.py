"""Small builders for service tests: a settable clock, actors, and ITI-65 drafts with DMP codes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.documents import Author, AuthorKind, Coding
from opendmp.domain.identifiers import OID_INS_TEST, Ins, nir_key
from opendmp.domain.record import Demographics
from opendmp.services.context import Call
from opendmp.services.records import OpenRecordCommand
from opendmp.services.submit_documents import (
    DocumentDraft,
    SubmissionSetDraft,
    SubmitCommand,
    attachment_hash,
)

LOINC = "http://loinc.org"
CLASS = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
FORMAT = "https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode"
FACILITY = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"
SETTING = "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"
ACTIVITY = "https://mos.esante.gouv.fr/NOS/TRE_R209-TypeActivite/FHIR/TRE-R209-TypeActivite"
N = Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N")
LABELS = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
STRUCTURE = "1750000018"
OTHER_STRUCTURE = "1690000011"
OTHER_STRUCTURE = "1690000011"


@dataclass
class SettableClock:
    moment: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


_counter = iter(range(10_000_000, 99_999_999))


def an_ins() -> Ins:
    body = f"28510751{next(_counter) % 100000:05d}"
    return Ins(OID_INS_TEST, f"{body}{nir_key(body):02d}")


def physician(idnps: str = "899900000001", **changes: object) -> Actor:
    actor = Actor(
        ActorKind.PROFESSIONAL, idnps, f"Dr {idnps}", profession="10", structure=STRUCTURE
    )
    return replace(actor, **changes)  # type: ignore[arg-type]


def nurse(idnps: str = "899900000002") -> Actor:
    """A nurse of another structure than `physician()`: own-structure rules do not apply."""
    return Actor(
        ActorKind.PROFESSIONAL, idnps, f"IDE {idnps}", profession="60", structure=OTHER_STRUCTURE
    )


def emergency(idnps: str = "899900000003", reason: str = "inconscient") -> Actor:
    return physician(
        idnps, access_mode=AccessMode.BREAK_THE_GLASS, purpose_reason=reason, structure=None
    )


def establishment(idnst: str = STRUCTURE) -> Actor:
    return Actor(ActorKind.ORGANIZATION, idnst, "Hôpital", auth_mode=AuthMode.INDIRECT)


def secretary(idnps: str = "30B0037750/CPET0001") -> Actor:
    return Actor(ActorKind.PROFESSIONAL, idnps, "Secrétaire", card=Card.CPE, structure=STRUCTURE)


def patient(ins: Ins) -> Actor:
    return Actor(ActorKind.PERSON, ins.value, "Patient", ins_system=ins.system)


def operator() -> Actor:
    return Actor(ActorKind.OPERATOR, "ops", "Operator")


def call(actor: Actor) -> Call:
    return Call(actor)


def open_command(
    ins: Ins, *, born: date = date(1985, 10, 4), **changes: object
) -> OpenRecordCommand:
    command = OpenRecordCommand(
        ins=ins, demographics=Demographics("DURAND", "Camille", born, "female"), has_consent=True
    )
    return replace(command, **changes)  # type: ignore[arg-type]


def a_draft(
    unique: str,
    *,
    data: bytes | None = None,
    type_code: str = "11488-4",
    class_code: str = "10",
    author: Actor | None = None,
    labels: tuple[str, ...] = (),
    index: int = 1,
    **changes: object,
) -> DocumentDraft:
    body = data if data is not None else f"%PDF-1.4 document {unique}\n".encode()
    who = author or physician()
    draft = DocumentDraft(
        ref=f"urn:uuid:doc-{unique}",
        unique_id=f"1.2.250.1.999.1.{unique}",
        data=body,
        content_type="application/pdf",
        type=Coding(LOINC, type_code),
        category=Coding(CLASS, class_code),
        date=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        authors=(Author(AuthorKind.PROFESSIONAL, who.id, who.name, institution=who.structure),),
        confidentiality=(N, *(Coding(LABELS, label) for label in labels)),
        format=Coding(FORMAT, "urn:ihe:iti:xds-sd:pdf:2008"),
        facility_type=Coding(FACILITY, "SA01"),
        practice_setting=Coding(SETTING, "AMBULATOIRE"),
        period_start=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        title=f"Document {unique}",
        custodian=STRUCTURE,
        creation=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        language="fr-FR",
        declared_size=len(body),
        declared_hash=attachment_hash(body),
        index=index,
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


def a_submission(record_id: str, *drafts: DocumentDraft, unique: str = "") -> SubmitCommand:
    return SubmitCommand(
        record_id=record_id,
        subject_ins=None,
        submission_set=SubmissionSetDraft(
            unique_id=f"1.2.250.1.999.2.{unique or drafts[0].unique_id.rsplit('.', 1)[1]}",
            source_id="1.2.250.1.999",
            content_type=Coding(ACTIVITY, "04"),
            date=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            authors=drafts[0].authors,
        ),
        documents=tuple(replace(d, index=i + 1) for i, d in enumerate(drafts)),
    )
