"""Reading a transaction Bundle: its entries, references, authors and patients (FHIR R4 §2.36).

`BundleReader` holds what every part of the ITI-65 parser shares: the entries by fullUrl,
the issues found so far, the deployment and metadata profiles, and the entry plans from
which the transaction-response is built (one per request entry, in order).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opendmp.domain.documents import Author
from opendmp.domain.identifiers import Ins
from opendmp.domain.metadata import MetadataIssue, MetadataProfile, Severity
from opendmp.fhir import authors as author_map
from opendmp.fhir.datatypes import as_dict, as_list, structure_id, text
from opendmp.fhir.references import (
    PatientRef,
    ReferenceKind,
    conditional_identifier,
    ins_from_identifiers,
    ins_of,
    parse_reference,
)
from opendmp.fhir.validation import Issues

RULE = "DOC-1"


class EntryKind(StrEnum):
    SUBMISSION_SET = "submission-set"
    DOCUMENT = "document"
    BINARY = "binary"
    FOLDER = "folder"  # ignored, with a warning
    PATIENT = "patient"  # the subject, matched by its INS; never created
    SUPERSEDE = "supersede"  # MHD UpdateDocumentRefs: the replaced document → superseded


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """What the transaction-response says for one request entry, in request order."""

    kind: EntryKind
    index: int
    full_url: str
    document: int | None = None  # position in the command's documents (DOCUMENT, BINARY)
    target: str = ""  # SUPERSEDE: id of the replaced DocumentReference
    notes: tuple[MetadataIssue, ...] = ()  # warnings for this entry's response.outcome


def note(code: str, message: str, path: str) -> MetadataIssue:
    """A warning of the ITI-65 edge, returned in the entry's response.outcome (API.md §16)."""
    return MetadataIssue(Severity.WARNING, code, message, path, rule="ITI-65")


class BundleReader:
    def __init__(self, bundle: dict[str, Any], profile: MetadataProfile, base_url: str) -> None:
        self.bundle = bundle
        self.profile = profile  # the deployment's: dmp | mhd
        self.metadata_profile = profile  # the Bundle's: dmp | mhd | mhd-minimal
        self.base_url = base_url.rstrip("/")
        self.issues = Issues()
        self.entries = [as_dict(e) for e in as_list(bundle.get("entry"))]
        self.by_url: dict[str, int] = {}
        self.plans: dict[int, EntryPlan] = {}
        self.binary_users: dict[int, int] = {}  # Binary entry index → first document position
        self.any_system = profile is not MetadataProfile.DMP  # SPEC.md §10 `mhd`

    def resource(self, index: int) -> dict[str, Any]:
        return as_dict(self.entries[index].get("resource"))

    def full_url(self, index: int) -> str:
        return text(self.entries[index].get("fullUrl"))

    def index_urls(self) -> None:
        for index in range(len(self.entries)):
            path = f"Bundle.entry[{index}].fullUrl"
            full_url = self.full_url(index)
            if not full_url:
                self.issues.rule("DMP-0615", "every entry needs a fullUrl", path, rule="ITI-65")
            elif full_url in self.by_url:
                self.issues.rule("DMP-0615", f"fullUrl {full_url} appears twice", path)
            else:
                self.by_url[full_url] = index

    # --- references ---------------------------------------------------------------------

    def lookup(self, reference: str, container: dict[str, Any]) -> dict[str, Any] | None:
        """A contained resource (`#id`) or a Bundle entry (by fullUrl); None otherwise."""
        if reference.startswith("#"):
            for contained in as_list(container.get("contained")):
                if as_dict(contained).get("id") == reference[1:]:
                    return as_dict(contained)
            return None
        index = self.by_url.get(reference)
        return self.resource(index) if index is not None else None

    def is_internal(self, reference: str) -> bool:
        kind = parse_reference(reference, self.base_url).kind
        return kind in (ReferenceKind.CONTAINED, ReferenceKind.URN) or reference in self.by_url

    # --- authors and custodian ----------------------------------------------------------

    def authors(
        self, references: list[Any], container: dict[str, Any], path: str
    ) -> tuple[Author, ...]:
        found = (
            self.author(as_dict(r), container, f"{path}[{k}]") for k, r in enumerate(references)
        )
        return tuple(a for a in found if a is not None)

    def author(
        self, reference: dict[str, Any], container: dict[str, Any], path: str
    ) -> Author | None:
        raw = text(reference.get("reference"))
        if raw and self.is_internal(raw) and self.lookup(raw, container) is None:
            self.issues.rule(
                "DMP-0606", f"reference {raw} does not resolve in the request", path, rule=RULE
            )
            return None
        author = author_map.author_from(reference, container, self.lookup, self.base_url)
        if author is None:
            self.issues.rule(
                "DMP-0619",
                "an author is a Practitioner, PractitionerRole, Organization, Patient or Device",
                path,
                rule=RULE,
            )
        return author

    def custodian(self, reference: dict[str, Any], container: dict[str, Any]) -> str | None:
        """custodian: the IDNST of the Organization (PDSm), by identifier or reference."""
        if not reference:
            return None
        identifier = as_dict(reference.get("identifier"))
        if identifier:
            return structure_id([identifier]) or None
        raw = text(reference.get("reference"))
        resolved = self.lookup(raw, container)
        if resolved is not None:
            return structure_id(as_list(resolved.get("identifier"))) or None
        parsed = parse_reference(raw, self.base_url)
        return parsed.id if parsed.resource_type == "Organization" and parsed.id else None

    # --- patient ------------------------------------------------------------------------

    def subject(self, value: object, path: str, container: dict[str, Any]) -> PatientRef | None:
        """API.md §14: `Patient/<id>`, this server's URL, a conditional or logical INS."""
        reference = as_dict(value)
        if not reference:
            return None
        ins = None
        identifier = as_dict(reference.get("identifier"))
        if identifier:
            system, value_ = text(identifier.get("system")), text(identifier.get("value"))
            ins = ins_of(system, value_, any_system=self.any_system)
            if ins is None:
                self.issues.rule(
                    "DMP-0609",
                    "subject.identifier must be the patient's INS (urn:oid:1.2.250.1.213.1.4.8, "
                    ".9, .10 or .11)",
                    f"{path}.identifier",
                    rule="ID-2",
                )
        raw = text(reference.get("reference"))
        if not raw:
            return PatientRef(ins=ins)
        record_id, by_reference = self._patient_reference(raw, path, container)
        if ins is not None and by_reference is not None and ins.value != by_reference.value:
            self.issues.rule(
                "DMP-0610", "subject reference and identifier name different patients", path
            )
        return PatientRef(record_id=record_id, ins=ins or by_reference)

    def _patient_reference(
        self, raw: str, path: str, container: dict[str, Any]
    ) -> tuple[str | None, Ins | None]:
        parsed = parse_reference(raw, self.base_url)
        if parsed.kind is ReferenceKind.LOCAL and parsed.resource_type == "Patient":
            return parsed.id, None
        if parsed.kind is ReferenceKind.CONDITIONAL and parsed.resource_type == "Patient":
            token = conditional_identifier(parsed.query)
            ins = ins_of(*token, any_system=self.any_system) if token else None
            if ins is None:
                self.issues.rule(
                    "DMP-0609",
                    "a conditional subject must be Patient?identifier=<INS system>|<INS>",
                    f"{path}.reference",
                    rule="ID-2",
                )
            return None, ins
        if self.is_internal(raw):
            resource = self.lookup(raw, container)
            if resource is None:
                self.issues.rule(
                    "DMP-0606",
                    f"subject {raw} does not resolve in the request",
                    f"{path}.reference",
                )
            elif resource.get("resourceType") != "Patient":
                self.issues.rule("DMP-0609", "subject must be a Patient", f"{path}.reference")
            else:  # matched by its INS; without one no record matches and the service refuses
                identifiers = resource.get("identifier")
                return None, ins_from_identifiers(identifiers, any_system=self.any_system)
            return None, None
        self.issues.rule(
            "DMP-0609",
            f"subject {raw} must be Patient/<id> of this server or carry the INS (API.md §14)",
            f"{path}.reference",
        )
        return None, None

    def consolidate(self, named: list[tuple[str, PatientRef | None]]) -> PatientRef:
        """API.md Documents: the List and every DocumentReference name the same patient."""
        record_id = next((ref.record_id for _, ref in named if ref and ref.record_id), None)
        ins = next((ref.ins for _, ref in named if ref and ref.ins), None)
        for path, ref in named:
            if ref is None:
                if self.metadata_profile is not MetadataProfile.MHD_MINIMAL:
                    self.issues.rule("DMP-0201", f"{path} is required", path, rule=RULE)
                continue
            if (ref.record_id and ref.record_id != record_id) or (
                ref.ins and ins and ref.ins.value != ins.value
            ):
                self.issues.rule(
                    "DMP-0610",
                    "the List and every DocumentReference must name the same patient",
                    path,
                    rule=RULE,
                )
        return PatientRef(record_id=record_id, ins=ins)
