"""ITI-65 Provide Document Bundle parsing and transaction-response (DOC-1, DOC-3, API.md §14,
§16, §17, §25; IHE MHD 4.2 §2:3.65).

The upstream examples are copies under tests/fixtures/fhir (PROVENANCE.md). Each one either
parses into a SubmitCommand whose DOC-1 metadata checks (`domain.metadata`, the service's
checks) pass, or the test id says why the example is refused or wrong.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from opendmp.domain.documents import (
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    SubmissionSet,
    Submitter,
)
from opendmp.domain.errors import DmpError, ErrorKind, ValidationFailed
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.domain.metadata import (
    DocumentMetadata,
    MetadataIssue,
    Severity,
    SubmissionSetMetadata,
    check_document,
    check_submission_set,
)
from opendmp.domain.record import Demographics, OpeningChannel, Record, RecordState
from opendmp.fhir.iti65 import (
    EntryKind,
    ProvideBundleCommand,
    parse_provide_bundle,
    transaction_response,
)
from opendmp.fhir.outcomes import operation_outcome
from opendmp.services.submit_documents import DocumentDraft, SubmitResult

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fhir"
MHD = "ihe-mhd/fsh-generated-examples/"
PDSM4DMP = "ans-pdsm4dmp/package-main/example/"
PDSM = "ans-pdsm/package-add-exemples-iti65/example/"
CORRECTED = "opendmp/Bundle-dmp-submission-corrected.json"
BASE = "https://dmp.example/fhir"
TEST_INS = Ins("1.2.250.1.213.1.4.10", "207058575627097")


def load(name: str) -> dict[str, Any]:
    with (FIXTURES / name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def parse(bundle: object, profile: str = "dmp") -> ProvideBundleCommand:
    return parse_provide_bundle(bundle, profile=profile, base_url=BASE)


def doc1_errors(command: ProvideBundleCommand) -> set[tuple[str, str]]:
    """What the service's DOC-1 checks (domain.metadata) reject, as (code, Bundle path)."""
    profile = command.metadata_profile or "dmp"
    ss = command.submission_set
    list_index = next(e.index for e in command.entries if e.kind is EntryKind.SUBMISSION_SET)
    issues: list[tuple[MetadataIssue, str]] = [
        (i, f"Bundle.entry[{list_index}].resource")
        for i in check_submission_set(
            SubmissionSetMetadata(
                ss.unique_id, ss.source_id, ss.content_type, ss.authors, ss.date, "subject"
            ),
            profile,
        )
    ]
    for draft in command.documents:
        issues += [
            (i, f"Bundle.entry[{draft.index}].resource")
            for i in check_document(_metadata(draft), profile)
        ]
    return {(i.code, i.located(prefix)) for i, prefix in issues if i.severity is Severity.ERROR}


def _metadata(draft: DocumentDraft) -> DocumentMetadata:
    return DocumentMetadata(
        unique_id=draft.unique_id,
        status=draft.status,
        type=draft.type,
        category=draft.category,
        subject="subject",
        date=draft.date,
        authors=draft.authors,
        custodian=draft.custodian,
        confidentiality=draft.confidentiality,
        content_type=draft.content_type,
        declared_size=draft.declared_size,
        declared_hash=draft.declared_hash,
        title=draft.title,
        language=draft.language,
        creation=draft.creation,
        format=draft.format,
        facility_type=draft.facility_type,
        practice_setting=draft.practice_setting,
        period_start=draft.period_start,
        data=draft.data,
    )


def issues_of(bundle: object, profile: str = "dmp") -> tuple[ErrorKind, set[tuple[str, str]]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(bundle, profile)
    error = caught.value
    return error.kind, {(i.code, i.path or "") for i in error.issues}


# --- the upstream examples ---------------------------------------------------------------

VALID_MHD = [
    pytest.param("Bundle-ex-comprehensiveProvideDocumentBundleSimple.json", 1, id="mhd-simple"),
    pytest.param("Bundle-ex-comprehensiveProvideDocumentBundleMultiple.json", 2, id="mhd-multiple"),
    pytest.param(
        "Bundle-ex-comprehensiveProvideDocumentBundleComplete.json", 1, id="mhd-complete-folder"
    ),
    pytest.param(
        "Bundle-ex-unContainedComprehensiveProvideDocumentBundleComplete.json",
        1,
        id="mhd-uncontained",
    ),
    pytest.param("Bundle-ex-ProvideDocumentBundle-addToFolder.json", 1, id="mhd-add-to-folder"),
    pytest.param("Bundle-ex-minimalProvideDocumentBundleSimple.json", 1, id="mhd-minimal"),
    pytest.param(
        "Bundle-ex-minimalProvideDocumentBundleSimpleContained.json", 1, id="mhd-minimal-contained"
    ),
]


@pytest.mark.parametrize(("name", "documents"), VALID_MHD)
def test_doc1_valid_ihe_mhd_examples_parse_under_profile_mhd(name: str, documents: int) -> None:
    """SPEC.md §10: the IHE MHD examples are valid under `mhd`; DOC-1 checks find nothing."""
    command = parse(load(MHD + name), "mhd")
    assert len(command.documents) == documents
    assert doc1_errors(command) == set()
    assert [e.index for e in command.entries] == list(range(len(load(MHD + name)["entry"])))
    for draft in command.documents:
        assert draft.data and draft.ref.startswith("urn:uuid:")
        assert load(MHD + name)["entry"][draft.index]["resource"]["resourceType"] == (
            "DocumentReference"
        )


def test_doc1_mhd_comprehensive_example_fields() -> None:
    """MHD 4.2 mapping: uniqueId from urn:oid, sourceId, designationType, creation, hash, size."""
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleSimple.json"), "mhd")
    assert command.record_id == "ex-patient" and command.subject_ins is None
    assert command.metadata_profile == "mhd"
    ss = command.submission_set
    assert ss.unique_id.startswith("1.2.840.113556.1.8000") and ss.source_id == "1.2.3.4"
    assert ss.content_type == Coding("http://snomed.info/sct", "225728007")
    (draft,) = command.documents
    assert draft.data == b"Hello World" and draft.content_type == "text/plain"
    assert draft.declared_size == 11 and draft.declared_hash == "Ck1VqNd45QIvq3AZd8XYQLvEhtA="
    assert draft.creation == datetime.fromisoformat("2020-02-01T23:50:50-05:00")
    assert draft.date == draft.creation  # MHD: creationTime lives in attachment.creation
    assert draft.type == Coding("http://loinc.org", "60591-5")
    assert draft.confidentiality == (
        Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R"),
    )  # meta.security HTEST is not a DMP confidentiality code: left out


def test_iti65_folder_and_appends_are_not_recorded_but_warned() -> None:
    """MHD 4.2 §2:3.65.4.1.3: an ignored Folder → PartialFolderContentNotProcessed; an
    unsupported relatesTo code → PartialAppendContentNotProcessed (warnings, API.md §16)."""
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleComplete.json"), "mhd")
    kinds = [(e.kind, [n.code for n in e.notes]) for e in command.entries]
    assert kinds == [
        (EntryKind.SUBMISSION_SET, []),
        (EntryKind.DOCUMENT, ["DMP-0651"]),
        (EntryKind.FOLDER, ["DMP-0650"]),
        (EntryKind.BINARY, []),
    ]
    assert "PartialAppendContentNotProcessed" in command.entries[1].notes[0].message
    assert command.documents[0].replaces is None


def test_iti65_mhd_minimal_bundle_is_checked_by_the_minimal_rules() -> None:
    """API.md §25: the Minimal bundle is checked by its own rules; its Patient entry (no INS)
    is matched, never created, so the service finds no record (DMP-0426, API.md §26)."""
    command = parse(load(MHD + "Bundle-ex-minimalProvideDocumentBundleSimple.json"), "mhd")
    assert command.metadata_profile == "mhd-minimal"
    assert command.record_id is None and command.subject_ins is None
    assert command.entries[3].kind is EntryKind.PATIENT


def test_doc3_mhd_replace_example_wrong_size_upstream() -> None:
    """DOC-3 replace parses (UpdateDocumentRefs PATCH accepted), but upstream declares
    attachment.size 24 for a 23-byte Binary: DOC-1 rejects it with DMP-0207."""
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleReplace.json"), "mhd")
    assert command.documents[0].replaces == "ex-documentreference"
    assert command.entries[1].kind is EntryKind.SUPERSEDE
    assert command.entries[1].target == "ex-documentreference"
    assert doc1_errors(command) == {
        ("DMP-0207", "Bundle.entry[2].resource.content[0].attachment.size")
    }


def test_iti65_fhir_document_publish_option_is_refused() -> None:
    """MHD: without the FHIR Document Publish Option → FHIRDocumentNotSupported; its patient
    is on another server (API.md §14 wants Patient/<id> of this server or the INS)."""
    kind, found = issues_of(
        load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleDocument.json"), "mhd"
    )
    assert kind is ErrorKind.BUSINESS_RULE
    assert found == {
        ("DMP-0611", "Bundle.entry[2].resource"),
        ("DMP-0609", "Bundle.entry[0].resource.subject.reference"),
        ("DMP-0609", "Bundle.entry[1].resource.subject.reference"),
    }


def test_iti65_dummy_bundle_is_not_a_provide_bundle() -> None:
    """The IHE 'dummy' Bundle (a DocumentReference and its Binary) declares no MHD profile and
    has no SubmissionSet: not an ITI-65 request (API.md §17)."""
    _, found = issues_of(load(MHD + "Bundle-ex-dummyBundleDocAndBinary.json"), "mhd")
    assert found == {
        ("DMP-0612", "Bundle.meta.profile"),
        ("DMP-0604", "Bundle.entry"),
        ("DMP-0201", "Bundle.entry[0].resource.subject"),
    }


def test_doc1_pdsm4dmp_submission_example_wrong_upstream() -> None:
    """ANS PDSm4DMP td2 example parses, but is not DOC-1 valid: no List.identifier (uniqueId),
    a TRE_A03 class as designationType (JDV_J59), no custodian, format mimeTypeSufficient
    (not JDV_J60), SNOMED facility/setting (dmp-rules §9 item 8), class 11 for type 11488-4
    (ASS_X16). Its INS 123456789012345 also fails the NIR key (ID-1)."""
    command = parse(load(PDSM4DMP + "Bundle-example-td2-iti65-lot-soumission.json"))
    assert command.subject_ins == Ins("1.2.250.1.213.1.4.8", "123456789012345")
    assert command.documents[0].authors == (Author(AuthorKind.PROFESSIONAL, "899700218896"),)
    assert doc1_errors(command) == {
        ("DMP-0201", "Bundle.entry[0].resource.identifier"),
        (
            "DMP-0202",
            "Bundle.entry[0].resource.extension('https://profiles.ihe.net/ITI/MHD/"
            "StructureDefinition/ihe-designationType')",
        ),
        ("DMP-0201", "Bundle.entry[1].resource.custodian"),
        ("DMP-0202", "Bundle.entry[1].resource.content[0].format"),
        ("DMP-0202", "Bundle.entry[1].resource.context.facilityType"),
        ("DMP-0202", "Bundle.entry[1].resource.context.practiceSetting"),
        ("DMP-0204", "Bundle.entry[1].resource.category"),
    }


def test_doc3_pdsm4dmp_replacement_example_parses_with_wrong_metadata_upstream() -> None:
    """ANS td2.1 replacement: relatesTo replaces DocumentReference/doc-x-id and the PATCH to
    superseded are understood (DOC-3); its metadata has the same upstream faults as td2."""
    command = parse(load(PDSM4DMP + "Bundle-example-td2-1-remplacement.json"))
    assert command.documents[0].replaces == "doc-x-id"
    assert [e.kind for e in command.entries] == [
        EntryKind.SUBMISSION_SET,
        EntryKind.DOCUMENT,
        EntryKind.SUPERSEDE,
        EntryKind.BINARY,
    ]
    assert ("DMP-0201", "Bundle.entry[0].resource.identifier") in doc1_errors(command)


def test_doc1_pdsm_replace_example_wrong_upstream() -> None:
    """ANS PDSm replace example: N under a misspelled TRE_A07 system (…StatusVisibilite…),
    hash of 'hello' for the bytes 'Hello', class 10 for 34133-9 (ASS_X16), no List uniqueId,
    no custodian. Its RPPS-identified author becomes IDNPS 8 + RPPS (dmp-rules §5.3)."""
    command = parse(load(PDSM + "Bundle-bundle-exemple-comprehensiveprovidedocument-replace.json"))
    (draft,) = command.documents
    assert command.record_id == "fr-patient-123"
    assert draft.replaces == "doc-old" and draft.data == b"Hello"
    assert draft.declared_hash == "qvTGHdzF6KLavt4PO0gs2a6pQ00="  # base64 SHA-1 of b"hello"
    assert draft.authors[0].id == "81011848351"
    assert doc1_errors(command) == {
        ("DMP-0201", "Bundle.entry[0].resource.identifier"),
        ("DMP-0201", "Bundle.entry[1].resource.custodian"),
        ("DMP-0204", "Bundle.entry[1].resource.category"),
        ("DMP-0202", "Bundle.entry[1].resource.securityLabel[0]"),
        ("DMP-0205", "Bundle.entry[1].resource.securityLabel"),
        ("DMP-0208", "Bundle.entry[1].resource.content[0].attachment.hash"),
    }


def test_doc1_corrected_pdsm4dmp_example_is_valid_under_dmp() -> None:
    """DOC-1: the td2 example with its upstream faults corrected (PROVENANCE.md) passes."""
    command = parse(load(CORRECTED))
    assert doc1_errors(command) == set()
    assert command.subject_ins == TEST_INS and command.record_id is None
    assert command.submission_set.unique_id == "1.2.250.1.213.1.4.10.99999.1"
    assert command.submission_set.subject == TEST_INS
    (draft,) = command.documents
    assert draft.subject == TEST_INS and draft.index == 1
    assert draft.unique_id == "1.2.250.1.213.1.4.10.99999.2"
    assert draft.custodian == "1750100125"


# --- subjects (API.md §14) ----------------------------------------------------------------


def corrected() -> dict[str, Any]:
    return load(CORRECTED)


def with_subject(bundle: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    for index in (0, 1):
        bundle["entry"][index]["resource"]["subject"] = copy.deepcopy(subject)
    return bundle


@pytest.mark.parametrize(
    ("subject", "record_id", "ins"),
    [
        pytest.param({"reference": "Patient/rec-1"}, "rec-1", None, id="relative"),
        pytest.param({"reference": f"{BASE}/Patient/rec-1"}, "rec-1", None, id="absolute-local"),
        pytest.param(
            {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": TEST_INS.value}},
            None,
            TEST_INS,
            id="identifier",
        ),
        pytest.param(
            {
                "reference": "Patient/rec-1",
                "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": TEST_INS.value},
            },
            "rec-1",
            TEST_INS,
            id="both-checked-by-service",
        ),
    ],
)
def test_api14_subject_forms(
    subject: dict[str, Any], record_id: str | None, ins: Ins | None
) -> None:
    """API.md §14: Patient/<id>, an absolute URL on this server, or the INS."""
    command = parse(with_subject(corrected(), subject))
    assert (command.record_id, command.subject_ins) == (record_id, ins)


# --- invalid bundles: every issue with its path ------------------------------------------


def _mutate(change: Any) -> dict[str, Any]:
    bundle = corrected()
    change(bundle)
    return bundle


def _doc(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][1]["resource"]
    return resource


def _att(bundle: dict[str, Any]) -> dict[str, Any]:
    attachment: dict[str, Any] = _doc(bundle)["content"][0]["attachment"]
    return attachment


INVALID = [
    pytest.param(
        lambda b: b.update(type="batch"),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0603", "Bundle.type")},
        id="DOC-1-not-a-transaction",
    ),
    pytest.param(
        lambda b: _att(b).update(size="eleven"),
        ErrorKind.INVALID,
        {("DMP-0602", "Bundle.entry[1].resource.content[0].attachment.size")},
        id="FHIR-structure-400",
    ),
    pytest.param(
        lambda b: b["entry"][2].update(resource={"resourceType": "Nonsense"}),
        ErrorKind.INVALID,
        {("DMP-0601", "Bundle.entry[2].resource.resourceType")},
        id="unknown-resource-type",
    ),
    pytest.param(
        lambda b: b["entry"].pop(0),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0604", "Bundle.entry")},
        id="no-submission-set",
    ),
    pytest.param(
        lambda b: b["entry"].append(copy.deepcopy(b["entry"][0]) | {"fullUrl": "urn:uuid:x"}),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0604", "Bundle.entry[3].resource")},
        id="two-submission-sets",
    ),
    pytest.param(
        lambda b: _att(b).update(url="urn:uuid:00000000-0000-0000-0000-00000000dead"),
        ErrorKind.BUSINESS_RULE,
        {
            ("DMP-0606", "Bundle.entry[1].resource.content[0].attachment.url"),
            ("DMP-0618", "Bundle.entry[2]"),
        },
        id="unresolvable-attachment-url",
    ),
    pytest.param(
        lambda b: _att(b).pop("url"),
        ErrorKind.BUSINESS_RULE,
        {
            ("DMP-0607", "Bundle.entry[1].resource.content[0].attachment"),
            ("DMP-0618", "Bundle.entry[2]"),
        },
        id="attachment-without-data-or-binary",
    ),
    pytest.param(
        lambda b: b["entry"][2]["resource"].update(data="not base64!"),
        ErrorKind.INVALID,
        {("DMP-0602", "Bundle.entry[2].resource.data")},
        id="binary-bad-base64-is-a-structure-error-400",
    ),
    pytest.param(
        lambda b: (_att(b).pop("url"), _att(b).update(data="@@")),
        ErrorKind.INVALID,
        {
            ("DMP-0608", "Bundle.entry[1].resource.content[0].attachment.data"),
            ("DMP-0618", "Bundle.entry[2]"),
        },
        id="attachment-bad-base64-400",
    ),
    pytest.param(
        lambda b: b["entry"][2]["resource"].pop("data"),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0607", "Bundle.entry[2].resource.data")},
        id="binary-without-data",
    ),
    pytest.param(
        lambda b: _doc(b).update(author=[{"reference": "#nobody"}]),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0606", "Bundle.entry[1].resource.author[0]")},
        id="unresolvable-contained-author",
    ),
    pytest.param(
        lambda b: _doc(b).update(author=[{"reference": "Encounter/e1"}]),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0619", "Bundle.entry[1].resource.author[0]")},
        id="author-of-wrong-type",
    ),
    pytest.param(
        lambda b: _doc(b).update(subject={"reference": "https://elsewhere.example/Patient/9"}),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0609", "Bundle.entry[1].resource.subject.reference")},
        id="API-14-remote-patient",
    ),
    pytest.param(
        lambda b: _doc(b).update(
            subject={"identifier": {"system": "urn:oid:1.2.3.4.5", "value": "IPP-1"}}
        ),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0609", "Bundle.entry[1].resource.subject.identifier")},
        id="ID-2-subject-identifier-not-an-INS",
    ),
    pytest.param(
        lambda b: (
            b["entry"][0]["resource"].update(subject={"reference": "Patient/a"}),
            _doc(b).update(subject={"reference": "Patient/b"}),
        ),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0610", "Bundle.entry[1].resource.subject")},
        id="list-and-document-name-different-patients",
    ),
    pytest.param(
        lambda b: _doc(b).pop("subject"),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0201", "Bundle.entry[1].resource.subject")},
        id="DOC-1-subject-required",
    ),
    pytest.param(
        lambda b: _doc(b).update(
            relatesTo=[{"code": "replaces", "target": {"reference": "urn:uuid:1"}}]
        ),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0616", "Bundle.entry[1].resource.relatesTo[0].target")},
        id="DOC-3-replaces-target-not-a-server-document",
    ),
    pytest.param(
        lambda b: b["entry"].append(
            {
                "fullUrl": "urn:uuid:patch",
                "resource": {"resourceType": "Parameters", "parameter": []},
                "request": {"method": "PATCH", "url": "DocumentReference/other"},
            }
        ),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0614", "Bundle.entry[3]")},
        id="DOC-3-patch-of-a-document-not-replaced",
    ),
    pytest.param(
        lambda b: b["entry"][0]["resource"].update(entry=[]),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0613", "Bundle.entry[1].resource")},
        id="document-not-in-submission-set",
    ),
    pytest.param(
        lambda b: b["entry"][2].pop("fullUrl"),
        ErrorKind.BUSINESS_RULE,
        {
            ("DMP-0615", "Bundle.entry[2].fullUrl"),
            ("DMP-0606", "Bundle.entry[1].resource.content[0].attachment.url"),
            ("DMP-0618", "Bundle.entry[2]"),
        },
        id="missing-fullUrl",
    ),
    pytest.param(
        lambda b: b["entry"].append(
            {
                "fullUrl": "urn:uuid:obs",
                "resource": {"resourceType": "Observation", "status": "final", "code": {}},
                "request": {"method": "POST", "url": "Observation"},
            }
        ),
        ErrorKind.BUSINESS_RULE,
        {("DMP-0611", "Bundle.entry[3].resource")},
        id="entry-an-iti65-bundle-may-not-hold",
    ),
    pytest.param(
        lambda b: (b.update(type="batch"), _att(b).pop("url"), _att(b).update(data="@@")),
        ErrorKind.INVALID,
        {
            ("DMP-0603", "Bundle.type"),
            ("DMP-0608", "Bundle.entry[1].resource.content[0].attachment.data"),
            ("DMP-0618", "Bundle.entry[2]"),
        },
        id="every-issue-at-once-400-when-any-is-a-syntax-error",
    ),
]


@pytest.mark.parametrize(("change", "kind", "expected"), INVALID)
def test_doc1_invalid_bundles_report_every_issue_with_its_path(
    change: Any, kind: ErrorKind, expected: set[tuple[str, str]]
) -> None:
    """DOC-1: all or nothing; every structural issue is reported with its FHIRPath."""
    got_kind, found = issues_of(_mutate(change))
    assert (got_kind, found) == (kind, expected)


def test_doc1_several_problems_are_reported_together() -> None:
    """DOC-1, API.md §25: one response names every problem."""
    bundle = corrected()
    bundle["type"] = "batch"
    _att(bundle)["url"] = "urn:uuid:gone"
    _doc(bundle)["author"] = [{"reference": "#nobody"}]
    _, found = issues_of(bundle)
    assert {"DMP-0603", "DMP-0606", "DMP-0618"} <= {code for code, _ in found}
    assert ("DMP-0606", "Bundle.entry[1].resource.author[0]") in found


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="a-json-array"),
        pytest.param({"resourceType": "Patient"}, id="another-resource"),
        pytest.param("text", id="a-string"),
    ],
)
def test_iti65_body_must_be_a_bundle(body: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(body)
    assert caught.value.kind is ErrorKind.INVALID
    assert caught.value.issues[0].code == "DMP-0601"
    status, outcome = operation_outcome(caught.value)
    assert status == 400 and outcome["issue"][0]["code"] == "invalid"


def test_api17_mhd_profile_requires_the_declared_bundle_profile() -> None:
    """API.md §17: under `mhd` the Bundle declares an MHD Provide Bundle profile."""
    bundle = load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleSimple.json")
    bundle["meta"]["profile"] = ["http://example.org/other"]
    _, found = issues_of(bundle, "mhd")
    assert found == {("DMP-0612", "Bundle.meta.profile")}


# --- elements ------------------------------------------------------------------------------


def test_doc7_labels_from_security_label_and_meta_security() -> None:
    """DOC-7, API.md §24: TRE_A07 labels from securityLabel and meta.security (urn:oid too)."""
    bundle = corrected()
    _doc(bundle)["securityLabel"].append(
        {"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "MASQUE_PS"}]}
    )
    _doc(bundle)["meta"]["security"] = [
        {"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "MASQUE_PS"},
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"},
        {
            "system": "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
            "TRE-A07-StatutVisibiliteDocument",
            "code": "INVISIBLE_PATIENT",
        },
    ]
    (draft,) = parse(bundle).documents
    assert [c.code for c in draft.confidentiality] == ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]


def test_doc1_inline_attachment_data_needs_no_binary() -> None:
    bundle = corrected()
    data = bundle["entry"][2]["resource"]["data"]
    bundle["entry"].pop(2)
    _att(bundle).pop("url")
    _att(bundle)["data"] = data
    (draft,) = parse(bundle).documents
    assert draft.data.startswith(b"<?xml")
    assert [e.kind for e in parse(bundle).entries] == [EntryKind.SUBMISSION_SET, EntryKind.DOCUMENT]


def test_doc1_authors_practitioner_role_organization_patient_device() -> None:
    """dmp-rules §4.1: authorPerson (IDNPS), authorInstitution (IDNST), specialty; patient."""
    bundle = corrected()
    doc = _doc(bundle)
    doc["contained"] += [
        {
            "resourceType": "PractitionerRole",
            "id": "role",
            "practitioner": {"reference": "#pract"},
            "organization": {"reference": "#org"},
            "specialty": [{"coding": [{"system": "urn:oid:1.2.250.1.71.4.2.5", "code": "SM26"}]}],
        },
        {
            "resourceType": "Practitioner",
            "id": "pract",
            "identifier": [{"system": "https://rpps.esante.gouv.fr", "value": "10101201234"}],
            "name": [{"family": "Leclerc", "given": ["Sophie"]}],
        },
        {
            "resourceType": "Organization",
            "id": "org",
            "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1750100125"}],
            "name": "Hôpital",
        },
        {
            "resourceType": "Device",
            "id": "dev",
            "deviceName": [{"name": "Automate X", "type": "model-name"}],
        },
    ]
    doc["author"] = [
        {"reference": "#role"},
        {"reference": "#org"},
        {"reference": "#patient-source"},
        {"reference": "#dev"},
        {"reference": "Practitioner/899700218896"},
        {"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810101201234"}},
    ]
    authors = parse(bundle).documents[0].authors
    assert authors == (
        Author(
            AuthorKind.PROFESSIONAL,
            "810101201234",
            "Sophie Leclerc",
            "1750100125",
            Coding("urn:oid:1.2.250.1.71.4.2.5", "SM26"),
        ),
        Author(AuthorKind.ORGANIZATION, "1750100125", "Hôpital"),
        Author(AuthorKind.PATIENT, TEST_INS.value),
        Author(AuthorKind.DEVICE, "", "Automate X"),
        Author(AuthorKind.PROFESSIONAL, "899700218896"),
        Author(AuthorKind.PROFESSIONAL, "810101201234"),
    )


def test_iti65_submission_set_author_with_author_org() -> None:
    """MHD ihe-authorOrg on List.source → the author's institution."""
    command = parse(
        load(MHD + "Bundle-ex-unContainedComprehensiveProvideDocumentBundleComplete.json"), "mhd"
    )
    assert command.submission_set.authors == (
        Author(AuthorKind.PROFESSIONAL, "ex-practitioner", institution="ex-organization"),
    )


# --- transaction-response ----------------------------------------------------------------

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _result(command: ProvideBundleCommand) -> SubmitResult:
    record = Record(
        RecordId("rec-1"),
        TEST_INS,
        Demographics("DURAND", "Camille"),
        RecordState.OPEN,
        NOW,
        "899700218896",
        OpeningChannel.PROFESSIONAL,
        True,
    )
    entries = tuple(
        DocumentEntry(
            id=DocumentId(f"doc-{position}"),
            record_id=record.id,
            unique_id=draft.unique_id,
            status=DocumentStatus.CURRENT,
            type=draft.type or Coding("http://loinc.org", "x"),
            category=draft.category or Coding("urn:c", "x"),
            date=NOW,
            authors=draft.authors,
            submitter=Submitter("professional", "899700218896"),
            submitted_at=NOW,
            submission_set_id="ss-1",
            content_type=draft.content_type,
            size=len(draft.data),
            sha1=hashlib.sha1(draft.data, usedforsecurity=False).hexdigest(),
            labels=frozenset({Label.MASQUE_PS}),
        )
        for position, draft in enumerate(command.documents)
    )
    ss = SubmissionSet(
        "ss-1",
        record.id,
        command.submission_set.unique_id,
        "1.2.3",
        Coding("urn:c", "04"),
        NOW,
        (),
        Submitter("professional", "899700218896"),
        NOW,
        tuple(e.id for e in entries),
    )
    warning = MetadataIssue(
        Severity.WARNING,
        "DMP-0203",
        "facility code unlisted",
        "DocumentReference.context.facilityType",
    )
    return SubmitResult(record, ss, entries, {command.documents[0].ref: [warning]})


def test_api16_transaction_response_one_entry_per_request_entry_in_order() -> None:
    """MHD 4.2 §2:3.65.4.2.2: one response entry per request entry, in order, 201 + location;
    warnings (an ignored Folder, an unlisted code) in that entry's response.outcome."""
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleComplete.json"), "mhd")
    response = transaction_response(_result(command), command, BASE + "/")
    get_fhir_model_class("Bundle").model_validate(response)
    assert response["type"] == "transaction-response"
    statuses = [(e["response"]["status"], e["response"].get("location")) for e in response["entry"]]
    assert statuses == [
        ("201 Created", f"{BASE}/List/ss-1/_history/1"),
        ("201 Created", f"{BASE}/DocumentReference/doc-0/_history/1"),
        ("200 OK", None),
        ("201 Created", f"{BASE}/Binary/doc-0"),
    ]
    document_outcome = response["entry"][1]["response"]["outcome"]["issue"]
    assert [(i["severity"], i["details"]["coding"][0]["code"]) for i in document_outcome] == [
        ("warning", "DMP-0651"),
        ("warning", "DMP-0203"),
    ]
    assert document_outcome[1]["expression"] == ["Bundle.entry[1].resource.context.facilityType"]
    folder = response["entry"][2]["response"]["outcome"]["issue"][0]
    assert "PartialFolderContentNotProcessed" in folder["diagnostics"]


def test_transaction_response_keeps_request_order_unlike_the_ihe_example() -> None:
    """MHD 4.2 §2:3.65.4.2.2: "one entry for each entry in the request, in the same order".
    The IHE response example for the Complete bundle lists List, List, DocumentReference,
    Binary for a request ordered List, DocumentReference, List (Folder), Binary: upstream is
    out of order. Here the order is the request's, and the ignored Folder gets no location."""
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleComplete.json"), "mhd")
    example = load(MHD + "Bundle-ex-response-comprehensiveProvideDocumentBundleComplete.json")
    theirs = [e["response"]["location"].split("/")[0] for e in example["entry"]]
    assert theirs == ["List", "List", "DocumentReference", "Binary"]
    response = transaction_response(_result(command), command, BASE)
    ours = [
        e["response"].get("location", "").removeprefix(BASE + "/").split("/")[0]
        for e in response["entry"]
    ]
    assert ours == ["List", "DocumentReference", "", "Binary"]
    assert len(response["entry"]) == len(example["entry"])


def test_doc3_transaction_response_for_a_replacement_and_a_patient_entry() -> None:
    command = parse(load(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleReplace.json"), "mhd")
    response = transaction_response(_result(command), command, BASE)
    assert response["entry"][1]["response"] == {
        "status": "200 OK",
        "location": f"{BASE}/DocumentReference/ex-documentreference",
    }
    minimal = parse(load(MHD + "Bundle-ex-minimalProvideDocumentBundleSimple.json"), "mhd")
    patient_entry = transaction_response(_result(minimal), minimal, BASE)["entry"][3]
    assert patient_entry["response"]["location"] == f"{BASE}/Patient/rec-1"


def test_transaction_response_without_the_bundle_layout() -> None:
    """A plain SubmitCommand (no layout): the SubmissionSet, then each document."""
    command = parse(load(CORRECTED))
    plain = command.__class__.__mro__[1](  # the SubmitCommand base
        command.record_id, command.subject_ins, command.submission_set, command.documents
    )
    response = transaction_response(_result(command), plain, BASE)
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 2


def test_validation_failed_maps_to_one_issue_per_error() -> None:
    bundle = corrected()
    bundle["type"] = "batch"
    _doc(bundle).pop("subject")
    with pytest.raises(DmpError) as caught:
        parse(bundle)
    status, outcome = operation_outcome(caught.value)
    assert status == 422
    assert {tuple(i["expression"]) for i in outcome["issue"]} == {
        ("Bundle.type",),
        ("Bundle.entry[1].resource.subject",),
    }
