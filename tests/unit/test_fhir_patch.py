"""PATCH (JSON Patch, PDSm) and `$meta-add` / `$meta-delete` on a DocumentReference
(API.md §8, §24; SPEC.md DOC-4, DOC-5, DOC-7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opendmp.domain.documents import DocumentStatus, Label
from opendmp.domain.errors import DmpError, ErrorKind, InvalidRequest
from opendmp.fhir import render
from opendmp.fhir.patch import (
    DocumentChange,
    apply_json_patch,
    parse_json_patch,
    parse_meta_change,
)
from tests.unit.test_fhir_render import BASE, a_document

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fhir"
BLOCKS = FIXTURES / "ans-pdsm4dmp" / "pagecontent-json-blocks"
LABELS = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
N = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def current(labels: frozenset[Label] = frozenset(), **changes: Any) -> dict[str, Any]:
    """The DocumentReference as the caller sees it."""
    return render.document_reference(a_document(labels=labels, is_archived=False, **changes), BASE)


@pytest.mark.parametrize(
    ("block", "labels", "expected"),
    [
        pytest.param(
            "transaction_td3.3a.md.block1.json",
            frozenset(),
            DocumentChange(labels=frozenset({Label.MASQUE_PS})),
            id="TD3.3a-mask-DOC-7",
        ),
        pytest.param(
            "transaction_td3.3b.md.block1.json",
            frozenset(),
            DocumentChange(labels=frozenset({Label.INVISIBLE_PATIENT})),
            id="TD3.3b-invisible-patient",
        ),
        pytest.param(
            "transaction_td3.3c.md.block1.json",
            frozenset(),
            DocumentChange(status=DocumentStatus.ENTERED_IN_ERROR),
            id="TD3.3c-delete-DOC-5",
        ),
        pytest.param(
            "transaction_td3.3d.md.block1.json",
            frozenset(),
            DocumentChange(is_archived=True),
            id="TD3.3d-archive-DOC-4",
        ),
    ],
)
def test_pdsm_patch_examples(
    block: str, labels: frozenset[Label], expected: DocumentChange
) -> None:
    """The ANS PDSm4DMP PATCH examples (TD3.3a-d), on the document as rendered.

    TD3.3a replaces `/securityLabel/0` (N) by MASQUE_PS: N comes back first (API.md §8).
    TD3.3d uses the PDSm filter segment `extension[url:'…']` (not RFC 6901, accepted)."""
    assert parse_json_patch(load(BLOCKS / block), current(labels)) == expected


@pytest.mark.parametrize(
    ("block", "label"),
    [
        pytest.param("transaction_td3.3a.md.block2.json", Label.MASQUE_PS, id="TD3.3a-unmask"),
        pytest.param(
            "transaction_td3.3b.md.block2.json", Label.INVISIBLE_PATIENT, id="TD3.3b-show-patient"
        ),
    ],
)
def test_pdsm_unmask_examples_assume_the_label_at_index_0(block: str, label: Label) -> None:
    """The ANS examples replace `/securityLabel/0` by N, assuming the label replaced N at
    index 0. With N always first (API.md §8) index 0 is N: these examples change nothing;
    removing a label is done where it is, or with `$meta-delete`."""
    masked = current(frozenset({label}))
    assert parse_json_patch(load(BLOCKS / block), masked).is_empty
    unmask = [{"op": "remove", "path": "/securityLabel/1"}]
    assert parse_json_patch(unmask, masked) == DocumentChange(labels=frozenset())


def test_td33d_unarchive() -> None:
    document = current()
    document["extension"][0]["valueBoolean"] = True
    change = parse_json_patch(load(BLOCKS / "transaction_td3.3d.md.block2.json"), document)
    assert change == DocumentChange(is_archived=False)


def test_api8_n_removed_comes_back_and_labels_are_added_by_index() -> None:
    operations = [
        {"op": "remove", "path": "/securityLabel/0"},
        {
            "op": "add",
            "path": "/securityLabel/-",
            "value": {"coding": [{"system": LABELS, "code": "MASQUE_PS"}]},
        },
        {
            "op": "add",
            "path": "/securityLabel/-",
            "value": {
                "coding": [
                    {
                        "system": "urn:oid:1.2.250.1.213.1.1.4.13",
                        "code": "INVISIBLE_REPRESENTANTS_LEGAUX",
                    }
                ]
            },
        },
    ]
    change = parse_json_patch(operations, current())
    assert change.labels == {Label.MASQUE_PS, Label.INVISIBLE_REPRESENTANTS_LEGAUX}
    assert change.status is None and change.is_archived is None


def test_unchanged_patch_is_empty() -> None:
    change = parse_json_patch([{"op": "replace", "path": "/status", "value": "current"}], current())
    assert change.is_empty


@pytest.mark.parametrize(
    "path",
    [
        "/type",
        "/meta/security",
        "/content/0/attachment/url",
        "/extension/0/url",
        "/subject",
        "/masterIdentifier/value",
    ],
)
def test_api8_other_paths_are_400(path: str) -> None:
    """API.md §8: a path outside securityLabel, status and the isArchived extension is 400."""
    with pytest.raises(InvalidRequest) as caught:
        parse_json_patch([{"op": "replace", "path": path, "value": "x"}], current())
    assert caught.value.code == "DMP-0640" and caught.value.kind is ErrorKind.INVALID


def test_moving_another_element_into_security_label_is_400() -> None:
    with pytest.raises(InvalidRequest):
        parse_json_patch([{"op": "move", "from": "/type", "path": "/securityLabel/0"}], current())


def test_test_operation_may_check_the_version() -> None:
    """A `test` looks at any path: `/meta/versionId` gives optimistic concurrency (409)."""
    operations: list[dict[str, Any]] = [
        {"op": "test", "path": "/meta/versionId", "value": "3"},
        {"op": "replace", "path": "/status", "value": "entered-in-error"},
    ]
    assert parse_json_patch(operations, current()).status is DocumentStatus.ENTERED_IN_ERROR
    operations[0]["value"] = "2"
    with pytest.raises(DmpError) as caught:
        parse_json_patch(operations, current())
    assert caught.value.kind is ErrorKind.CONFLICT


@pytest.mark.parametrize(
    ("operations", "code", "kind"),
    [
        pytest.param({"op": "add"}, "DMP-0641", ErrorKind.INVALID, id="not-an-array"),
        pytest.param(
            [{"op": "frobnicate", "path": "/status"}], "DMP-0641", ErrorKind.INVALID, id="op"
        ),
        pytest.param(
            [{"op": "replace", "path": "status", "value": "x"}],
            "DMP-0641",
            ErrorKind.INVALID,
            id="pointer",
        ),
        pytest.param(
            [{"op": "replace", "path": "/status"}], "DMP-0641", ErrorKind.INVALID, id="no-value"
        ),
        pytest.param(
            [{"op": "replace", "path": "/status", "value": "gone"}],
            "DMP-0644",
            ErrorKind.BUSINESS_RULE,
            id="DOC-5-unknown-status",
        ),
        pytest.param(
            [
                {
                    "op": "add",
                    "path": "/securityLabel/-",
                    "value": {"coding": [{"system": "urn:x", "code": "SECRET"}]},
                }
            ],
            "DMP-0643",
            ErrorKind.BUSINESS_RULE,
            id="DOC-7-code-outside-JDV_J58",
        ),
        pytest.param(
            [
                {
                    "op": "add",
                    "path": "/securityLabel/-",
                    "value": {"coding": [{"system": N["system"], "code": "V"}]},
                }
            ],
            "DMP-0643",
            ErrorKind.BUSINESS_RULE,
            id="DOC-7-confidentiality-set-at-submission",
        ),
        pytest.param(
            [
                {
                    "op": "replace",
                    "path": "/extension[url:'urn:nothing']/valueBoolean",
                    "value": True,
                }
            ],
            "DMP-0642",
            ErrorKind.BUSINESS_RULE,
            id="no-such-extension",
        ),
        pytest.param(
            [{"op": "remove", "path": "/securityLabel/9"}],
            "DMP-0642",
            ErrorKind.BUSINESS_RULE,
            id="no-such-element",
        ),
    ],
)
def test_malformed_patches(operations: object, code: str, kind: ErrorKind) -> None:
    with pytest.raises(DmpError) as caught:
        parse_json_patch(operations, current())
    assert (caught.value.code, caught.value.kind) == (code, kind)


def _json_patch_cases() -> list[Any]:
    cases = load(FIXTURES / "hl7-fhir-test-cases" / "r4" / "patch" / "json-patch-tests.json")
    return [pytest.param(case, id=case["comment"]) for case in cases]


@pytest.mark.parametrize("case", _json_patch_cases())
def test_rfc6902_engine_on_the_hl7_json_patch_tests(case: dict[str, Any]) -> None:
    """The HL7 FHIR test cases for JSON Patch (RFC 6902 appendix A) on the generic engine."""
    if "error" in case:
        with pytest.raises(DmpError):
            apply_json_patch(case["doc"], case["patch"])
    else:
        assert apply_json_patch(case["doc"], case["patch"]) == case["expected"]


def meta(*codings: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "meta", "valueMeta": {"security": list(codings)}}],
    }


def test_api8_meta_add_and_meta_delete() -> None:
    """API.md §8, §24: $meta-add / $meta-delete change the labels; N always stays."""
    masked = {"system": LABELS, "code": "MASQUE_PS"}
    hidden = {"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "INVISIBLE_PATIENT"}
    assert parse_meta_change(meta(masked, hidden), frozenset(), add=True) == {
        Label.MASQUE_PS,
        Label.INVISIBLE_PATIENT,
    }
    assert parse_meta_change(meta(masked, N), frozenset({Label.MASQUE_PS}), add=False) == set()


@pytest.mark.parametrize(
    ("parameters", "code"),
    [
        pytest.param({"resourceType": "Parameters", "parameter": []}, "DMP-0646", id="no-meta"),
        pytest.param(meta({"system": "urn:x", "code": "SECRET"}), "DMP-0643", id="unknown-code"),
        pytest.param(meta({"system": N["system"], "code": "R"}), "DMP-0643", id="R-at-submission"),
        pytest.param({"resourceType": "Patient"}, "DMP-0601", id="not-parameters"),
    ],
)
def test_meta_change_errors(parameters: dict[str, Any], code: str) -> None:
    with pytest.raises(DmpError) as caught:
        parse_meta_change(parameters, frozenset(), add=True)
    issues = getattr(caught.value, "issues", [caught.value])
    assert issues[0].code == code


@pytest.mark.parametrize("op", [{}, [], None, 3, "jump"])
def test_a_malformed_op_is_a_400_not_a_crash(op: object) -> None:
    """Found by schemathesis: `{"op": {}}` crashed the PATCH handler (500)."""
    with pytest.raises(InvalidRequest):
        apply_json_patch({"resourceType": "DocumentReference"}, [{"op": op, "path": "/status"}])
