"""The portals' own pieces without a server: catalogs, PKCE, sessions, CDA, uploads, export."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import pytest

from opendmp.domain.actors import Actor, ActorKind
from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    Submitter,
)
from opendmp.domain.errors import BusinessRuleViolation, ValidationFailed
from opendmp.domain.identifiers import OID_INS_DEMO, DocumentId, Ins, RecordId
from opendmp.domain.metadata import (
    DocumentMetadata,
    MetadataProfile,
    SubmissionSetMetadata,
    check_document,
    check_submission_set,
)
from opendmp.domain.record import Demographics, OpeningChannel, Record, RecordState
from opendmp.services.export_record import RecordExport
from opendmp.services.submit_documents import DocumentDraft
from opendmp.web.portal.cda import parse_cda
from opendmp.web.portal.documents import Filters
from opendmp.web.portal.export import export_zip
from opendmp.web.portal.i18n import Translator, catalog
from opendmp.web.portal.messages import problem_of
from opendmp.web.portal.oidc import code_challenge
from opendmp.web.portal.session import SessionCodec
from opendmp.web.portal.upload import (
    FormProblem,
    ProfessionalMetadata,
    Upload,
    patient_submission,
    professional_submission,
)
from tests.e2e.flows import cda_document, minimal_pdf

PORTAL = Path(str(files("opendmp.web.portal")))
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
PATIENT = Actor(ActorKind.PERSON, "285107512345606", "Camille DURAND", ins_system=OID_INS_DEMO)
GP = Actor(
    ActorKind.PROFESSIONAL,
    "899900000001",
    "Dr Jeanne Martin",
    profession="10",
    structure="1750000018",
)


def test_french_and_english_catalogs_hold_the_same_keys() -> None:
    assert set(catalog("fr")) == set(catalog("en"))
    for key in catalog("fr"):
        assert re.findall(r"{(\w+)}", catalog("fr")[key]) == re.findall(
            r"{(\w+)}", catalog("en")[key]
        ) or set(re.findall(r"{(\w+)}", catalog("fr")[key])) == set(
            re.findall(r"{(\w+)}", catalog("en")[key])
        ), key


def test_every_key_the_templates_and_code_use_is_in_the_catalog() -> None:
    used: set[str] = set()
    for path in [*PORTAL.rglob("*.html"), *PORTAL.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z][\w.-]*[\w])["']""", path.read_text()))
    missing = sorted(key for key in used if key not in catalog("fr"))
    assert not missing


def test_every_error_code_of_the_policy_has_a_sentence() -> None:
    source = (PORTAL.parent.parent / "domain" / "policy.py").read_text()
    codes = set(re.findall(r'"(DMP-04\d\d)"', source))
    assert codes and all(f"error.{code}" in catalog("fr") for code in codes)


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_idle_or_too_old() -> None:
    clock = Clock()
    codec = SessionCodec(b"k" * 40, idle_seconds=60, max_seconds=300, clock=clock)
    session = codec.start("patient", {"sub": "x"})
    cookie = codec.dumps(session)
    clock.now += 59
    assert codec.loads(cookie) is not None
    clock.now += 2
    assert codec.loads(cookie) is None  # idle
    for _ in range(6):
        clock.now += 50
        assert codec.touch(session)
    assert codec.loads(codec.dumps(session)) is None  # 361 s after sign-in


def test_a_session_cookie_signed_with_another_key_is_refused() -> None:
    ours = SessionCodec(b"a" * 40, idle_seconds=60, max_seconds=300)
    theirs = SessionCodec(b"b" * 40, idle_seconds=60, max_seconds=300)
    assert ours.loads(theirs.dumps(theirs.start("pro", {"sub": "x"}))) is None
    assert ours.loads("not-a-cookie") is None


def test_cda_narrative_is_read_and_dtds_are_refused() -> None:
    view = parse_cda(cda_document("Synthèse", "Traitement", "Fièvre"))
    assert view is not None
    assert view.title == "Synthèse" and view.patient == "Camille DURAND"
    assert view.authors == ("Dr Jeanne Martin",)
    section = view.sections[0]
    assert section.title == "Traitement"
    assert section.blocks[0].text == "Fièvre"
    assert section.blocks[1].items == ("Paracétamol 1 g", "Repos")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><ClinicalDocument xmlns="urn:hl7-org:v3">'
        b"<title>&lol2;</title></ClinicalDocument>"
    )
    assert parse_cda(bomb) is None
    assert parse_cda(b"<html/>") is None and parse_cda(b"not xml") is None


def _meta(d: DocumentDraft) -> DocumentMetadata:
    return DocumentMetadata(
        unique_id=d.unique_id,
        status="current",
        type=d.type,
        category=d.category,
        subject="285107512345606",
        date=d.date,
        authors=d.authors,
        custodian=d.custodian,
        confidentiality=d.confidentiality,
        content_type=d.content_type,
        declared_size=d.declared_size,
        declared_hash=d.declared_hash,
        title=d.title,
        language=d.language,
        format=d.format,
        facility_type=d.facility_type,
        practice_setting=d.practice_setting,
        period_start=d.period_start,
        data=d.data,
    )


def test_a_patient_upload_meets_doc_1_and_doc_6() -> None:
    upload = Upload(
        "d.pdf", "application/pdf", minimal_pdf("x"), "Mes directives", "EXPPAT_3", date(2026, 3, 1)
    )
    command = patient_submission("r1", PATIENT, upload, NOW)
    draft = command.documents[0]
    assert draft.authors[0].kind is AuthorKind.PATIENT and draft.custodian is None
    assert draft.category is not None and draft.category.code == "90"  # ASS_X16
    assert draft.facility_type is not None and draft.facility_type.code == "EXP_PATIENT"
    issues = check_document(_meta(draft), MetadataProfile.DMP)
    assert [i for i in issues if i.is_error] == []
    ss = command.submission_set
    set_issues = check_submission_set(
        SubmissionSetMetadata(
            ss.unique_id, ss.source_id, ss.content_type, ss.authors, ss.date, "285107512345606"
        ),
        MetadataProfile.DMP,
    )
    assert [i for i in set_issues if i.is_error] == []


def test_a_professional_upload_meets_doc_1_with_its_labels() -> None:
    upload = Upload("s.xml", "text/xml", cda_document("a", "b", "c"), "Synthèse", "60591-5", None)
    meta = ProfessionalMetadata(
        format="urn:asip:ci-sis:vsm:2012", labels=frozenset({Label.INVISIBLE_PATIENT})
    )
    draft = professional_submission("r1", GP, upload, meta, NOW).documents[0]
    assert draft.custodian == "1750000018" and draft.content_type == "text/xml"
    assert [c.code for c in draft.confidentiality] == ["N", "INVISIBLE_PATIENT"]
    assert [i for i in check_document(_meta(draft), MetadataProfile.DMP) if i.is_error] == []


def test_upload_forms_refuse_what_cannot_be_described() -> None:
    png = Upload("p.png", "image/png", b"\x89PNG", "Photo", "EXPPAT_2", None)
    with pytest.raises(FormProblem) as refused:
        patient_submission("r1", PATIENT, png, NOW)
    assert refused.value.key == "file-type"
    wrong_type = Upload("d.pdf", "application/pdf", minimal_pdf("x"), "T", "11488-4", None)
    with pytest.raises(FormProblem):
        patient_submission("r1", PATIENT, wrong_type, NOW)  # class 90 types only
    xml = Upload("a.xml", "text/xml", b"<a/>", "T", "11488-4", None)
    with pytest.raises(FormProblem) as no_format:
        professional_submission("r1", GP, xml, ProfessionalMetadata(), NOW)
    assert no_format.value.key == "format-required"


def test_errors_read_as_sentences_with_their_code_and_rule() -> None:
    t = Translator("fr")
    blocked = problem_of(t, BusinessRuleViolation("DMP-0412", "blocked", rule="R-PS-1"))
    assert blocked.message.startswith("Le patient vous a bloqué") and blocked.rule == "R-PS-1"
    failed = ValidationFailed(
        [BusinessRuleViolation("DMP-0201", "x", path="Bundle.entry[1].resource.custodian")]
    )
    problem = problem_of(Translator("en"), failed)
    assert problem.details == (
        "Responsible organization (IDNST): required information missing (DMP-0201)",
    )


def test_filters_become_an_iti_67_query() -> None:
    filters = Filters.of(
        {
            "category": "42",
            "type": "nope",
            "from": "2026-01-01",
            "to": "2026-01-31",
            "sort": "date",
            "page": "2",
        }
    )
    query = filters.query()
    assert query.category_codes == {"42"} and query.type_codes == frozenset()
    assert query.date_to == datetime(2026, 2, 1, tzinfo=UTC)  # the 31st included
    assert query.sort.value == "date" and query.offset == 100


def test_the_export_holds_each_document_and_its_metadata() -> None:
    ins = Ins(OID_INS_DEMO, "285107512345606")
    record = Record(
        RecordId("r1"),
        ins,
        Demographics("DURAND", "Camille", date(1985, 10, 4)),
        RecordState.OPEN,
        NOW,
        "899900000001",
        OpeningChannel.PROFESSIONAL,
        True,
    )
    document = DocumentEntry(
        id=DocumentId("d1"),
        record_id=record.id,
        unique_id="1.2.3",
        status=DocumentStatus.CURRENT,
        type=Coding("http://loinc.org", "11488-4"),
        category=Coding("x", "10"),
        date=NOW,
        authors=(Author(AuthorKind.PROFESSIONAL, "899900000001", "Dr Jeanne Martin"),),
        submitter=Submitter("professional", "899900000001"),
        submitted_at=NOW,
        submission_set_id="s1",
        content_type="application/pdf",
        size=3,
        sha1="00",
        title="Bilan / sanguin",
        labels=frozenset({Label.MASQUE_PS}),
    )
    archive = zipfile.ZipFile(
        io.BytesIO(export_zip(RecordExport(record, [(document, b"%PDF")]), at=NOW))
    )
    metadata = json.loads(archive.read("metadata.json"))
    entry = metadata["documents"][0]
    assert entry["file"] == "documents/001-Bilan  sanguin.pdf"
    assert archive.read(entry["file"]) == b"%PDF"
    assert entry["type"]["display"] == "CR ou fiche de consultation ou de visite"
    assert entry["securityLabels"] == ["MASQUE_PS"]
    assert metadata["record"]["ins"]["value"] == "285107512345606"
