"""FHIR structure validation with `fhir.resources` (R4B models) and issue collection (DOC-1).

The R4B models check element names, datatypes and base cardinalities; every failure is
reported with its FHIRPath (`Bundle.entry[2].resource.content[0].attachment.size`) so a
client sees every problem at once (API.md §25). Structure errors are 400 (FHIR "could not
be parsed or failed basic FHIR validation"); profile and business rules are 422.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pydantic
from fhir.resources.R4B import get_fhir_model_class

from opendmp.domain.errors import (
    BusinessRuleViolation,
    DmpError,
    ErrorKind,
    InvalidRequest,
    ValidationFailed,
)

_ELEMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

NOT_A_RESOURCE = "DMP-0601"
BAD_STRUCTURE = "DMP-0602"


def fhirpath(root: str, loc: tuple[int | str, ...]) -> str:
    """FHIRPath of a pydantic error location under `root` (internal validator names dropped)."""
    path = root
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
        elif _ELEMENT.fullmatch(item):
            path += f".{item}"
    return path


def structure_issues(resource: object, *, path: str, expected: str | None = None) -> list[DmpError]:
    """Every FHIR structure problem of one resource, each at its path (400)."""
    if not isinstance(resource, Mapping):
        return [InvalidRequest(NOT_A_RESOURCE, f"{path} must be a FHIR resource", path=path)]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return [
            InvalidRequest(NOT_A_RESOURCE, f"{path}.resourceType is missing", path=path),
        ]
    if expected is not None and resource_type != expected:
        return [
            InvalidRequest(
                NOT_A_RESOURCE,
                f"{path} must be a {expected}, not a {resource_type}",
                path=f"{path}.resourceType",
            )
        ]
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return [
            InvalidRequest(
                NOT_A_RESOURCE,
                f"{path}: unknown FHIR R4 resource type {resource_type!r}",
                path=f"{path}.resourceType",
            )
        ]
    try:
        model.model_validate(dict(resource))
    except pydantic.ValidationError as exc:
        return [_issue(path, error) for error in exc.errors()]
    except (KeyError, ValueError, TypeError) as exc:  # e.g. an unknown contained resourceType
        return [InvalidRequest(BAD_STRUCTURE, f"{path}: {exc}", path=path)]
    return []


def _issue(root: str, error: Any) -> DmpError:
    where = fhirpath(root, tuple(error.get("loc", ())))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return InvalidRequest(BAD_STRUCTURE, f"{where}: {message}", path=where)


class Issues:
    """Collects every problem of a request, then raises them together (DOC-1, API.md §25)."""

    def __init__(self) -> None:
        self.errors: list[DmpError] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def extend(self, errors: list[DmpError]) -> None:
        self.errors.extend(errors)

    def invalid(self, code: str, message: str, path: str, *, rule: str | None = None) -> None:
        """A request the FHIR rules reject (400)."""
        self.errors.append(InvalidRequest(code, message, path=path, rule=rule))

    def rule(self, code: str, message: str, path: str, *, rule: str | None = None) -> None:
        """A profile or business rule the request breaks (422)."""
        self.errors.append(BusinessRuleViolation(code, message, path=path, rule=rule))

    def raise_if_any(self) -> None:
        if self.errors:
            raise failure(self.errors)


def failure(errors: list[DmpError]) -> ValidationFailed:
    """One error with every issue; 400 if any issue is a syntax error, else 422."""
    error = ValidationFailed(errors)
    if any(e.kind is ErrorKind.INVALID for e in errors):
        error.kind = ErrorKind.INVALID
    return error
