"""R-PS-5: the profession × document-type habilitation matrix as operator data."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from opendmp.domain.habilitation import (
    RESIDENCE_CERTIFICATE,
    SENSITIVE_TYPES,
    HabilitationFileError,
    HabilitationMatrix,
)


def _type_codes() -> set[str]:
    table = json.loads(
        resources.files("opendmp").joinpath("data/dmp-type-codes.json").read_text("utf-8")
    )
    return {concept["code"] for concept in table["concepts"]}


def test_r_ps_5_default_physicians_read_all_but_the_residence_certificate() -> None:
    assert HabilitationMatrix.default().denied_types("10") == {RESIDENCE_CERTIFICATE}


@pytest.mark.parametrize("profession", ["21", "40", "60", "70", "99", None])
def test_r_ps_5_default_other_professions_miss_the_sensitive_types(
    profession: str | None,
) -> None:
    denied = HabilitationMatrix.default().denied_types(profession)
    assert denied == {"80788-3", "75496-0", "83981-1", "83901-9", "68599-0"}


def test_r_ps_5_default_names_codes_of_the_dmp_type_table() -> None:
    assert {RESIDENCE_CERTIFICATE, *SENSITIVE_TYPES} <= _type_codes()


def test_r_ps_5_operator_file_round_trips() -> None:
    matrix = HabilitationMatrix(
        default_denied=frozenset({"68599-0"}),
        by_profession=(("10", frozenset()), ("60", frozenset({"68599-0", "83901-9"}))),
    )
    text = matrix.to_json()
    assert json.loads(text)["professions"]["60"] == ["68599-0", "83901-9"]
    assert HabilitationMatrix.from_json(text) == matrix
    assert HabilitationMatrix.from_json(HabilitationMatrix.default().to_json()) == (
        HabilitationMatrix.default()
    )


def test_r_ps_5_operator_file_changes_the_decision_data() -> None:
    text = json.dumps(
        {
            "format": "opendmp-habilitation/1",
            "default_denied": [],
            "professions": {"21": ["ATTEST-RESID", "68599-0"]},
        }
    )
    matrix = HabilitationMatrix.from_json(text)
    assert matrix.denied_types("21") == {"ATTEST-RESID", "68599-0"}
    assert matrix.denied_types("60") == frozenset()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        ('{"format": "other"}', "format"),
        ('{"format": "opendmp-habilitation/1", "extra": 1}', "unknown keys: extra"),
        ('{"format": "opendmp-habilitation/1", "default_denied": "68599-0"}', "default_denied"),
        ('{"format": "opendmp-habilitation/1", "professions": []}', "professions"),
        ('{"format": "opendmp-habilitation/1", "professions": {"nurse": []}}', "'nurse'"),
        ('{"format": "opendmp-habilitation/1", "professions": {"60": [""]}}', "professions.60"),
    ],
)
def test_r_ps_5_invalid_operator_file_is_refused_with_its_place(text: str, where: str) -> None:
    with pytest.raises(HabilitationFileError, match=where):
        HabilitationMatrix.from_json(text)
