"""The DMP code tables, read from the package copy of `terminology/*.json` (SPEC.md DOC-1).

Each table is loaded once, lazily (no import-time state), into a frozen `ValueSet`. A code
system may be named by its FHIR URI, `urn:oid:<OID>` or the bare OID (XDS/CDA spelling): the
JSON gives `system` and `system_oid` for every concept. Provenance: `opendmp/data/PROVENANCE.md`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from opendmp.domain.documents import CONFIDENTIALITY_SYSTEM, Coding
from opendmp.domain.identifiers import OID_PREFIX

DATA_PACKAGE = "opendmp.data"
CONFIDENTIALITY_OID = "2.16.840.1.113883.5.25"
LABEL_SYSTEM_URI = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
LABEL_OID = "1.2.250.1.213.1.1.4.13"
# JDV_J58 composes N/R/V from TRE_A08, a French copy of HL7 v3 Confidentiality (table note).
_TRE_A08 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A08-HL7Confidentiality/FHIR/TRE-A08-HL7Confidentiality"
)
_EXTRA_ALIASES = {_TRE_A08: CONFIDENTIALITY_SYSTEM}
_OID = re.compile(r"[0-2](\.[0-9]+)+")


class Membership(StrEnum):
    """Is a coding in a value set (DOC-1)? UNLISTED is tolerated only for incomplete tables."""

    MEMBER = "member"
    UNLISTED = "unlisted"  # same code system as the table, code absent, table incomplete
    NOT_MEMBER = "not-member"


@dataclass(frozen=True, slots=True)
class Concept:
    """One code of a table; `properties` keeps the table-specific fields (class_code, kind…)."""

    system: str  # canonical FHIR URI
    system_oid: str | None
    code: str
    display: str
    display_en: str = ""
    properties: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def coding(self) -> Coding:
        return Coding(system=self.system, code=self.code, display=self.display)


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A code table: membership, displays, and the code systems it draws on."""

    id: str
    title: str
    is_complete: bool
    concepts: tuple[Concept, ...]
    oid: str | None = None
    url: str | None = None
    # Code systems the table draws on without listing their codes: (URI, OID) pairs.
    other_systems: tuple[tuple[str, str | None], ...] = ()
    _index: Mapping[tuple[str, str], Concept] = field(init=False, repr=False, compare=False)
    _aliases: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _systems: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases: dict[str, str] = dict(_EXTRA_ALIASES)
        pairs = [(c.system, c.system_oid) for c in self.concepts] + list(self.other_systems)
        for uri, oid in pairs:
            aliases[uri] = uri
            if oid:  # an OID, or a literal XDS name such as ASTM or URN
                aliases[oid] = uri
                if _OID.fullmatch(oid):
                    aliases[OID_PREFIX + oid] = uri
        index = {(c.system, c.code): c for c in self.concepts}
        object.__setattr__(self, "_systems", frozenset(uri for uri, _ in pairs))
        object.__setattr__(self, "_aliases", MappingProxyType(aliases))
        object.__setattr__(self, "_index", MappingProxyType(index))

    @property
    def systems(self) -> frozenset[str]:
        """The canonical URIs of the code systems the table draws on."""
        return self._systems

    def canonical_system(self, system: str) -> str | None:
        """The table's URI for `system` given as URI, `urn:oid:` OID or bare OID."""
        canonical = self._aliases.get(system.strip())
        return canonical if canonical in self.systems else None

    def lookup(self, system: str, code: str) -> Concept | None:
        canonical = self.canonical_system(system)
        if canonical is None:
            return None
        return self._index.get((canonical, code))

    def contains(self, system: str, code: str) -> bool:
        return self.lookup(system, code) is not None

    def membership(self, system: str, code: str) -> Membership:
        """DOC-1: in the table; or unlisted in a known system of an incomplete table; or not."""
        if self.contains(system, code):
            return Membership.MEMBER
        if not self.is_complete and self.canonical_system(system) is not None:
            return Membership.UNLISTED
        return Membership.NOT_MEMBER

    def display(self, code: str, system: str | None = None) -> str | None:
        """The official (French) label of `code`, in `system` if given."""
        if system is not None:
            concept = self.lookup(system, code)
            return concept.display if concept else None
        return next((c.display for c in self.concepts if c.code == code), None)

    def codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.concepts)


def _concept(raw: Mapping[str, object]) -> Concept:
    known = {"system", "system_oid", "code", "display", "display_en"}
    return Concept(
        system=str(raw["system"]),
        system_oid=str(raw["system_oid"]) if raw.get("system_oid") else None,
        code=str(raw["code"]),
        display=str(raw.get("display", "")),
        display_en=str(raw.get("display_en", "")),
        properties=MappingProxyType({k: v for k, v in raw.items() if k not in known}),
    )


def load_value_set(
    filename: str, *, other_systems: tuple[tuple[str, str | None], ...] = ()
) -> ValueSet:
    """Read one JSON table of the package (`terminology/README.md` shape)."""
    raw = json.loads(files(DATA_PACKAGE).joinpath(filename).read_text(encoding="utf-8"))
    concepts: Iterable[Mapping[str, object]] = raw["concepts"]
    return ValueSet(
        id=raw["id"],
        title=raw["title"],
        is_complete=bool(raw.get("complete", False)),
        concepts=tuple(_concept(c) for c in concepts),
        oid=raw.get("oid"),
        url=raw.get("url"),
        other_systems=other_systems,
    )


@cache
def type_codes() -> ValueSet:
    """JDV_J66 typeCode, each concept carrying its ASS_X16 classCode (`type_class`)."""
    return load_value_set("dmp-type-codes.json")


@cache
def class_codes() -> ValueSet:
    """JDV_J57 classCode (DocumentReference.category)."""
    return load_value_set("dmp-class-codes.json")


@cache
def format_codes() -> ValueSet:
    """JDV_J60 formatCode (DocumentReference.content.format)."""
    return load_value_set("dmp-format-codes.json")


@cache
def confidentiality_codes() -> ValueSet:
    """JDV_J58: N/R/V (HL7) and the TRE_A07 visibility flags (DOC-7)."""
    return load_value_set("dmp-confidentiality-codes.json")


@cache
def facility_type_codes() -> ValueSet:
    """healthcareFacilityTypeCode, standing in for JDV_J61 (incomplete)."""
    return load_value_set("dmp-facility-type-codes.json")


@cache
def practice_setting_codes() -> ValueSet:
    """practiceSettingCode, standing in for JDV_J62 (incomplete)."""
    return load_value_set("dmp-practice-setting-codes.json")


@cache
def content_type_codes() -> ValueSet:
    """Submission-set contentTypeCode / designationType, JDV_J59 (very incomplete).

    JDV_J59 also draws on TRE_R02 and TRE_A00 (dmp-rules §4.1; the ANS example uses SA05),
    whose codes it does not list: they are known systems, so their codes are UNLISTED.
    """
    facility = facility_type_codes()
    drawn_on = tuple(sorted({(c.system, c.system_oid) for c in facility.concepts}))
    return load_value_set("dmp-content-type-codes.json", other_systems=drawn_on)


@cache
def professions() -> ValueSet:
    """TRE_G15 health professions (SPEC.md §1)."""
    return load_value_set("professions.json")


@cache
def access_modes() -> ValueSet:
    """TRE_R248 access modes (VIHF purposeofuse, AuditEvent purposeOfUse)."""
    return load_value_set("access-modes.json")


@cache
def availability_statuses() -> ValueSet:
    """JDV_J52 availabilityStatus with its FHIR status mapping."""
    return load_value_set("availability-status.json")


def type_class(type_system: str, type_code: str) -> Coding | None:
    """ASS_X16: the classCode a DMP typeCode requires, or None for a type outside JDV_J66."""
    concept = type_codes().lookup(type_system, type_code)
    if concept is None:
        return None
    props = concept.properties
    return Coding(
        system=str(props["class_system"]),
        code=str(props["class_code"]),
        display=str(props.get("class_display", "")),
    )


def canonical_coding(value_set: ValueSet, coding: Coding) -> Coding:
    """The coding with the table's URI as system (e.g. `urn:oid:…` → FHIR URI), if known."""
    canonical = value_set.canonical_system(coding.system)
    if canonical is None or canonical == coding.system:
        return coding
    return Coding(system=canonical, code=coding.code, display=coding.display)
