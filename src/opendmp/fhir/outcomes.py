"""The one table from domain errors to HTTP status and FHIR OperationOutcome (API.md Basics, §21).

Every refusal the services raise is a `DmpError` with a stable code (`DMP-0412`), the deciding
rule (`R-PS-1`) and, when known, the element path; this module is the only place that turns
them into `(status, OperationOutcome)`. Warnings (API.md §16) use the same issue shape with
`severity: warning`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opendmp.domain.errors import DmpError, ErrorKind, ValidationFailed

OUTCOME_SYSTEM = "https://opendmp.org/fhir/CodeSystem/outcome"


@dataclass(frozen=True, slots=True)
class OutcomeMapping:
    status: int
    issue_code: str  # http://hl7.org/fhir/issue-type


OUTCOMES: dict[ErrorKind, OutcomeMapping] = {
    ErrorKind.INVALID: OutcomeMapping(400, "invalid"),
    ErrorKind.UNAUTHENTICATED: OutcomeMapping(401, "login"),
    ErrorKind.FORBIDDEN: OutcomeMapping(403, "forbidden"),
    ErrorKind.NOT_FOUND: OutcomeMapping(404, "not-found"),
    ErrorKind.CONFLICT: OutcomeMapping(409, "conflict"),
    ErrorKind.TOO_LARGE: OutcomeMapping(413, "too-costly"),
    ErrorKind.BUSINESS_RULE: OutcomeMapping(422, "business-rule"),
}


def status_of(error: DmpError) -> int:
    return OUTCOMES[error.kind].status


def issue(
    code: str,
    message: str,
    *,
    issue_code: str,
    severity: str = "error",
    rule: str | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """One OperationOutcome.issue: stable code in details.coding, rule id in details.text."""
    details: dict[str, Any] = {"coding": [{"system": OUTCOME_SYSTEM, "code": code}]}
    if rule:
        details["text"] = rule
    result: dict[str, Any] = {
        "severity": severity,
        "code": issue_code,
        "details": details,
        "diagnostics": message,
    }
    if path:
        result["expression"] = [path]
    return result


def error_issue(error: DmpError) -> dict[str, Any]:
    return issue(
        error.code,
        error.message,
        issue_code=OUTCOMES[error.kind].issue_code,
        rule=error.rule,
        path=error.path,
    )


def errors_of(error: DmpError) -> list[DmpError]:
    """A ValidationFailed carries every issue (DOC-1); any other error is its own issue."""
    if isinstance(error, ValidationFailed):
        return list(error.issues)
    return [error]


def operation_outcome(error: DmpError) -> tuple[int, dict[str, Any]]:
    """API.md Basics, §21: the HTTP status of the error's kind and its OperationOutcome."""
    issues = [error_issue(each) for each in errors_of(error)]
    return status_of(error), {"resourceType": "OperationOutcome", "issue": issues}


def warning_issue(
    code: str,
    message: str,
    *,
    rule: str | None = None,
    path: str | None = None,
    issue_code: str = "informational",
) -> dict[str, Any]:
    """API.md §16: an accepted problem (a code from an incomplete table, an ignored Folder)."""
    return issue(code, message, issue_code=issue_code, severity="warning", rule=rule, path=path)


def warnings_outcome(issues: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """An OperationOutcome of warning issues, or None when there are none."""
    found = list(issues)
    if not found:
        return None
    return {"resourceType": "OperationOutcome", "issue": found}


def information_outcome(message: str) -> dict[str, Any]:
    """A success carrying only a human message (e.g. an empty DELETE response)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": message}],
    }


def internal_error_outcome(request_id: str = "") -> tuple[int, dict[str, Any]]:
    """An unexpected failure: 500 with no detail that could leak data (SEC-4)."""
    message = "internal error"
    if request_id:
        message += f"; request id {request_id}"
    return 500, {
        "resourceType": "OperationOutcome",
        "issue": [
            issue("DMP-0500", message, issue_code="exception"),
        ],
    }
