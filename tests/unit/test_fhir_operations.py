"""Parameters of `$dmp-open`, `$dmp-close`, `$dmp-settings` (API.md §3, §5; SPEC.md REC-1,
REC-3, REC-6, §5.4)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from opendmp.domain.errors import DmpError, ErrorKind, ValidationFailed
from opendmp.domain.identifiers import Ins
from opendmp.domain.record import ClosureReason, PatientSettings
from opendmp.fhir.operations import (
    parse_close_parameters,
    parse_open_parameters,
    parse_settings_parameters,
    settings_parameters,
)

FR_CORE_PATIENT = (
    Path(__file__).parents[1]
    / "fixtures/fhir/interop-sante-fr-core/input/examples/Patient avec INSNIR logique.json"
)


def fr_core_patient() -> dict[str, Any]:
    with FR_CORE_PATIENT.open(encoding="utf-8") as handle:
        patient: dict[str, Any] = json.load(handle)
    return patient


def parameters(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(items)}


def test_rec1_open_with_the_fr_core_patient() -> None:
    """REC-1: the FR Core example Patient (INS-NIR test OID, an IPP too) opens a record;
    the INS is picked among the identifiers, the official name is used."""
    command = parse_open_parameters(
        parameters(
            {"name": "patient", "resource": fr_core_patient()},
            {"name": "consent", "valueBoolean": True},
        )
    )
    assert command.ins == Ins("1.2.250.1.213.1.4.10", "162126587913677")
    assert command.has_consent is True
    demographics = command.demographics
    assert (demographics.family, demographics.given) == ("SAYEH", "FEIXA")
    assert demographics.birth_date == date(1962, 12, 27) and demographics.sex == "male"


def test_rec6_representatives() -> None:
    """REC-6, API.md §3: a RelatedPerson with the INS and an HL7 RoleCode."""
    mother = {
        "resourceType": "RelatedPerson",
        "patient": {"reference": "Patient/x"},
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "295109912611193"}],
        "relationship": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}
                ]
            }
        ],
        "name": [{"family": "SAYEH", "given": ["Anne"]}],
    }
    command = parse_open_parameters(
        parameters(
            {"name": "patient", "resource": fr_core_patient()},
            {"name": "representative", "resource": mother},
        )
    )
    assert command.has_consent is False  # refused by the service (REC-1), not here
    (representative,) = command.representatives
    assert representative.ins == Ins("1.2.250.1.213.1.4.8", "295109912611193")
    assert (representative.relationship, representative.name) == ("MTH", "Anne SAYEH")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(
            parameters({"name": "consent", "valueBoolean": True}), "DMP-0660", id="no-patient"
        ),
        pytest.param(
            parameters(
                {
                    "name": "patient",
                    "resource": {"resourceType": "Patient", "name": [{"family": "X"}]},
                }
            ),
            "DMP-0661",
            id="ID-2-no-INS",
        ),
        pytest.param(
            parameters(
                {"name": "patient", "resource": fr_core_patient()},
                {
                    "name": "representative",
                    "resource": {
                        "resourceType": "RelatedPerson",
                        "patient": {"reference": "Patient/x"},
                    },
                },
            ),
            "DMP-0662",
            id="REC-6-representative-without-INS",
        ),
    ],
)
def test_open_errors(body: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_open_parameters(body)
    assert code in {i.code for i in caught.value.issues}


@pytest.mark.parametrize("reason", list(ClosureReason))
def test_rec3_close_reasons(reason: ClosureReason) -> None:
    body = parameters({"name": "reason", "valueCode": reason.value})
    assert parse_close_parameters(body) is reason


@pytest.mark.parametrize(
    "body",
    [parameters(), parameters({"name": "reason", "valueCode": "bored"})],
    ids=["missing", "unknown"],
)
def test_close_reason_errors_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(DmpError) as caught:
        parse_close_parameters(body)
    assert (caught.value.code, caught.value.kind) == ("DMP-0663", ErrorKind.INVALID)


def test_settings_round_trip_and_partial_update() -> None:
    """SPEC.md §5.4: named settings change; masked-in-emergency forced off when both
    emergency modes are refused."""
    current = PatientSettings(allow_masked_in_emergency=True, email="p@example.org")
    rendered = settings_parameters(current)
    assert parse_settings_parameters(rendered, PatientSettings()) == current
    changed = parse_settings_parameters(
        parameters(
            {"name": "allowCentre15", "valueBoolean": False},
            {"name": "allowBreakTheGlass", "valueBoolean": False},
        ),
        current,
    )
    assert changed.allow_masked_in_emergency is False and changed.email == "p@example.org"


def test_settings_errors() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_settings_parameters(
            parameters(
                {"name": "colour", "valueString": "blue"},
                {"name": "maskNewDocuments", "valueString": "yes"},
            ),
            PatientSettings(),
        )
    assert [i.path for i in caught.value.issues] == [
        "Parameters.parameter[0].name",
        "Parameters.parameter[1].valueBoolean",
    ]
