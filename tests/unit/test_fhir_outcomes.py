"""The one table from domain errors to HTTP status and OperationOutcome (API.md Basics, §21)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B import get_fhir_model_class

from opendmp.domain.errors import (
    BusinessRuleViolation,
    Conflict,
    DmpError,
    ErrorKind,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooLarge,
    ValidationFailed,
)
from opendmp.fhir.outcomes import (
    OUTCOME_SYSTEM,
    OUTCOMES,
    internal_error_outcome,
    operation_outcome,
    warning_issue,
    warnings_outcome,
)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        pytest.param(InvalidRequest("DMP-0621", "bad date"), 400, "invalid", id="invalid-400"),
        pytest.param(
            DmpError("DMP-0001", "no token", kind=ErrorKind.UNAUTHENTICATED),
            401,
            "login",
            id="unauthenticated-401",
        ),
        pytest.param(
            Forbidden("DMP-0412", "blocked", rule="R-PS-1"), 403, "forbidden", id="R-PS-1-403"
        ),
        pytest.param(NotFound("DMP-0404", "no such document"), 404, "not-found", id="404"),
        pytest.param(Conflict("DMP-0409", "exists"), 409, "conflict", id="409"),
        pytest.param(TooLarge("DMP-0482", "too big", rule="SEC-3"), 413, "too-costly", id="SEC-3"),
        pytest.param(
            BusinessRuleViolation("DMP-0102", "bad INS key", rule="ID-1"),
            422,
            "business-rule",
            id="ID-1-422",
        ),
    ],
)
def test_error_kind_maps_to_status_and_issue_code(error: DmpError, status: int, code: str) -> None:
    got_status, outcome = operation_outcome(error)
    assert got_status == status
    (issue,) = outcome["issue"]
    assert issue["severity"] == "error" and issue["code"] == code
    assert issue["details"]["coding"] == [{"system": OUTCOME_SYSTEM, "code": error.code}]
    assert issue["diagnostics"] == error.message
    get_fhir_model_class("OperationOutcome").model_validate(outcome)


def test_every_error_kind_has_a_mapping() -> None:
    assert set(OUTCOMES) == set(ErrorKind)


def test_api21_rule_in_details_text_and_path_in_expression() -> None:
    """API.md §21: details.coding = stable code, details.text = the deciding rule."""
    error = BusinessRuleViolation(
        "DMP-0202", "unknown code", rule="DOC-1", path="Bundle.entry[1].resource.type"
    )
    _, outcome = operation_outcome(error)
    issue = outcome["issue"][0]
    assert issue["details"]["text"] == "DOC-1"
    assert issue["expression"] == ["Bundle.entry[1].resource.type"]


def test_doc1_validation_failed_yields_one_issue_per_error() -> None:
    """DOC-1: every problem reported; each issue keeps its own code, kind and path."""
    failure = ValidationFailed(
        [
            BusinessRuleViolation("DMP-0201", "type is required", rule="DOC-1", path="A.type"),
            InvalidRequest("DMP-0608", "bad base64", path="A.data"),
        ]
    )
    status, outcome = operation_outcome(failure)
    assert status == 422
    assert [(i["code"], i["expression"]) for i in outcome["issue"]] == [
        ("business-rule", ["A.type"]),
        ("invalid", ["A.data"]),
    ]


def test_api16_warnings_are_issues_with_severity_warning() -> None:
    outcome = warnings_outcome(
        [warning_issue("DMP-0203", "unlisted code, accepted", rule="DOC-1", path="X.y")]
    )
    assert outcome is not None
    assert outcome["issue"][0]["severity"] == "warning"
    get_fhir_model_class("OperationOutcome").model_validate(outcome)
    assert warnings_outcome([]) is None


def test_internal_error_says_nothing_but_the_request_id() -> None:
    """SEC-4: an unexpected failure leaks no data."""
    status, outcome = internal_error_outcome("req-42")
    assert status == 500
    assert outcome["issue"][0]["diagnostics"] == "internal error; request id req-42"
