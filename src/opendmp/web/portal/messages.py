"""Domain errors as sentences a person understands, in French or English (STYLE.md: the
portals map the same stable codes as the FHIR edge, API.md §21).

Each code has its own message when the catalog has one (`error.DMP-0412`), else the message
of its kind (`error.kind.forbidden`); the code and the deciding rule are always shown, so
that support can find the case. DOC-1 issues name the form field, not the FHIR path.
"""

from __future__ import annotations

from dataclasses import dataclass

from opendmp.adapters.tokens import TokenError
from opendmp.domain.errors import DmpError, ErrorKind, ValidationFailed
from opendmp.domain.metadata import DocumentPath
from opendmp.web.portal.i18n import Translator

STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.BUSINESS_RULE: 422,
}

_FIELDS = {  # DOC-1 paths → the form's field (catalog key `field.<name>`)
    DocumentPath.TYPE: "type",
    DocumentPath.CATEGORY: "type",
    DocumentPath.DATE: "date",
    DocumentPath.AUTHOR: "author",
    DocumentPath.CUSTODIAN: "custodian",
    DocumentPath.CONTENT_TYPE: "file",
    DocumentPath.SIZE: "file",
    DocumentPath.HASH: "file",
    DocumentPath.TITLE: "title",
    DocumentPath.LANGUAGE: "language",
    DocumentPath.FORMAT: "format",
    DocumentPath.FACILITY_TYPE: "facility",
    DocumentPath.PRACTICE_SETTING: "setting",
    DocumentPath.PERIOD_START: "date",
}


@dataclass(frozen=True)
class Problem:
    """One thing that went wrong, ready for the page."""

    status: int
    message: str
    code: str
    rule: str
    details: tuple[str, ...] = ()


def _field_of(path: str | None) -> str | None:
    if not path:
        return None
    relative = path.split(".resource.", 1)[-1]
    if not relative.startswith("DocumentReference"):
        relative = "DocumentReference." + relative.split(".", 1)[-1]
    for document_path, name in _FIELDS.items():
        if relative.startswith(document_path.value):
            return name
    return None


def _one(t: Translator, error: DmpError) -> str:
    key = f"error.{error.code}"
    if error.kind is ErrorKind.NOT_FOUND:  # API.md §6: never say why
        key = "error.DMP-0404"
    if t.has(key):
        return t(key)
    return t(f"error.kind.{error.kind.value}")


def problem_of(t: Translator, error: DmpError) -> Problem:
    status = STATUS.get(error.kind, 400)
    if isinstance(error, TokenError):
        return Problem(401, t("error.signin.token"), error.code, "SEC-2")
    details: list[str] = []
    if isinstance(error, ValidationFailed):
        for issue in error.issues:
            field = _field_of(issue.path)
            where = t(f"field.{field}") if field else (issue.path or "")
            details.append(t("error.issue", where=where, message=_one(t, issue), code=issue.code))
    rule = "" if error.kind is ErrorKind.NOT_FOUND else (error.rule or "")
    return Problem(status, _one(t, error), error.code, rule, tuple(details))
