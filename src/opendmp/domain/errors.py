"""Domain errors with stable codes (API.md §21): one code per failure that support can grep.

The edge (FHIR, portals, CLI) maps `ErrorKind` to an HTTP status and an OperationOutcome;
nothing here knows HTTP.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What kind of failure; the edge maps each to one HTTP status (API.md, Basics)."""

    INVALID = "invalid"  # 400: malformed request
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403: refused at record level (API.md §6)
    NOT_FOUND = "not-found"  # 404: unknown, or not visible to this caller
    CONFLICT = "conflict"  # 409: already exists, concurrent change
    TOO_LARGE = "too-large"  # 413 (SEC-3)
    BUSINESS_RULE = "business-rule"  # 422: invalid INS key, record closed, bad code…


class DmpError(Exception):
    """A failure with a stable code, the rule that caused it and, when known, the element path."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(
        self,
        code: str,
        message: str,
        *,
        rule: str | None = None,
        path: str | None = None,
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.rule = rule
        self.path = path
        if kind is not None:
            self.kind = kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, rule={self.rule!r})"


class InvalidRequest(DmpError):
    kind = ErrorKind.INVALID


class Forbidden(DmpError):
    kind = ErrorKind.FORBIDDEN


class NotFound(DmpError):
    kind = ErrorKind.NOT_FOUND


class Conflict(DmpError):
    kind = ErrorKind.CONFLICT


class TooLarge(DmpError):
    kind = ErrorKind.TOO_LARGE


class BusinessRuleViolation(DmpError):
    kind = ErrorKind.BUSINESS_RULE


class ValidationFailed(BusinessRuleViolation):
    """Several problems found at once (DOC-1: report every issue, each with its path)."""

    def __init__(self, issues: list[DmpError]) -> None:
        first = issues[0]
        super().__init__(first.code, first.message, rule=first.rule, path=first.path)
        self.issues = issues
