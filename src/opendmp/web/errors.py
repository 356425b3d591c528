"""Every failure as an OperationOutcome with the status that fits (API.md Basics, §6, §21).

Domain errors go through the one table of `fhir.outcomes`; this module adds what only HTTP
knows: the 401 challenge, the neutral 404, malformed requests and unknown URLs. A 404 never
says why (API.md §6, §20, docs/access-policy.md "Refusal codes"): a hidden document and an
unknown one answer the same code and text, without the deciding rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from opendmp.domain.errors import Conflict, DmpError, ErrorKind, TooLarge
from opendmp.fhir.outcomes import internal_error_outcome, issue, operation_outcome
from opendmp.web.responses import FhirResponse

# Codes of the HTTP edge (docs/api.md, "Error codes").
NOT_JSON = "DMP-0801"
BAD_MEDIA_TYPE = "DMP-0802"
BODY_TOO_LARGE = "DMP-0803"
UNKNOWN_URL = "DMP-0804"
METHOD_NOT_ALLOWED = "DMP-0805"
BAD_PARAMETER = "DMP-0806"
VERSION_MISMATCH = "DMP-0807"
BAD_PATIENT_SEARCH = "DMP-0808"
DATABASE_UNAVAILABLE = "DMP-0809"

HIDDEN = "not found (unknown, or not visible to this caller)"
CHALLENGE = 'Bearer realm="OpenDMP"'


class PreconditionFailed(Conflict):
    """`If-Match` names another version than the current one (412, API.md Basics)."""

    def __init__(self, message: str) -> None:
        super().__init__(VERSION_MISMATCH, message)


def body_too_large(limit: int) -> TooLarge:
    return TooLarge(
        BODY_TOO_LARGE, f"the request body exceeds {limit} bytes", rule="SEC-3", path="Request"
    )


def outcome_of(error: DmpError) -> tuple[int, dict[str, Any]]:
    """The status and OperationOutcome of a domain error; 404s made neutral (API.md §6)."""
    status, outcome = operation_outcome(error)
    if status == 404:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [issue("DMP-0404", HIDDEN, issue_code="not-found")],
        }
    if error.code == VERSION_MISMATCH:
        status = 412
    return status, outcome


def error_response(request: Request, error: DmpError) -> Response:
    status, outcome = outcome_of(error)
    headers = {}
    if error.kind is ErrorKind.UNAUTHENTICATED:
        given = "authorization" in request.headers
        headers["WWW-Authenticate"] = CHALLENGE + (', error="invalid_token"' if given else "")
    return FhirResponse(outcome, status_code=status, headers=headers)


def internal_error_response(request_id: str) -> Response:
    """500 with the request id and nothing else (SEC-4: no stack trace, no data)."""
    status, outcome = internal_error_outcome(request_id)
    return FhirResponse(outcome, status_code=status)


async def _on_dmp_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DmpError)
    return error_response(request, error)


async def _on_validation_error(request: Request, error: Exception) -> Response:
    """FastAPI's own request validation (a parameter of the wrong type): 400, values not echoed."""
    assert isinstance(error, RequestValidationError)
    issues = [
        issue(
            BAD_PARAMETER,
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', 'invalid')}",
            issue_code="invalid",
        )
        for item in error.errors()
    ] or [issue(BAD_PARAMETER, "invalid request", issue_code="invalid")]
    return FhirResponse({"resourceType": "OperationOutcome", "issue": issues}, status_code=400)


async def _on_http_error(request: Request, error: Exception) -> Response:
    """Unknown URL (404), method not allowed (405), and any other HTTP error of the framework."""
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    if status == 404:
        code, text, kind = UNKNOWN_URL, "no such URL on this server", "not-found"
    elif status == 405:
        code, text, kind = METHOD_NOT_ALLOWED, "method not allowed on this URL", "not-supported"
    else:
        code, text, kind = BAD_PARAMETER, str(error.detail)[:200], "invalid"
    outcome = {"resourceType": "OperationOutcome", "issue": [issue(code, text, issue_code=kind)]}
    return FhirResponse(outcome, status_code=status, headers=dict(error.headers or {}))


async def _on_database_unavailable(request: Request, error: Exception) -> Response:
    """The database is down or dropped the connection: 503 and retry (the pool reconnects).

    A unit of work cut off before its commit wrote nothing; a bundle sent again after an
    unanswered commit is refused as a duplicate uniqueId, never stored twice (DOC-1)."""
    text = "the database is unavailable; retry the request"
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [issue(DATABASE_UNAVAILABLE, text, severity="error", issue_code="transient")],
    }
    return FhirResponse(outcome, status_code=503, headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DmpError, _on_dmp_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_unavailable)
