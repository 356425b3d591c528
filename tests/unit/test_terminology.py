"""The DMP code tables as the code reads them (DOC-1 value sets, DOC-7 labels, SPEC.md §1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files

import pytest

from opendmp.domain import terminology
from opendmp.domain.documents import CONFIDENTIALITY_SYSTEM, LABEL_SYSTEM, Coding, Label
from opendmp.domain.terminology import Membership, ValueSet

LOINC = "http://loinc.org"
LOINC_OID = "2.16.840.1.113883.6.1"
TRE_A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
TRE_R02 = "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"

ACCESSORS: dict[str, Callable[[], ValueSet]] = {
    "dmp-type-codes.json": terminology.type_codes,
    "dmp-class-codes.json": terminology.class_codes,
    "dmp-format-codes.json": terminology.format_codes,
    "dmp-confidentiality-codes.json": terminology.confidentiality_codes,
    "dmp-facility-type-codes.json": terminology.facility_type_codes,
    "dmp-practice-setting-codes.json": terminology.practice_setting_codes,
    "dmp-content-type-codes.json": terminology.content_type_codes,
    "professions.json": terminology.professions,
    "access-modes.json": terminology.access_modes,
    "availability-status.json": terminology.availability_statuses,
}


def raw_table(filename: str) -> dict[str, object]:
    text = files("opendmp.data").joinpath(filename).read_text(encoding="utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


@pytest.mark.parametrize("filename", sorted(ACCESSORS))
def test_every_table_loads_whole(filename: str) -> None:
    """Each JSON table loads with all its concepts, its id and completeness flag."""
    raw = raw_table(filename)
    value_set = ACCESSORS[filename]()
    concepts = raw["concepts"]
    assert isinstance(concepts, list)
    assert len(value_set.concepts) == len(concepts) > 0
    assert value_set.id == raw["id"]
    assert value_set.is_complete is bool(raw.get("complete"))
    for concept in concepts:
        assert value_set.contains(concept["system"], concept["code"])


def test_every_data_file_has_an_accessor_or_is_identifier_systems() -> None:
    names = {p.name for p in files("opendmp.data").iterdir() if p.name.endswith(".json")}
    assert names == {*ACCESSORS, "identifier-systems.json"}


def test_tables_are_loaded_once() -> None:
    assert terminology.type_codes() is terminology.type_codes()


@pytest.mark.parametrize(
    ("getter", "complete"),
    [
        (terminology.type_codes, True),
        (terminology.class_codes, True),
        (terminology.format_codes, True),
        (terminology.confidentiality_codes, True),
        (terminology.facility_type_codes, False),
        (terminology.practice_setting_codes, False),
        (terminology.content_type_codes, False),
    ],
)
def test_doc1_completeness_follows_terminology_readme(
    getter: Callable[[], ValueSet], complete: bool
) -> None:
    """DOC-1: J61, J62 and J59 are marked incomplete (terminology/README.md)."""
    assert getter().is_complete is complete


def test_doc1_type_11488_4_is_a_report_per_ass_x16() -> None:
    """ASS_X16: 11488-4 (consult note) has class 10 (Compte rendu)."""
    assert terminology.type_codes().display("11488-4") == "CR ou fiche de consultation ou de visite"
    expected = Coding(TRE_A03, "10", "Compte rendu")
    assert terminology.type_class(LOINC, "11488-4") == expected
    assert terminology.class_codes().contains(expected.system, expected.code)


def test_doc1_every_type_class_is_in_jdv_j57() -> None:
    """ASS_X16 targets are all JDV_J57 codes."""
    classes = terminology.class_codes()
    for concept in terminology.type_codes().concepts:
        cls = terminology.type_class(concept.system, concept.code)
        assert cls is not None
        assert classes.contains(cls.system, cls.code), concept.code


def test_doc1_signature_type_maps_to_the_signature_class() -> None:
    """dmp-rules §4.1: E1762 (ASTM) goes with the URN digital-signature class."""
    cls = terminology.type_class("ASTM", "E1762")
    assert cls is not None
    assert cls.code == "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"


def test_type_class_of_an_unknown_type_is_none() -> None:
    assert terminology.type_class(LOINC, "11493-4") is None  # CI-SIS only, not DMP
    assert terminology.type_class("http://example.org", "11488-4") is None


@pytest.mark.parametrize("system", [LOINC, LOINC_OID, f"urn:oid:{LOINC_OID}"])
def test_system_given_as_uri_urn_oid_or_bare_oid(system: str) -> None:
    """The JSON's `system` and `system_oid` name the same code system."""
    assert terminology.type_codes().contains(system, "11488-4")
    assert terminology.type_codes().canonical_system(system) == LOINC


def test_literal_xds_names_are_not_made_into_urn_oids() -> None:
    assert terminology.type_codes().canonical_system("ASTM") is not None
    assert terminology.type_codes().canonical_system("urn:oid:ASTM") is None


def test_membership_of_incomplete_tables() -> None:
    """DOC-1: same-system unknown code in an incomplete table is UNLISTED (a warning)."""
    facility = terminology.facility_type_codes()
    assert facility.membership(TRE_R02, "SA07") is Membership.MEMBER
    assert facility.membership("urn:oid:1.2.250.1.71.4.2.4", "SA99") is Membership.UNLISTED
    assert facility.membership("http://snomed.info/sct", "22232009") is Membership.NOT_MEMBER
    assert terminology.type_codes().membership(LOINC, "11493-4") is Membership.NOT_MEMBER


def test_content_types_draw_on_tre_r02_and_tre_a00() -> None:
    """dmp-rules §4.1: JDV_J59 takes TRE_R209, TRE_R02 and TRE_A00 codes (ANS example SA05)."""
    content = terminology.content_type_codes()
    assert content.membership("urn:oid:1.2.250.1.213.2.2", "04") is Membership.MEMBER
    assert content.display("04") == "Hospitalisation de Jour"
    assert content.membership(TRE_R02, "SA05") is Membership.UNLISTED
    assert content.membership("1.2.250.1.213.1.1.4.6", "EXP_PATIENT") is Membership.UNLISTED
    assert content.membership("http://snomed.info/sct", "04") is Membership.NOT_MEMBER
    assert TRE_R02 in content.systems


def test_doc7_confidentiality_table_systems() -> None:
    """DOC-7, API.md §8: N/R/V in HL7 v3 Confidentiality; labels in TRE_A07, OID accepted."""
    table = terminology.confidentiality_codes()
    assert table.systems == {CONFIDENTIALITY_SYSTEM, terminology.LABEL_SYSTEM_URI}
    assert table.contains("urn:oid:2.16.840.1.113883.5.25", "N")
    for label in Label:
        assert table.contains(LABEL_SYSTEM, label.value)
        assert table.contains(terminology.LABEL_SYSTEM_URI, label.value)
    assert not table.contains(LABEL_SYSTEM, "MASQUE_PSOCIAL")  # TRE_A07 but not JDV_J58


def test_tre_a08_is_an_alias_of_hl7_confidentiality() -> None:
    """JDV_J58 composes N/R/V from TRE_A08 (the table's note)."""
    tre_a08 = (
        "https://mos.esante.gouv.fr/NOS/TRE_A08-HL7Confidentiality/FHIR/TRE-A08-HL7Confidentiality"
    )
    coding = terminology.canonical_coding(terminology.confidentiality_codes(), Coding(tre_a08, "N"))
    assert coding.system == CONFIDENTIALITY_SYSTEM


def test_professions_and_access_modes() -> None:
    """SPEC.md §1: TRE_G15 professions and TRE_R248 access modes."""
    professions = terminology.professions()
    assert {"10", "21", "40", "50", "60"} <= professions.codes()
    assert professions.display("10") == "Médecin"
    assert terminology.access_modes().codes() == {"normal", "bris_de_glace", "centre_15"}


def test_formats_carry_their_kind() -> None:
    concept = terminology.format_codes().lookup(
        "urn:oid:1.3.6.1.4.1.19376.1.2.3", "urn:ihe:iti:xds-sd:pdf:2008"
    )
    assert concept is not None
    assert concept.properties["kind"] == "unstructured"
    assert concept.coding().code == "urn:ihe:iti:xds-sd:pdf:2008"


def test_display_with_and_without_system() -> None:
    practice = terminology.practice_setting_codes()
    assert practice.display("EXP_PATIENT") == "Expression personnelle du patient"
    assert practice.display("AMBULATOIRE", "urn:oid:1.2.250.1.213.1.1.4.9") == "Ambulatoire"
    assert practice.display("AMBULATOIRE", LOINC) is None
    assert practice.display("NOPE") is None
