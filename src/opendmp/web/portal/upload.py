"""Upload forms → ITI-65 submissions (`SubmitCommand`), DOC-1 metadata filled as PDSm wants.

The lists of the professional's form come from the DMP value sets (JDV_J66 types, JDV_J61
facilities, JDV_J62 settings, JDV_J60 formats, JDV_J59 designation); the category follows
the type (ASS_X16). A patient's document (DOC-6, API.md §15) is authored by the patient,
with facility and setting `EXP_PATIENT` and no custodian. `submit_documents` validates and
decides: nothing here replaces its checks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from opendmp.domain import terminology
from opendmp.domain.actors import Actor
from opendmp.domain.documents import (
    CONFIDENTIALITY_SYSTEM,
    Author,
    AuthorKind,
    Coding,
    Label,
)
from opendmp.domain.identifiers import Ins
from opendmp.services.submit_documents import (
    DocumentDraft,
    SubmissionSetDraft,
    SubmitCommand,
    attachment_hash,
)
from opendmp.web.portal.documents import base_type

# The portals as a source of submissions (DOC-1 sourceId): an OID under 2.25 (ITU-T X.667).
PORTAL_SOURCE_ID = "2.25.247159212317893125623786434517734862187"
NORMAL = Coding(CONFIDENTIALITY_SYSTEM, "N", "Normal")
PATIENT_TYPES = ("EXPPAT_2", "EXPPAT_1", "EXPPAT_3", "74465-6")  # class 90 (ASS_X16)
DEFAULT_DESIGNATION = "04"
PATIENT_DESIGNATION = "97"  # TRE_R209 "type d'activité indifférencié"
DEFAULT_FACILITY = "SA07"
DEFAULT_SETTING = "AMBULATOIRE"
EXP_PATIENT = "EXP_PATIENT"
_FORMATS_BY_TYPE = {
    "application/pdf": "urn:ihe:iti:xds-sd:pdf:2008",
    "text/plain": "urn:ihe:iti:xds-sd:text:2008",
    "image/jpeg": "urn:ihe:iti-fr:xds-sd:jpeg:2010",
}
_SNIFF = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"))
_BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".xml": "text/xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


class FormProblem(Exception):
    """A form field the person must fix before anything is sent (catalog key `form.<key>`)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def new_oid() -> str:
    """A unique OID for a uniqueId (ITU-T X.667: 2.25 + the UUID as an integer)."""
    return f"2.25.{uuid.uuid4().int}"


def content_type_of(filename: str, declared: str, data: bytes) -> str:
    """The media type: sniffed for PDF/JPEG, else by extension, else as the browser said."""
    for magic, media in _SNIFF:
        if data.startswith(magic):
            return media
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _BY_SUFFIX.get(suffix) or base_type(declared) or "application/octet-stream"


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes
    title: str
    type_code: str
    day: date | None
    description: str = ""


def _concept_coding(value_set: terminology.ValueSet, code: str, key: str) -> Coding:
    concept = next((c for c in value_set.concepts if c.code == code), None)
    if concept is None:
        raise FormProblem(key)
    return concept.coding()


def _checked(upload: Upload, allowed_types: tuple[str, ...] | None) -> tuple[Coding, Coding]:
    if not upload.data:
        raise FormProblem("file-required")
    if not upload.title.strip():
        raise FormProblem("title-required")
    if allowed_types is not None and upload.type_code not in allowed_types:
        raise FormProblem("type-required")
    type_coding = _concept_coding(terminology.type_codes(), upload.type_code, "type-required")
    category = terminology.type_class(type_coding.system, type_coding.code)
    assert category is not None
    return type_coding, category


def _moment(day: date | None, now: datetime) -> datetime:
    return datetime.combine(day, time(12), UTC) if day else now


def _command(
    record_id: str | None,
    author: Author,
    draft: DocumentDraft,
    designation: Coding,
    now: datetime,
    subject_ins: Ins | None = None,
) -> SubmitCommand:
    return SubmitCommand(
        record_id=record_id,
        subject_ins=subject_ins,
        submission_set=SubmissionSetDraft(
            unique_id=new_oid(),
            source_id=PORTAL_SOURCE_ID,
            content_type=designation,
            date=now,
            authors=(author,),
            title=draft.title,
        ),
        documents=(draft,),
    )


def patient_submission(
    record_id: str, actor: Actor, upload: Upload, now: datetime
) -> SubmitCommand:
    """DOC-6: the patient (or a minor's representative) adds a document of class 90."""
    type_coding, category = _checked(upload, PATIENT_TYPES)
    media = content_type_of(upload.filename, upload.content_type, upload.data)
    format_code = _FORMATS_BY_TYPE.get(media)
    if format_code is None:
        raise FormProblem("file-type")
    author = Author(AuthorKind.PATIENT, actor.id, actor.name)
    exp = _concept_coding(terminology.practice_setting_codes(), EXP_PATIENT, "setting")
    draft = DocumentDraft(
        ref=f"urn:uuid:{uuid.uuid4()}",
        unique_id=new_oid(),
        data=upload.data,
        content_type=media,
        type=type_coding,
        category=category,
        date=now,
        authors=(author,),
        confidentiality=(NORMAL,),
        format=_concept_coding(terminology.format_codes(), format_code, "file-type"),
        facility_type=_concept_coding(terminology.facility_type_codes(), EXP_PATIENT, "facility"),
        practice_setting=exp,
        period_start=_moment(upload.day, now),
        title=upload.title.strip()[:200],
        language="fr-FR",
        description=upload.description.strip()[:1000],
        declared_size=len(upload.data),
        declared_hash=attachment_hash(upload.data),
        creation=now,
    )
    designation = _concept_coding(
        terminology.content_type_codes(), PATIENT_DESIGNATION, "designation"
    )
    return _command(record_id, author, draft, designation, now)


@dataclass(frozen=True)
class ProfessionalMetadata:
    """The professional's form beyond the short one: the DMP value sets' choices."""

    facility: str = DEFAULT_FACILITY
    setting: str = DEFAULT_SETTING
    format: str = ""  # "" = from the file's type
    designation: str = DEFAULT_DESIGNATION
    custodian: str = ""
    language: str = "fr-FR"
    labels: frozenset[Label] = frozenset()
    replaces: str | None = None


def professional_submission(
    record_id: str | None,
    actor: Actor,
    upload: Upload,
    meta: ProfessionalMetadata,
    now: datetime,
    *,
    subject_ins: Ins | None = None,
) -> SubmitCommand:
    """TD2.1 / DOC-3: a professional's document, or the new version of one it replaces; the
    record named by its id, or by the INS (API.md §14) for a PS that may not read it."""
    type_coding, category = _checked(upload, None)
    media = content_type_of(upload.filename, upload.content_type, upload.data)
    format_code = meta.format or _FORMATS_BY_TYPE.get(media, "")
    if not format_code:
        raise FormProblem("format-required")
    author = Author(AuthorKind.PROFESSIONAL, actor.id, actor.name, institution=actor.structure)
    label_codings = tuple(
        Coding(terminology.LABEL_SYSTEM_URI, label.value) for label in sorted(meta.labels)
    )
    draft = DocumentDraft(
        ref=f"urn:uuid:{uuid.uuid4()}",
        unique_id=new_oid(),
        data=upload.data,
        content_type=media,
        type=type_coding,
        category=category,
        date=now,
        authors=(author,),
        confidentiality=(NORMAL, *label_codings),
        format=_concept_coding(terminology.format_codes(), format_code, "format-required"),
        facility_type=_concept_coding(terminology.facility_type_codes(), meta.facility, "facility"),
        practice_setting=_concept_coding(
            terminology.practice_setting_codes(), meta.setting, "setting"
        ),
        period_start=_moment(upload.day, now),
        title=upload.title.strip()[:200],
        language=meta.language or "fr-FR",
        description=upload.description.strip()[:1000],
        custodian=meta.custodian.strip() or actor.structure,
        declared_size=len(upload.data),
        declared_hash=attachment_hash(upload.data),
        replaces=meta.replaces,
        creation=now,
    )
    designation = _concept_coding(terminology.content_type_codes(), meta.designation, "designation")
    return _command(record_id, author, draft, designation, now, subject_ins)
