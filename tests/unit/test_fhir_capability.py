"""CapabilityStatement from the route table (API.md Basics: `GET /fhir/metadata`)."""

from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.R4B import get_fhir_model_class

from opendmp.fhir.capability import (
    INSTANTIATES,
    RouteSpec,
    SearchParam,
    capability_statement,
    operation,
)
from opendmp.web.route_table import served_routes

BASE = "https://dmp.example/fhir"


@pytest.mark.parametrize("profile", ["dmp", "mhd"])
def test_capability_statement_validates_and_declares_the_dmp_operations(profile: str) -> None:
    statement = capability_statement(served_routes(), BASE, profile, released=date(2026, 3, 1))
    get_fhir_model_class("CapabilityStatement").model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    assert statement["instantiates"] == list(INSTANTIATES)
    rest = statement["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    patient_operations = {o["name"]: o["definition"] for o in by_type["Patient"]["operation"]}
    assert patient_operations == {
        "dmp-open": "https://opendmp.org/fhir/OperationDefinition/dmp-open",
        "dmp-close": "https://opendmp.org/fhir/OperationDefinition/dmp-close",
        "dmp-reopen": "https://opendmp.org/fhir/OperationDefinition/dmp-reopen",
        "dmp-settings": "https://opendmp.org/fhir/OperationDefinition/dmp-settings",
        "everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    }
    assert {o["name"] for o in by_type["DocumentReference"]["operation"]} == {
        "meta-add",
        "meta-delete",
    }
    assert rest["interaction"][0]["code"] == "transaction"
    assert "patch" in {i["code"] for i in by_type["DocumentReference"]["interaction"]}
    search = {p["name"] for p in by_type["DocumentReference"]["searchParam"]}
    assert {"patient", "patient.identifier", "security-label", "author.identifier"} <= search


def test_declares_exactly_the_routes_given() -> None:
    """What is declared is what the web layer serves: the statement follows the table."""
    routes = [
        RouteSpec(
            "Binary",
            interactions=("read",),
            search_params=(SearchParam("_id", "token"),),
            operations=(operation("custom-op", "doc"),),
        )
    ]
    statement = capability_statement(routes, BASE, "mhd", released=date(2026, 3, 1))
    (resource,) = statement["rest"][0]["resource"]
    assert resource == {
        "type": "Binary",
        "interaction": [{"code": "read"}],
        "searchParam": [{"name": "_id", "type": "token"}],
        "operation": [
            {
                "name": "custom-op",
                "definition": "https://opendmp.org/fhir/OperationDefinition/custom-op",
                "documentation": "doc",
            }
        ],
    }
    assert "interaction" not in statement["rest"][0]
