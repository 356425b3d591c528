"""DOC-1 metadata checks (profiles `dmp` and `mhd`, SPEC.md §10) and DOC-7 label normalization."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from opendmp.domain.documents import (
    CONFIDENTIALITY_SYSTEM,
    LABEL_SYSTEM,
    Author,
    AuthorKind,
    Coding,
    Label,
)
from opendmp.domain.errors import BusinessRuleViolation, ValidationFailed
from opendmp.domain.metadata import (
    DocumentMetadata,
    DocumentPath,
    MetadataIssue,
    MetadataProfile,
    Severity,
    SubmissionSetMetadata,
    SubmissionSetPath,
    attachment_hash,
    check_attachment,
    check_document,
    check_security_labels,
    check_submission_set,
    check_type_class,
    normalize_security_labels,
    raise_for_errors,
)
from opendmp.domain.terminology import LABEL_SYSTEM_URI

DMP = MetadataProfile.DMP
MHD = MetadataProfile.MHD
MINIMAL = MetadataProfile.MHD_MINIMAL
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
BYTES = b"%PDF-1.7 compte rendu de consultation"

LOINC = "http://loinc.org"
TRE_A03_OID = "urn:oid:1.2.250.1.213.1.1.4.1"
FORMAT_OID = "urn:oid:1.3.6.1.4.1.19376.1.2.3"
TRE_R02_OID = "urn:oid:1.2.250.1.71.4.2.4"
TRE_A01_OID = "urn:oid:1.2.250.1.213.1.1.4.9"
TRE_A00_OID = "urn:oid:1.2.250.1.213.1.1.4.6"
TRE_R209_OID = "urn:oid:1.2.250.1.213.2.2"

N = Coding(CONFIDENTIALITY_SYSTEM, "N")
MASQUE_PS = Coding(LABEL_SYSTEM, "MASQUE_PS")
PS = Author(AuthorKind.PROFESSIONAL, "899900063480", "Dr Libre", institution="1750803447")
PATIENT = Author(AuthorKind.PATIENT, "295109912611193")


def a_document(**changes: object) -> DocumentMetadata:
    """A complete, DMP-valid consult note (11488-4, class 10, PDF, SA07, AMBULATOIRE)."""
    meta = DocumentMetadata(
        unique_id="urn:oid:1.2.250.1.999.1.1",
        status="current",
        type=Coding(LOINC, "11488-4"),
        category=Coding(TRE_A03_OID, "10"),
        subject="Patient/p1",
        date=NOW,
        authors=(PS,),
        custodian="urn:oid:1.2.250.1.213.4.1.1.1",
        confidentiality=(N,),
        content_type="text/xml",
        declared_size=len(BYTES),
        declared_hash=attachment_hash(BYTES),
        title="CR de consultation",
        language="fr-FR",
        format=Coding(FORMAT_OID, "urn:ihe:iti:xds-sd:pdf:2008"),
        facility_type=Coding(TRE_R02_OID, "SA07"),
        practice_setting=Coding(TRE_A01_OID, "AMBULATOIRE"),
        period_start=NOW,
    )
    return replace(meta, **changes)  # type: ignore[arg-type]


def a_submission_set(**changes: object) -> SubmissionSetMetadata:
    meta = SubmissionSetMetadata(
        unique_id="urn:oid:1.2.250.1.999.1.2",
        source_id="urn:oid:1.2.250.1.999",
        content_type=Coding(TRE_R209_OID, "04"),
        authors=(PS,),
        date=NOW,
        subject="Patient/p1",
    )
    return replace(meta, **changes)  # type: ignore[arg-type]


def codes(issues: list[MetadataIssue]) -> list[tuple[str, str, Severity]]:
    return [(i.code, i.path, i.severity) for i in issues]


# --- a valid document ----------------------------------------------------------------------


def test_doc1_complete_dmp_document_has_no_issue() -> None:
    assert check_document(a_document(), DMP) == []
    assert check_document(a_document(data=BYTES), DMP) == []
    assert check_submission_set(a_submission_set(), DMP) == []


def test_doc1_profile_may_be_given_as_the_setting_string() -> None:
    """SPEC.md §10: the deployment setting is the plain string `dmp` or `mhd`."""
    assert check_document(a_document(), "dmp") == []
    with pytest.raises(ValueError):
        check_document(a_document(), "fhir")


# --- required elements -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("unique_id", DocumentPath.MASTER_IDENTIFIER),
        ("status", DocumentPath.STATUS),
        ("type", DocumentPath.TYPE),
        ("category", DocumentPath.CATEGORY),
        ("subject", DocumentPath.SUBJECT),
        ("date", DocumentPath.DATE),
        ("authors", DocumentPath.AUTHOR),
        ("custodian", DocumentPath.CUSTODIAN),
        ("content_type", DocumentPath.CONTENT_TYPE),
        ("declared_size", DocumentPath.SIZE),
        ("declared_hash", DocumentPath.HASH),
        ("title", DocumentPath.TITLE),
        ("language", DocumentPath.LANGUAGE),
        ("format", DocumentPath.FORMAT),
        ("facility_type", DocumentPath.FACILITY_TYPE),
        ("practice_setting", DocumentPath.PRACTICE_SETTING),
        ("period_start", DocumentPath.PERIOD_START),
    ],
)
def test_doc1_dmp_required_element_missing(field: str, path: DocumentPath) -> None:
    """DOC-1: a missing required element is a 422 naming the element (API.md §25)."""
    empty: object = () if field == "authors" else None
    issues = check_document(a_document(**{field: empty}), DMP)
    assert ("DMP-0201", path.value, Severity.ERROR) in codes(issues)
    assert all(i.rule == "DOC-1" for i in issues)


def test_doc1_blank_string_counts_as_missing() -> None:
    issues = check_document(a_document(title="  "), DMP)
    assert codes(issues) == [("DMP-0201", DocumentPath.TITLE, Severity.ERROR)]


def test_doc1_patient_document_needs_no_custodian() -> None:
    """API.md Details §15, DOC-6: the server fills the custodian of a patient's document."""
    patient_doc = a_document(
        authors=(PATIENT,),
        custodian=None,
        type=Coding("urn:oid:1.2.250.1.213.1.1.4.12", "DOCPAT01"),
        category=Coding(TRE_A03_OID, "11"),
        facility_type=Coding(TRE_A00_OID, "EXP_PATIENT"),
        practice_setting=Coding(TRE_A00_OID, "EXP_PATIENT"),
    )
    assert check_document(patient_doc, DMP) == []
    flagged = a_document(custodian=None, is_patient_document=True)
    assert check_document(flagged, DMP) == []


def test_doc1_every_issue_is_reported_at_once() -> None:
    """DOC-1 / API.md §25: all problems, not only the first."""
    issues = check_document(DocumentMetadata(), DMP)
    paths = {i.path for i in issues}
    assert DocumentPath.TYPE in paths
    assert DocumentPath.PERIOD_START in paths
    assert DocumentPath.SECURITY_LABEL in paths
    assert len(issues) >= 18


# --- value sets (dmp) ------------------------------------------------------------------------


def test_doc1_type_outside_jdv_j66() -> None:
    """DOC-1: a CI-SIS-only type (11493-4) is not a DMP type."""
    issues = check_document(a_document(type=Coding(LOINC, "11493-4")), DMP)
    assert codes(issues) == [("DMP-0202", DocumentPath.TYPE, Severity.ERROR)]
    assert "11493-4" in issues[0].message


def test_doc1_category_outside_jdv_j57() -> None:
    issues = check_document(a_document(category=Coding(TRE_A03_OID, "99")), DMP)
    assert codes(issues) == [("DMP-0202", DocumentPath.CATEGORY, Severity.ERROR)]


def test_doc1_category_must_match_type_per_ass_x16() -> None:
    """DOC-1, ASS_X16: 11488-4 is class 10, not 11."""
    issues = check_document(a_document(category=Coding(TRE_A03_OID, "11")), DMP)
    assert codes(issues) == [("DMP-0204", DocumentPath.CATEGORY, Severity.ERROR)]
    assert "ASS_X16" in issues[0].message


def test_doc1_category_system_as_uri_matches() -> None:
    uri = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
    assert check_document(a_document(category=Coding(uri, "10")), DMP) == []


def test_check_type_class_ignores_codes_outside_the_tables() -> None:
    """The membership checks report those; ASS_X16 is only compared between members."""
    assert check_type_class(Coding(LOINC, "nope"), Coding(TRE_A03_OID, "10")) == []
    assert check_type_class(Coding(LOINC, "11488-4"), Coding(TRE_A03_OID, "99")) == []


def test_doc1_format_outside_jdv_j60() -> None:
    """The IHE MHD example format is not in JDV_J60."""
    mime_sufficient = Coding(
        "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
        "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    )
    issues = check_document(a_document(format=mime_sufficient), DMP)
    assert codes(issues) == [("DMP-0202", DocumentPath.FORMAT, Severity.ERROR)]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("facility_type", DocumentPath.FACILITY_TYPE),
        ("practice_setting", DocumentPath.PRACTICE_SETTING),
    ],
)
def test_doc1_incomplete_tables_warn_for_a_same_system_unknown_code(
    field: str, path: DocumentPath
) -> None:
    """DOC-1: J61/J62 are incomplete; an unlisted code of their systems is a warning."""
    system = TRE_R02_OID if field == "facility_type" else TRE_A01_OID
    issues = check_document(a_document(**{field: Coding(system, "NEW_CODE")}), DMP)
    assert codes(issues) == [("DMP-0203", path.value, Severity.WARNING)]
    assert raise_for_errors(issues) == issues


@pytest.mark.parametrize("field", ["facility_type", "practice_setting"])
def test_doc1_incomplete_tables_refuse_another_system(field: str) -> None:
    """DOC-1: SNOMED CT codes (ANS PDSM4DMP examples) are not DMP-valid."""
    issues = check_document(a_document(**{field: Coding("http://snomed.info/sct", "1")}), DMP)
    assert [i.code for i in issues] == ["DMP-0202"]


def test_doc1_submission_set_content_type() -> None:
    """DOC-1: designationType in JDV_J59; incomplete, so TRE_R02 SA05 is a warning."""
    path = SubmissionSetPath.DESIGNATION_TYPE
    assert path.value.startswith("List.extension('https://profiles.ihe.net/ITI/MHD/")
    sa05 = a_submission_set(content_type=Coding(TRE_R02_OID, "SA05"))
    assert codes(check_submission_set(sa05, DMP)) == [("DMP-0203", path.value, Severity.WARNING)]
    bad = a_submission_set(content_type=Coding("http://snomed.info/sct", "1"))
    assert codes(check_submission_set(bad, DMP)) == [("DMP-0202", path.value, Severity.ERROR)]


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("unique_id", SubmissionSetPath.UNIQUE_ID),
        ("source_id", SubmissionSetPath.SOURCE_ID),
        ("content_type", SubmissionSetPath.DESIGNATION_TYPE),
        ("authors", SubmissionSetPath.AUTHOR),
        ("date", SubmissionSetPath.DATE),
        ("subject", SubmissionSetPath.SUBJECT),
    ],
)
def test_doc1_submission_set_required(field: str, path: SubmissionSetPath) -> None:
    empty: object = () if field == "authors" else None
    issues = check_submission_set(a_submission_set(**{field: empty}), DMP)
    assert codes(issues) == [("DMP-0201", path.value, Severity.ERROR)]


# --- security labels (DOC-1, DOC-7) ------------------------------------------------------------


def test_doc7_missing_n_is_an_error() -> None:
    """API.md §25: no N label → 422."""
    issues = check_document(a_document(confidentiality=(MASQUE_PS,)), DMP)
    assert codes(issues) == [("DMP-0205", DocumentPath.SECURITY_LABEL, Severity.ERROR)]
    assert codes(check_document(a_document(confidentiality=()), DMP)) == codes(issues)


def test_doc7_n_not_first_is_accepted_and_moved_first() -> None:
    """API.md §25: N present but not first is moved first."""
    given = (
        MASQUE_PS,
        Coding(LABEL_SYSTEM, "INVISIBLE_PATIENT"),
        Coding(CONFIDENTIALITY_SYSTEM, "R"),
        N,
    )
    assert check_document(a_document(confidentiality=given), DMP) == []
    confidentiality, labels = normalize_security_labels(given)
    assert confidentiality == (N, Coding(CONFIDENTIALITY_SYSTEM, "R"))
    assert labels == {Label.MASQUE_PS, Label.INVISIBLE_PATIENT}


def test_doc7_normalization_canonicalizes_systems_and_drops_duplicates() -> None:
    """DOC-7 labels given by URI or OID; N given by OID becomes the HL7 URI."""
    given = (
        Coding("urn:oid:2.16.840.1.113883.5.25", "N", "normal"),
        N,
        Coding(LABEL_SYSTEM_URI, "INVISIBLE_REPRESENTANTS_LEGAUX"),
        Coding("1.2.250.1.213.1.1.4.13", "INVISIBLE_REPRESENTANTS_LEGAUX"),
    )
    confidentiality, labels = normalize_security_labels(given)
    assert confidentiality == (Coding(CONFIDENTIALITY_SYSTEM, "N", "normal"),)
    assert labels == {Label.INVISIBLE_REPRESENTANTS_LEGAUX}


def test_doc7_normalization_keeps_unknown_codes_for_the_check() -> None:
    other = Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST")
    confidentiality, labels = normalize_security_labels((other, N))
    assert confidentiality == (N, other)
    assert labels == frozenset()


def test_doc7_label_outside_jdv_j58_is_refused_in_dmp() -> None:
    """JDV_J58 only: MASQUE_PSOCIAL (TRE_A07, not J58) and HL7 HTEST are unknown codes."""
    given = (
        N,
        Coding(LABEL_SYSTEM, "MASQUE_PSOCIAL"),
        Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST"),
    )
    issues = check_security_labels(given, DMP)
    assert codes(issues) == [
        ("DMP-0202", "DocumentReference.securityLabel[1]", Severity.ERROR),
        ("DMP-0202", "DocumentReference.securityLabel[2]", Severity.ERROR),
    ]


def test_doc7_r_and_v_are_allowed() -> None:
    given = (N, Coding(CONFIDENTIALITY_SYSTEM, "V"), Coding(CONFIDENTIALITY_SYSTEM, "R"))
    assert check_security_labels(given, DMP) == []


# --- profile mhd ---------------------------------------------------------------------------------


def test_mhd_codes_are_not_bound_to_dmp_value_sets() -> None:
    """SPEC.md §10: `mhd` accepts any well-formed coding (the IHE MHD examples)."""
    ihe = a_document(
        type=Coding(LOINC, "34133-9"),
        category=Coding(LOINC, "11369-6"),
        format=Coding(
            "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
            "urn:ihe:iti:xds:2017:mimeTypeSufficient",
        ),
        facility_type=Coding("http://snomed.info/sct", "82242000"),
        practice_setting=Coding("http://snomed.info/sct", "408467006"),
        confidentiality=(Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),),
        creation=NOW,
    )
    assert check_document(ihe, MHD) == []
    assert codes(check_document(ihe, DMP)) != []


def test_mhd_comprehensive_requires_the_codes() -> None:
    issues = check_document(a_document(type=None, confidentiality=(), creation=NOW), MHD)
    assert codes(issues) == [
        ("DMP-0201", DocumentPath.TYPE, Severity.ERROR),
        ("DMP-0201", DocumentPath.SECURITY_LABEL, Severity.ERROR),
    ]


def test_mhd_comprehensive_requires_attachment_creation() -> None:
    assert codes(check_document(a_document(), MHD)) == [
        ("DMP-0201", DocumentPath.CREATION, Severity.ERROR)
    ]


def test_mhd_codes_must_be_well_formed() -> None:
    """SPEC.md §10: coded elements present and well-formed (system and code)."""
    issues = check_document(
        a_document(
            creation=NOW,
            format=Coding("", "urn:ihe:iti:xds-sd:pdf:2008"),
            facility_type=Coding(TRE_R02_OID, " "),
            confidentiality=(Coding("", "N"),),
        ),
        MHD,
    )
    assert codes(issues) == [
        ("DMP-0206", DocumentPath.FORMAT, Severity.ERROR),
        ("DMP-0206", DocumentPath.FACILITY_TYPE, Severity.ERROR),
        ("DMP-0206", "DocumentReference.securityLabel[0]", Severity.ERROR),
    ]


def test_dmp_malformed_coding_is_reported_once() -> None:
    issues = check_document(a_document(format=Coding("", "")), DMP)
    assert codes(issues) == [("DMP-0206", DocumentPath.FORMAT, Severity.ERROR)]


def test_mhd_minimal_needs_few_elements() -> None:
    """API.md §25: the Minimal Provide Bundle has its own, lighter rules."""
    minimal = DocumentMetadata(unique_id="urn:uuid:1", status="current", content_type="text/plain")
    assert check_document(minimal, MINIMAL) == []
    assert [i.path for i in check_document(DocumentMetadata(), MINIMAL)] == [
        DocumentPath.MASTER_IDENTIFIER,
        DocumentPath.STATUS,
        DocumentPath.CONTENT_TYPE,
    ]
    bare = SubmissionSetMetadata(unique_id="urn:uuid:2", source_id="urn:oid:1.2", date=NOW)
    assert check_submission_set(bare, MINIMAL) == []
    assert [i.path for i in check_submission_set(bare, MHD)] == [
        SubmissionSetPath.DESIGNATION_TYPE,
        SubmissionSetPath.SUBJECT,
    ]


def test_mhd_submission_set_content_type_not_bound() -> None:
    any_code = a_submission_set(content_type=Coding("http://snomed.info/sct", "225728007"))
    assert check_submission_set(any_code, MHD) == []
    malformed = a_submission_set(content_type=Coding("http://snomed.info/sct", ""))
    assert [i.code for i in check_submission_set(malformed, MHD)] == ["DMP-0206"]


# --- attachment (DOC-1, DOC-2) -------------------------------------------------------------------


def test_doc1_attachment_hash_is_base64_sha1() -> None:
    """FHIR R4 Attachment.hash: base64 of the SHA-1 digest."""
    digest = hashlib.sha1(BYTES, usedforsecurity=False).digest()
    assert attachment_hash(BYTES) == base64.b64encode(digest).decode()
    assert check_attachment(BYTES, len(BYTES), attachment_hash(BYTES)) == []
    assert check_attachment(BYTES, None, None) == []


def test_doc1_size_mismatch() -> None:
    issues = check_attachment(BYTES, len(BYTES) + 1, None)
    assert codes(issues) == [("DMP-0207", DocumentPath.SIZE, Severity.ERROR)]


def test_doc1_hash_mismatch() -> None:
    issues = check_attachment(BYTES, len(BYTES), attachment_hash(b"other bytes"))
    assert codes(issues) == [("DMP-0208", DocumentPath.HASH, Severity.ERROR)]


@pytest.mark.parametrize(
    "declared",
    [hashlib.sha1(BYTES, usedforsecurity=False).hexdigest(), "not base64!", "", "AAAA"],
)
def test_doc1_malformed_hash(declared: str) -> None:
    """A hex SHA-1 (the XDS spelling) is not the FHIR base64 form."""
    issues = check_attachment(BYTES, None, declared)
    assert codes(issues) == [("DMP-0209", DocumentPath.HASH, Severity.ERROR)]


def test_doc1_check_document_checks_the_bytes_when_given() -> None:
    issues = check_document(a_document(data=b"tampered"), DMP)
    assert [i.code for i in issues] == ["DMP-0207", "DMP-0208"]


# --- raising -------------------------------------------------------------------------------------


def test_doc1_raise_for_errors_carries_every_error() -> None:
    """DOC-1: all or nothing; ValidationFailed holds every error with its path."""
    issues = check_document(
        a_document(
            type=Coding(LOINC, "11493-4"), facility_type=Coding(TRE_R02_OID, "SA99"), title=None
        ),
        DMP,
    )
    with pytest.raises(ValidationFailed) as caught:
        raise_for_errors(issues)
    errors = caught.value.issues
    assert {(e.code, e.path) for e in errors} == {
        ("DMP-0201", DocumentPath.TITLE.value),
        ("DMP-0202", DocumentPath.TYPE.value),
    }
    assert all(isinstance(e, BusinessRuleViolation) and e.rule == "DOC-1" for e in errors)


def test_as_error_reroots_the_path_in_the_bundle() -> None:
    issue = check_document(a_document(format=None), DMP)[0]
    error = issue.as_error(prefix="Bundle.entry[2].resource")
    assert error.path == "Bundle.entry[2].resource.content[0].format"
    assert issue.as_error().path == "DocumentReference.content[0].format"
