"""Document and submission-set authors ↔ FHIR (PDSm author slices, MHD 4.2 author mapping).

XDS author = authorPerson (IDNPS) + authorInstitution (IDNST) + authorRole/Specialty; in
FHIR a contained Practitioner, PractitionerRole (practitioner + organization + specialty),
Organization, Patient or Device (dmp-rules §4.1). An author is metadata, never a credential
(API.md §10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opendmp.domain.documents import Author, AuthorKind
from opendmp.domain.identifiers import INS_SYSTEMS, OID_IDNPS, OID_IDNST, OID_INS_NIR, Ins, bare_oid
from opendmp.fhir.datatypes import (
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    as_dict,
    as_list,
    concept_json,
    first_coding,
    human_name,
    oid_uri,
    professional_id,
    structure_id,
    text,
)
from opendmp.fhir.references import (
    ParsedReference,
    ReferenceKind,
    ins_from_identifiers,
    parse_reference,
)

AUTHOR_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Patient", "Device")

# Resolves a reference string found in `container` to a resource of the request (a contained
# resource or a Bundle entry), or None when it points outside the request.
Lookup = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def author_from(
    reference: dict[str, Any], container: dict[str, Any], lookup: Lookup, base_url: str
) -> Author | None:
    """The Author a Reference names, or None when it cannot name one of AUTHOR_TYPES."""
    raw = text(reference.get("reference"))
    display = text(reference.get("display"))
    if not raw:
        return _logical(reference, display)
    resolved = lookup(raw, container)
    if resolved is not None:
        return _resolved(resolved, container, lookup, base_url)
    parsed = parse_reference(raw, base_url)
    if parsed.kind is ReferenceKind.REMOTE:
        parsed = _remote_tail(parsed)
    if parsed.kind is not ReferenceKind.LOCAL:
        return None
    return _by_id(parsed.resource_type, parsed.id, display)


def _remote_tail(parsed: ParsedReference) -> ParsedReference:
    parts = parsed.raw.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in AUTHOR_TYPES:
        return ParsedReference(ReferenceKind.LOCAL, parsed.raw, parts[-2], parts[-1])
    return parsed


def _by_id(resource_type: str, resource_id: str, display: str) -> Author | None:
    """`Practitioner/<IDNPS>` and `Organization/<IDNST>`: ids are the national ids (API.md)."""
    kinds = {
        "Practitioner": AuthorKind.PROFESSIONAL,
        "PractitionerRole": AuthorKind.PROFESSIONAL,
        "Organization": AuthorKind.ORGANIZATION,
        "Patient": AuthorKind.PATIENT,
        "Device": AuthorKind.DEVICE,
    }
    kind = kinds.get(resource_type)
    if kind is None:
        return None
    keeps_id = resource_type in ("Practitioner", "Organization", "Device")
    return Author(kind=kind, id=resource_id if keeps_id else "", name=display)


def _logical(reference: dict[str, Any], display: str) -> Author | None:
    identifier = as_dict(reference.get("identifier"))
    system = bare_oid(text(identifier.get("system")))
    value = text(identifier.get("value"))
    declared = text(reference.get("type"))
    if not value:
        return None
    if system == OID_IDNPS or declared in ("Practitioner", "PractitionerRole"):
        return Author(AuthorKind.PROFESSIONAL, professional_id([identifier]), display)
    if system == OID_IDNST or declared == "Organization":
        return Author(AuthorKind.ORGANIZATION, value, display)
    if system in INS_SYSTEMS or declared == "Patient":
        return Author(AuthorKind.PATIENT, value, display)
    if declared == "Device":
        return Author(AuthorKind.DEVICE, value, display)
    return None


def _resolved(
    resource: dict[str, Any], container: dict[str, Any], lookup: Lookup, base_url: str
) -> Author | None:
    kind = resource.get("resourceType")
    identifiers = as_list(resource.get("identifier"))
    if kind == "Practitioner":
        return Author(
            AuthorKind.PROFESSIONAL, professional_id(identifiers), human_name(resource.get("name"))
        )
    if kind == "Organization":
        return Author(
            AuthorKind.ORGANIZATION, structure_id(identifiers), text(resource.get("name"))
        )
    if kind == "Patient":
        ins = ins_from_identifiers(identifiers, any_system=True)
        return Author(
            AuthorKind.PATIENT, ins.value if ins else "", human_name(resource.get("name"))
        )
    if kind == "Device":
        names = [text(as_dict(n).get("name")) for n in as_list(resource.get("deviceName"))]
        device_id = next((text(as_dict(i).get("value")) for i in identifiers), "")
        return Author(AuthorKind.DEVICE, device_id, next((n for n in names if n), ""))
    if kind == "PractitionerRole":
        return _role(resource, container, lookup, base_url)
    return None


def _role(role: dict[str, Any], container: dict[str, Any], lookup: Lookup, base_url: str) -> Author:
    """A PractitionerRole: the practitioner's IDNPS, its organization's IDNST, its specialty."""
    practitioner = author_from(as_dict(role.get("practitioner")), container, lookup, base_url)
    organization = author_from(as_dict(role.get("organization")), container, lookup, base_url)
    person_id = practitioner.id if practitioner else ""
    if not person_id:
        person_id = professional_id(as_list(role.get("identifier")))
    specialty = as_list(role.get("specialty")) or as_list(role.get("code"))
    return Author(
        AuthorKind.PROFESSIONAL,
        person_id,
        practitioner.name if practitioner else "",
        institution=organization.id if organization and organization.id else None,
        role=first_coding(specialty[0]) if specialty else None,
    )


def with_institution(author: Author, organization: Author | None) -> Author:
    """MHD `ihe-authorOrg` on List.source: the author's institution (authorInstitution)."""
    if organization is None or not organization.id or author.institution:
        return author
    if author.kind is AuthorKind.ORGANIZATION and not author.id:
        return Author(AuthorKind.ORGANIZATION, organization.id, organization.name)
    return Author(author.kind, author.id, author.name, organization.id, author.role)


def _identifier(system: str, value: str) -> list[dict[str, str]]:
    return [{"system": system, "value": value}] if value else []


def contained_author(
    author: Author, key: str, *, subject: Ins | None = None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The contained resources for one author and the Reference to put in `author`/`source`."""
    if author.kind is AuthorKind.ORGANIZATION:
        org: dict[str, Any] = {"resourceType": "Organization", "id": key}
        org |= {"identifier": _identifier(IDNST_SYSTEM, author.id)} if author.id else {}
        org |= {"name": author.name} if author.name else {}
        return [org], {"reference": f"#{key}"}
    if author.kind is AuthorKind.PATIENT:
        system = subject.system if subject and subject.value == author.id else OID_INS_NIR
        patient: dict[str, Any] = {"resourceType": "Patient", "id": key}
        patient |= {"identifier": _identifier(oid_uri(system), author.id)} if author.id else {}
        patient |= {"name": [{"text": author.name}]} if author.name else {}
        return [patient], {"reference": f"#{key}"}
    if author.kind is AuthorKind.DEVICE:
        device: dict[str, Any] = {"resourceType": "Device", "id": key}
        device |= {"identifier": [{"value": author.id}]} if author.id else {}
        if author.name:
            device["deviceName"] = [{"name": author.name, "type": "user-friendly-name"}]
        return [device], {"reference": f"#{key}"}
    person: dict[str, Any] = {"resourceType": "Practitioner", "id": key}
    person |= {"identifier": _identifier(IDNPS_SYSTEM, author.id)} if author.id else {}
    person |= {"name": [{"text": author.name}]} if author.name else {}
    if not author.institution and author.role is None:
        return [person], {"reference": f"#{key}"}
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": f"{key}-role",
        "practitioner": {"reference": f"#{key}"},
    }
    resources = [person]
    if author.institution:
        resources.append(
            {
                "resourceType": "Organization",
                "id": f"{key}-org",
                "identifier": _identifier(IDNST_SYSTEM, author.institution),
            }
        )
        role["organization"] = {"reference": f"#{key}-org"}
    if author.role is not None:
        role["specialty"] = [concept_json(author.role)]
    return [*resources, role], {"reference": f"#{key}-role"}
