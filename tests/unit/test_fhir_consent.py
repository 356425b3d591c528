"""Consent → ConsentCommand (API.md "Who may access", Details §7; SPEC.md R-PS-1..3, ID-3)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.errors import DmpError, ErrorKind, ValidationFailed
from opendmp.domain.identifiers import Ins, RecordId
from opendmp.fhir.consent import parse_consent
from opendmp.fhir.render import consent as render_consent
from opendmp.services.consents import ConsentCommand
from tests.unit.test_fhir_render import a_record

BASE = "https://dmp.example/fhir"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
PRCP = {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "PRCP"}
ADMIN = {"system": "https://opendmp.org/fhir/CodeSystem/record-role", "code": "administrator"}


def a_consent(provision: str = "permit", role: dict[str, str] = PRCP) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/rec-1"},
        "performer": [{"reference": "Practitioner/899700218896"}],
        "provision": {
            "type": provision,
            "actor": [
                {
                    "role": {"coding": [role]},
                    "reference": {
                        "identifier": {"system": IDNPS, "value": "899700218896"},
                        "display": "Dr Max LIBRE",
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("provision", "role", "expected"),
    [
        pytest.param("permit", PRCP, (Provision.PERMIT, ConsentRole.PARTICIPANT), id="R-PS-2"),
        pytest.param("deny", PRCP, (Provision.DENY, ConsentRole.PARTICIPANT), id="R-PS-1"),
        pytest.param("permit", ADMIN, (Provision.PERMIT, ConsentRole.ADMINISTRATOR), id="R-PS-3"),
    ],
)
def test_api7_consent_kinds(
    provision: str, role: dict[str, str], expected: tuple[Provision, ConsentRole]
) -> None:
    command = parse_consent(a_consent(provision, role), base_url=BASE)
    assert command == ConsentCommand("rec-1", "899700218896", *expected, "Dr Max LIBRE")


def test_api7_actor_by_reference_and_patient_by_absolute_url() -> None:
    """API.md §7: provision.actor.reference may be `Practitioner/<IDNPS>`."""
    resource = a_consent()
    resource["provision"]["actor"][0]["reference"] = {"reference": "Practitioner/810101201234"}
    resource["patient"] = {"reference": f"{BASE}/Patient/rec-9"}
    command = parse_consent(resource, base_url=BASE)
    assert (command.record_id, command.professional_id) == ("rec-9", "810101201234")


def test_api7_patient_by_ins_with_a_resolver() -> None:
    resource = a_consent()
    resource["patient"] = {
        "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": "207058575627097"}
    }
    seen: list[Ins] = []

    def resolve(ins: Ins) -> str:
        seen.append(ins)
        return "rec-7"

    assert parse_consent(resource, base_url=BASE, resolve_ins=resolve).record_id == "rec-7"
    assert seen == [Ins("1.2.250.1.213.1.4.10", "207058575627097")]


def test_rendered_consent_parses_back() -> None:
    """The Consent we render is one we accept (same professional, provision and role)."""
    command = parse_consent(a_consent("permit", ADMIN), base_url=BASE)
    stored = Consent(
        "c-1",
        RecordId(command.record_id),
        command.professional_id,
        command.provision,
        command.role,
        "person",
        "207058575627097",
        datetime(2026, 1, 1, tzinfo=UTC),
        professional_name=command.professional_name,
    )
    assert parse_consent(render_consent(stored, a_record(), BASE), base_url=BASE) == command


def _change(path: list[str | int], value: Any) -> dict[str, Any]:
    resource = copy.deepcopy(a_consent())
    node: Any = resource
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return resource


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param(
            _change(["status"], "inactive"), {("DMP-0631", "Consent.status")}, id="status"
        ),
        pytest.param(
            _change(["scope"], {"coding": [{"code": "research"}]}),
            {("DMP-0632", "Consent.scope")},
            id="scope",
        ),
        pytest.param(
            _change(["category"], [{"coding": [{"system": "http://loinc.org", "code": "1"}]}]),
            {("DMP-0633", "Consent.category")},
            id="category",
        ),
        pytest.param(
            _change(["patient"], {"reference": "Group/g"}),
            {("DMP-0634", "Consent.patient")},
            id="patient",
        ),
        pytest.param(
            _change(["provision", "type"], None),
            {("DMP-0635", "Consent.provision.type")},
            id="R-PS-1-provision-type",
        ),
        pytest.param(
            _change(["provision", "actor"], []),
            {("DMP-0636", "Consent.provision.actor")},
            id="one-actor",
        ),
        pytest.param(
            _change(
                ["provision", "actor", 0, "reference"],
                {"identifier": {"system": IDNPS, "value": "12"}},
            ),
            {("DMP-0106", "Consent.provision.actor[0].reference.identifier.value")},
            id="ID-3-malformed-IDNPS",
        ),
        pytest.param(
            _change(
                ["provision", "actor", 0, "reference"],
                {"identifier": {"system": "urn:x", "value": "1"}},
            ),
            {("DMP-0636", "Consent.provision.actor[0].reference.identifier.system")},
            id="ID-3-not-an-IDNPS",
        ),
        pytest.param(
            _change(
                ["provision", "actor", 0, "role"], {"coding": [{"system": "urn:x", "code": "boss"}]}
            ),
            {("DMP-0637", "Consent.provision.actor[0].role")},
            id="role",
        ),
    ],
)
def test_invalid_consents_name_the_element(
    resource: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_consent(resource, base_url=BASE)
    assert {(i.code, i.path) for i in caught.value.issues} == expected


def test_r_ps_3_administrator_is_a_permit() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_consent(a_consent("deny", ADMIN), base_url=BASE)
    assert [(i.code, i.rule) for i in caught.value.issues] == [("DMP-0638", "R-PS-3")]


def test_not_a_consent_is_400() -> None:
    with pytest.raises(DmpError) as caught:
        parse_consent({"resourceType": "Patient"}, base_url=BASE)
    assert caught.value.kind is ErrorKind.INVALID
