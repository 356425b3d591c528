"""FHIR R4 datatypes ↔ domain values: Coding, dateTime, identifiers, XDS uniqueId (MHD 4.2 §4.5).

Inputs are JSON already checked against the FHIR structure (`validation.py`), so these
helpers only guard against absent elements, never against wrong JSON types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from opendmp.domain.documents import Coding
from opendmp.domain.identifiers import OID_IDNPS, OID_IDNST, OID_PREFIX, bare_oid

RFC3986 = "urn:ietf:rfc:3986"  # MHD: masterIdentifier / List.identifier system for URIs
IDNPS_SYSTEM = OID_PREFIX + OID_IDNPS
IDNST_SYSTEM = OID_PREFIX + OID_IDNST
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"  # IDNPS = "8" + RPPS (dmp-rules §5.3)
MHD_SD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
MHD_IDENTIFIER_TYPE = "https://profiles.ihe.net/ITI/MHD/CodeSystem/IHE.MHD.MHDIdentifierType"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
PDSM_SD = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
IS_ARCHIVED_URL = PDSM_SD + "pdsm-ext-is-archived"
DESIGNATION_TYPE_URL = MHD_SD + "ihe-designationType"
SOURCE_ID_URL = MHD_SD + "ihe-sourceId"
AUTHOR_ORG_URL = MHD_SD + "ihe-authorOrg"
OPENDMP_SD = "https://opendmp.org/fhir/StructureDefinition/"
OPENDMP_CS = "https://opendmp.org/fhir/CodeSystem/"

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_UUID_HEX = re.compile(r"[0-9a-fA-F]{32}")


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def coding(raw: object) -> Coding | None:
    """A FHIR Coding; None when it has neither system nor code."""
    item = as_dict(raw)
    system, code = text(item.get("system")), text(item.get("code"))
    if not system and not code:
        return None
    return Coding(system=system, code=code, display=text(item.get("display")))


def codings(concept: object) -> list[Coding]:
    """Every Coding of a CodeableConcept, in order."""
    found = (coding(c) for c in as_list(as_dict(concept).get("coding")))
    return [c for c in found if c is not None]


def first_coding(concept: object) -> Coding | None:
    """The CodeableConcept's coding that DOC-1 checks: the first one given (XDS has one)."""
    found = codings(concept)
    return found[0] if found else None


def coding_json(value: Coding) -> dict[str, str]:
    result = {"system": value.system, "code": value.code}
    if value.display:
        result["display"] = value.display
    return result


def concept_json(value: Coding) -> dict[str, Any]:
    return {"coding": [coding_json(value)]}


def parse_datetime(value: object) -> datetime | None:
    """A FHIR date or dateTime as an aware datetime; partial dates start their period (UTC)."""
    raw = text(value)
    if not raw:
        return None
    if len(raw) == 4:
        return datetime(int(raw), 1, 1, tzinfo=UTC)
    if len(raw) == 7:
        return datetime(int(raw[:4]), int(raw[5:7]), 1, tzinfo=UTC)
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """FHIR dateTime/instant: always with a time zone (naive values are UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.isoformat()


def format_date(value: date) -> str:
    return value.isoformat()


def oid_uri(oid: str) -> str:
    return oid if not _OID.fullmatch(oid) else OID_PREFIX + oid


def is_oid(value: str) -> bool:
    return _OID.fullmatch(value) is not None


def unique_id_from(identifier: Mapping[str, Any]) -> str:
    """XDS uniqueId of an MHD Identifier: `urn:oid:1.2` → `1.2`; other systems → `root^value`.

    ITI TF-3 4.5.1: a URI value under urn:ietf:rfc:3986 carries the OID or UUID; an OID
    system with an extension value is XDS's `root^extension`.
    """
    system, value = text(identifier.get("system")), text(identifier.get("value"))
    if not value:
        return ""
    if system and system != RFC3986 and bare_oid(system) != system:
        return f"{bare_oid(system)}^{value}"
    return value.removeprefix(OID_PREFIX)


def identifier_of_unique_id(unique_id: str) -> dict[str, str]:
    """The inverse of `unique_id_from` (MHD masterIdentifier / List.identifier)."""
    if "^" in unique_id:
        root, _, extension = unique_id.partition("^")
        return {"system": oid_uri(root), "value": extension}
    return {"system": RFC3986, "value": oid_uri(unique_id)}


def uuid_urn(entity_id: str) -> str | None:
    """`urn:uuid:` form of an entryUUID, when the id is a UUID (32 hex, with or without -)."""
    compact = entity_id.replace("-", "")
    if not _UUID_HEX.fullmatch(compact):
        return None
    c = compact.lower()
    return f"urn:uuid:{c[:8]}-{c[8:12]}-{c[12:16]}-{c[16:20]}-{c[20:]}"


def extensions(element: Mapping[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in as_list(element.get("extension")) if as_dict(e).get("url") == url]


def extension_value(element: Mapping[str, Any], url: str, value_key: str) -> Any:
    for ext in extensions(element, url):
        if value_key in ext:
            return ext[value_key]
    return None


def professional_id(identifiers: Iterable[Any]) -> str:
    """IDNPS of a Practitioner(Role): the 1.2.250.1.71.4.2.1 value, else `8` + RPPS."""
    found = [as_dict(i) for i in identifiers]
    for item in found:
        if bare_oid(text(item.get("system"))) == OID_IDNPS and text(item.get("value")):
            return text(item.get("value"))
    for item in found:
        if text(item.get("system")) == RPPS_SYSTEM and text(item.get("value")):
            return "8" + text(item.get("value"))
    return next((text(i.get("value")) for i in found if text(i.get("value"))), "")


def structure_id(identifiers: Iterable[Any]) -> str:
    """IDNST of an Organization: the 1.2.250.1.71.4.2.2 value, else the first identifier."""
    found = [as_dict(i) for i in identifiers]
    for item in found:
        if bare_oid(text(item.get("system"))) == OID_IDNST and text(item.get("value")):
            return text(item.get("value"))
    return next((text(i.get("value")) for i in found if text(i.get("value"))), "")


def human_name(names: object) -> str:
    """A display name from HumanName[]: its text, else given + family of the first name."""
    for raw in as_list(names):
        name = as_dict(raw)
        if text(name.get("text")):
            return text(name.get("text"))
        parts = [text(g) for g in as_list(name.get("given"))] + [text(name.get("family"))]
        joined = " ".join(p for p in parts if p)
        if joined:
            return joined
    return ""
