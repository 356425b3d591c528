"""FHIR references: literal, contained, bundle-internal, conditional and logical (FHIR R4 §2.3).

A patient is named by `Patient/<id>` (the record), an absolute URL on this server, a
conditional `Patient?identifier=<system>|<INS>`, or a logical `identifier` (the INS,
API.md §14); a professional by `Practitioner/<IDNPS>` (the token's `fhirUser`) or its IDNPS
identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from opendmp.domain.identifiers import INS_SYSTEMS, Ins, bare_oid
from opendmp.fhir.datatypes import as_dict, text


class ReferenceKind(StrEnum):
    CONTAINED = "contained"  # "#id"
    URN = "urn"  # "urn:uuid:…" / "urn:oid:…": a Bundle fullUrl
    LOCAL = "local"  # "Type/id" or "<this server's base>/Type/id"
    REMOTE = "remote"  # an absolute URL on another server
    CONDITIONAL = "conditional"  # "Type?search"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class ParsedReference:
    kind: ReferenceKind
    raw: str
    resource_type: str = ""
    id: str = ""
    query: str = ""


def parse_reference(raw: str, base_url: str = "") -> ParsedReference:
    """Classify a Reference.reference string; `base_url` is this server's FHIR base."""
    ref = raw.strip()
    if ref.startswith("#"):
        return ParsedReference(ReferenceKind.CONTAINED, ref, id=ref[1:])
    if ref.startswith("urn:"):
        return ParsedReference(ReferenceKind.URN, ref)
    base = base_url.rstrip("/")
    if base and ref.startswith(base + "/"):
        ref = ref[len(base) + 1 :]
    elif "://" in ref:
        return ParsedReference(ReferenceKind.REMOTE, ref)
    resource_type, sep, rest = ref.partition("?")
    if sep and resource_type.isalpha():
        return ParsedReference(ReferenceKind.CONDITIONAL, raw, resource_type, query=rest)
    parts = ref.split("/")
    is_typed = len(parts) in (2, 4) and parts[0].isalpha() and parts[0][:1].isupper()
    if is_typed and parts[1] and (len(parts) == 2 or parts[2] == "_history"):
        return ParsedReference(ReferenceKind.LOCAL, raw, parts[0], parts[1])
    return ParsedReference(ReferenceKind.INVALID, raw)


def conditional_identifier(query: str) -> tuple[str, str] | None:
    """(system, value) of a conditional reference `Type?identifier=system|value`."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    token = params.get("identifier", "")
    if len(params) != 1 or not token:
        return None
    system, sep, value = token.partition("|")
    return (system, value) if sep else ("", token)


@dataclass(frozen=True, slots=True)
class PatientRef:
    """Who a request names: a record by id, an INS, or both (to be checked for agreement)."""

    record_id: str | None = None
    ins: Ins | None = None

    @property
    def is_empty(self) -> bool:
        return self.record_id is None and self.ins is None


def ins_of(system: str, value: str, *, any_system: bool) -> Ins | None:
    """An INS (ID-2 systems), or with `any_system` (profile `mhd`) any patient identifier."""
    system, value = system.strip(), value.strip()
    if not value:
        return None
    if bare_oid(system) in INS_SYSTEMS or (any_system and system):
        return Ins(system=bare_oid(system), value=value)
    return None


def ins_from_identifiers(identifiers: object, *, any_system: bool) -> Ins | None:
    """The INS among a resource's identifiers (an INS system first, API.md §14)."""
    found = [as_dict(i) for i in identifiers] if isinstance(identifiers, list) else []
    for item in found:
        ins = ins_of(text(item.get("system")), text(item.get("value")), any_system=False)
        if ins is not None:
            return ins
    if any_system:
        for item in found:
            ins = ins_of(text(item.get("system")), text(item.get("value")), any_system=True)
            if ins is not None:
                return ins
    return None
