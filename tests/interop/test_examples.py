"""The shared test data over HTTP (issue 3 §5): each valid ITI-65 example accepted and
round-tripped (DocumentReference and Binary read back), each invalid one refused whole with a
precise OperationOutcome (status, code, expression). ANS examples against the `dmp` profile,
IHE MHD examples against `opendmp serve --profile mhd` (SPEC.md §10, API.md §17).

Where an upstream example is wrong, the test id and docstring say why (docs/fhir-mapping.md,
"The upstream examples"). SPEC.md DOC-1 (all or nothing, metadata), DOC-2 (exact bytes), ID-1
(INS key), API.md §14, §16, §21, §26.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.support import Api
from tests.interop.examples import (
    CORRECTED,
    CORRECTED_INS,
    FR_PATIENT_123,
    MHD,
    PDSM,
    PDSM4DMP,
    TD2_INS,
    assert_round_trip,
    mhd_for_new_record,
    open_patient,
    opened,
    rewrite,
    submit,
    warnings_of,
)
from tests.interop.server import ServerProcess
from tests.interop.support import fresh_ins, issues, load_json


@pytest.fixture
def dmp_api(dmp_server: ServerProcess) -> Iterator[Api]:
    with dmp_server.client() as client:
        yield Api(client)


@pytest.fixture
def mhd_api(mhd_server: ServerProcess) -> Iterator[Api]:
    with mhd_server.client() as client:
        yield Api(client)


def documents_of(api: Api, record_id: str) -> list[dict[str, Any]]:
    found = api.http.get(
        "/fhir/DocumentReference", params={"patient": record_id}, headers=api.professional()
    )
    assert found.status_code == 200, found.text
    return [entry["resource"] for entry in found.json().get("entry", [])]


# --- valid examples -----------------------------------------------------------------------


def test_doc_1_corrected_pdsm4dmp_example_is_accepted_and_round_tripped(api: Api) -> None:
    """The td2 example with its upstream faults corrected (tests/fixtures/fhir PROVENANCE.md)
    is valid under `dmp`: its patient (the INS it names, ID-1 valid) is opened first."""
    record_id = api.open_record(CORRECTED_INS)
    bundle = load_json(CORRECTED)

    ids = assert_round_trip(api, bundle, submit(api, bundle))

    assert [d["id"] for d in documents_of(api, record_id)] == ids


@dataclass(frozen=True)
class Accepted:
    name: str
    warnings: set[tuple[int, str, str]] = field(default_factory=set)
    change: Callable[[dict[str, Any]], None] | None = None


def _second_document_unique_id(bundle: dict[str, Any]) -> None:
    identifier = bundle["entry"][2]["resource"]["masterIdentifier"]
    identifier["value"] = identifier["value"] + ".2"


ACCEPTED_MHD = [
    pytest.param(Accepted("Bundle-ex-comprehensiveProvideDocumentBundleSimple.json"), id="simple"),
    pytest.param(
        Accepted(
            "Bundle-ex-comprehensiveProvideDocumentBundleComplete.json",
            {
                (1, "DMP-0651", "Bundle.entry[1].resource.relatesTo[0]"),
                (2, "DMP-0650", "Bundle.entry[2].resource"),
            },
        ),
        id="complete-folder-and-appends-are-warnings",
    ),
    pytest.param(
        Accepted(
            "Bundle-ex-unContainedComprehensiveProvideDocumentBundleComplete.json",
            {(1, "DMP-0651", "Bundle.entry[1].resource.relatesTo[0]")},
        ),
        id="uncontained-appends-is-a-warning",
    ),
    pytest.param(
        Accepted(
            "Bundle-ex-ProvideDocumentBundle-addToFolder.json",
            {(2, "DMP-0650", "Bundle.entry[2].resource")},
        ),
        id="add-to-folder-folder-is-a-warning",
    ),
    pytest.param(
        Accepted(
            "Bundle-ex-comprehensiveProvideDocumentBundleMultiple.json",
            change=_second_document_unique_id,
        ),
        id="multiple-with-its-duplicate-uniqueid-corrected",
    ),
]


@pytest.mark.parametrize("example", ACCEPTED_MHD)
def test_doc_1_ihe_mhd_examples_are_accepted_and_round_tripped(
    mhd_api: Api, example: Accepted
) -> None:
    """IHE MHD 4.2 comprehensive examples under `--profile mhd`; ignored Folders and
    `appends` are warnings in their entry's outcome (MHD 4.2 §2:3.65.4.1.3, API.md §16).
    The Multiple example gives both documents the same uniqueId (upstream error, refused in
    the test below): here its second document gets a uniqueId of its own."""
    bundle = mhd_for_new_record(mhd_api, example.name)
    if example.change is not None:
        example.change(bundle)

    response = submit(mhd_api, bundle)

    assert_round_trip(mhd_api, bundle, response)
    assert warnings_of(response) == example.warnings


# --- invalid examples ---------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """An example refused whole: how to build it for this server, and what the refusal says."""

    build: Callable[[Api], tuple[dict[str, Any], str | None]]  # the Bundle, its record if any
    status: int
    expected: set[tuple[str, str, str]]  # (issue.code, stable code, expression)


def _verbatim(name: str) -> Callable[[Api], tuple[dict[str, Any], str | None]]:
    return lambda api: (load_json(name), None)


def _fr_patient_123(api: Api) -> str:
    return opened(api, load_json(FR_PATIENT_123))


def _pdsm_replace_verbatim(api: Api) -> tuple[dict[str, Any], str | None]:
    record_id = _fr_patient_123(api)  # opened with its INS: the reference still names its id
    return load_json(PDSM + "Bundle-bundle-exemple-comprehensiveprovidedocument-replace.json"), (
        record_id
    )


def _pdsm_replace_for_its_record(api: Api) -> tuple[dict[str, Any], str | None]:
    record_id = _fr_patient_123(api)
    bundle = load_json(PDSM + "Bundle-bundle-exemple-comprehensiveprovidedocument-replace.json")
    return rewrite(bundle, "Patient/fr-patient-123", f"Patient/{record_id}"), record_id


def _td2_for_an_open_record(name: str) -> Callable[[Api], tuple[dict[str, Any], str | None]]:
    def build(api: Api) -> tuple[dict[str, Any], str | None]:
        ins = fresh_ins()
        record_id = api.open_record(ins)
        bundle = rewrite(
            load_json(PDSM4DMP + name),
            f"Patient?identifier={TD2_INS}",
            f"Patient?identifier=urn:oid:{ins.system}|{ins.value}",
        )
        return bundle, record_id

    return build


def _mhd(name: str) -> Callable[[Api], tuple[dict[str, Any], str | None]]:
    def build(api: Api) -> tuple[dict[str, Any], str | None]:
        bundle = mhd_for_new_record(api, name)
        record_id = bundle["entry"][0]["resource"]["subject"]["reference"].split("/")[1]
        return bundle, record_id

    return build


DESIGNATION = (
    "extension('https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType')"
)
TD2_DOC1 = {
    ("business-rule", "DMP-0201", "Bundle.entry[0].resource.identifier"),
    ("business-rule", "DMP-0202", f"Bundle.entry[0].resource.{DESIGNATION}"),
    ("business-rule", "DMP-0201", "Bundle.entry[1].resource.custodian"),
    ("business-rule", "DMP-0202", "Bundle.entry[1].resource.content[0].format"),
    ("business-rule", "DMP-0202", "Bundle.entry[1].resource.context.facilityType"),
    ("business-rule", "DMP-0202", "Bundle.entry[1].resource.context.practiceSetting"),
    ("business-rule", "DMP-0204", "Bundle.entry[1].resource.category"),
}
NO_RECORD = {("business-rule", "DMP-0432", "Bundle.entry[1].resource.subject.reference")}
REFUSED_DMP = [
    pytest.param(
        Refused(
            _verbatim(PDSM4DMP + "Bundle-example-td2-iti65-lot-soumission.json"), 422, NO_RECORD
        ),
        id="pdsm4dmp-td2-upstream-ins-key-invalid-so-no-record",
    ),
    pytest.param(
        Refused(_verbatim(PDSM4DMP + "Bundle-example-td2-1-remplacement.json"), 422, NO_RECORD),
        id="pdsm4dmp-td2.1-upstream-ins-key-invalid-so-no-record",
    ),
    pytest.param(
        Refused(_pdsm_replace_verbatim, 422, NO_RECORD),
        id="pdsm-replace-names-its-own-patient-id-not-one-of-this-server",
    ),
    pytest.param(
        Refused(
            _td2_for_an_open_record("Bundle-example-td2-iti65-lot-soumission.json"), 422, TD2_DOC1
        ),
        id="pdsm4dmp-td2-for-an-open-record-upstream-metadata-not-dmp",
    ),
    pytest.param(
        Refused(_td2_for_an_open_record("Bundle-example-td2-1-remplacement.json"), 422, TD2_DOC1),
        id="pdsm4dmp-td2.1-for-an-open-record-upstream-metadata-not-dmp",
    ),
    pytest.param(
        Refused(
            _pdsm_replace_for_its_record,
            422,
            {
                ("business-rule", "DMP-0201", "Bundle.entry[0].resource.identifier"),
                ("business-rule", "DMP-0201", "Bundle.entry[1].resource.custodian"),
                ("business-rule", "DMP-0204", "Bundle.entry[1].resource.category"),
                ("business-rule", "DMP-0202", "Bundle.entry[1].resource.securityLabel[0]"),
                ("business-rule", "DMP-0205", "Bundle.entry[1].resource.securityLabel"),
                (
                    "business-rule",
                    "DMP-0208",
                    "Bundle.entry[1].resource.content[0].attachment.hash",
                ),
            },
        ),
        id="pdsm-replace-for-its-record-upstream-hash-label-system-class-wrong",
    ),
]

REFUSED_MHD = [
    pytest.param(
        Refused(
            _mhd("Bundle-ex-comprehensiveProvideDocumentBundleMultiple.json"),
            422,
            {("business-rule", "DMP-0410", "Bundle.entry[2].resource.masterIdentifier")},
        ),
        id="multiple-upstream-two-documents-one-uniqueid",
    ),
    pytest.param(
        Refused(
            _mhd("Bundle-ex-comprehensiveProvideDocumentBundleReplace.json"),
            422,
            {("business-rule", "DMP-0207", "Bundle.entry[2].resource.content[0].attachment.size")},
        ),
        id="replace-upstream-size-24-for-23-bytes",
    ),
    pytest.param(
        Refused(
            _verbatim(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleDocument.json"),
            422,
            {
                ("business-rule", "DMP-0611", "Bundle.entry[2].resource"),
                ("business-rule", "DMP-0609", "Bundle.entry[0].resource.subject.reference"),
                ("business-rule", "DMP-0609", "Bundle.entry[1].resource.subject.reference"),
            },
        ),
        id="fhir-document-publish-not-supported-patient-on-another-server",
    ),
    pytest.param(
        Refused(
            _verbatim(MHD + "Bundle-ex-dummyBundleDocAndBinary.json"),
            422,
            {
                ("business-rule", "DMP-0612", "Bundle.meta.profile"),
                ("business-rule", "DMP-0604", "Bundle.entry"),
                ("business-rule", "DMP-0201", "Bundle.entry[0].resource.subject"),
            },
        ),
        id="dummy-bundle-is-not-a-provide-bundle",
    ),
    pytest.param(
        Refused(
            _verbatim(MHD + "Bundle-ex-comprehensiveProvideDocumentBundleSimple.json"),
            422,
            NO_RECORD,
        ),
        id="simple-verbatim-names-its-own-patient-id-not-one-of-this-server",
    ),
    pytest.param(
        Refused(
            _verbatim(MHD + "Bundle-ex-minimalProvideDocumentBundleSimple.json"), 422, NO_RECORD
        ),
        id="minimal-its-patient-entry-has-no-identifier-to-match",
    ),
    pytest.param(
        Refused(
            _verbatim(MHD + "Bundle-ex-minimalProvideDocumentBundleSimpleContained.json"),
            422,
            {("business-rule", "DMP-0432", "Bundle.entry[1].resource.subject")},
        ),
        id="minimal-contained-names-no-patient",
    ),
]


def _refusal(api: Api, refused: Refused) -> httpx.Response:
    bundle, record_id = refused.build(api)
    response = submit(api, bundle)
    if record_id is not None:  # all or nothing (DOC-1): nothing of the Bundle was stored
        assert documents_of(api, record_id) == []
    return response


def _codes(found: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(code, stable) for code, stable, _ in found}


@pytest.mark.parametrize("refused", REFUSED_DMP)
def test_doc_1_api_21_invalid_ans_examples_are_refused_whole_each_problem_located(
    dmp_api: Api, refused: Refused
) -> None:
    """Status, issue code, stable code and the FHIRPath of each problem in the Bundle (API.md
    §21); nothing stored. td2/td2.1: their INS 123456789012345 fails the NIR key (ID-1), no
    record can exist for it. PDSm replace: N under a misspelled TRE_A07 system, the hash of
    'hello' for the bytes 'Hello', class 10 for 34133-9 (ASS_X16), no List uniqueId, no
    custodian."""
    response = _refusal(dmp_api, refused)
    assert response.status_code == refused.status, response.text
    assert issues(response) == refused.expected


@pytest.mark.parametrize("refused", REFUSED_MHD)
def test_doc_1_api_21_invalid_ihe_mhd_examples_are_refused_whole_each_problem_located(
    mhd_api: Api, refused: Refused
) -> None:
    """Multiple: both DocumentReferences carry uniqueId …62012 (upstream). Replace:
    attachment.size 24 for a 23-byte Binary (upstream). Document: the FHIR Document Publish
    Option is not implemented, its patient is on example.org. Dummy: no SubmissionSet, no MHD
    profile. Minimal: its Patient entry has no identifier and the DMP never creates patients;
    Minimal contained names no patient at all."""
    response = _refusal(mhd_api, refused)
    assert response.status_code == refused.status, response.text
    assert issues(response) == refused.expected


def test_id_1_the_td2_examples_ins_cannot_be_opened(dmp_api: Api) -> None:
    """Why td2 and td2.1 cannot be accepted anywhere: their INS fails the NIR key (ID-1)."""
    system, value = TD2_INS.split("|")
    response = open_patient(
        dmp_api,
        {
            "resourceType": "Patient",
            "identifier": [{"system": system, "value": value}],
            "name": [{"use": "official", "family": "DURAND", "given": ["Camille"]}],
            "gender": "female",
            "birthDate": "1985-10-04",
        },
    )
    assert response.status_code == 422
    assert _codes(issues(response)) == {("business-rule", "DMP-0102")}


def test_fr_core_patient_example_opens_a_record_with_its_ins(dmp_api: Api) -> None:
    """The PDSm (FR Core INS) Patient `fr-patient-123` as the `$dmp-open` patient: its INS
    (NIR system .8, valid key) becomes the record's identifier (PDQm ITI-78 finds it)."""
    record_id = opened(dmp_api, load_json(FR_PATIENT_123))
    found = dmp_api.http.get(
        "/fhir/Patient",
        params={"identifier": "urn:oid:1.2.250.1.213.1.4.8|180017505600103"},
        headers=dmp_api.professional(),
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [record_id]
