"""ID-1 (NIR key), ID-2 (INS systems), ID-3 (IDNPS / IDNST grammar): SPEC.md §2."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendmp.domain.errors import BusinessRuleViolation, ErrorKind, InvalidRequest
from opendmp.domain.identifiers import (
    INS_SYSTEMS,
    OID_IDNPS,
    OID_IDNST,
    OID_INS_DEMO,
    OID_INS_NIA,
    OID_INS_NIR,
    OID_INS_TEST,
    IdnpsKind,
    IdnstKind,
    Ins,
    birth_department,
    is_valid_idnps,
    is_valid_idnst,
    is_valid_nir,
    nir_key,
    parse_idnps,
    parse_idnst,
    parse_ins,
)

VALID = "295109912611193"
VALID_CORSICA = "186022A21532523"
BAD_KEY = "295109912611199"


@st.composite
def nir_bodies(draw: st.DrawFn) -> str:
    """13-character NIR bodies, Corsican départements included."""
    head = draw(st.text(alphabet="0123456789", min_size=5, max_size=5))
    department = draw(
        st.one_of(
            st.text(alphabet="0123456789", min_size=2, max_size=2), st.sampled_from(["2A", "2B"])
        )
    )
    tail = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    return head + department + tail


# --- ID-1 -------------------------------------------------------------------------------------


def test_id1_spec_examples() -> None:
    """ID-1: the SPEC test vectors."""
    assert is_valid_nir(VALID)
    assert is_valid_nir(VALID_CORSICA)
    assert not is_valid_nir(BAD_KEY)
    assert nir_key(VALID[:13]) == 93
    assert nir_key(VALID_CORSICA[:13]) == 23


def test_id1_corsica_letters_replaced_by_19_and_18() -> None:
    """ID-1: 2A counts as 19 and 2B as 18 before mod 97."""
    body_2a = "1860219215325".replace("19", "2A", 1)
    assert body_2a == "186022A215325"
    assert nir_key(body_2a) == 97 - 1860219215325 % 97
    body_2b = "186022B215325"
    assert nir_key(body_2b) == 97 - 1860218215325 % 97


@pytest.mark.parametrize(
    "value",
    [
        "",
        "29510991261119",
        "2951099126111933",
        "29510991261119A",
        "295102C12611193",
        "2951099 2611193",
    ],
)
def test_id1_malformed_nir_is_invalid(value: str) -> None:
    """ID-1: 15 characters, digits except 2A/2B in positions 6-7."""
    assert not is_valid_nir(value)


def test_id1_nir_key_rejects_a_malformed_body() -> None:
    with pytest.raises(InvalidRequest) as caught:
        nir_key("12345")
    assert caught.value.code == "DMP-0105"
    assert caught.value.rule == "ID-1"


@given(nir_bodies())
def test_id1_every_body_with_its_key_is_valid(body: str) -> None:
    """ID-1 (property): a body followed by its computed key is a valid NIR."""
    key = nir_key(body)
    assert 1 <= key <= 97
    assert is_valid_nir(f"{body}{key:02d}")


@given(nir_bodies(), st.integers(min_value=0, max_value=99))
def test_id1_any_other_key_is_invalid(body: str, key: int) -> None:
    """ID-1 (property): every other two-digit key fails."""
    if key != nir_key(body):
        assert not is_valid_nir(f"{body}{key:02d}")


@pytest.mark.parametrize(
    ("nir", "department"),
    [
        (VALID, "99"),  # born abroad
        (VALID_CORSICA, "2A"),
        ("186022B21532" + "5" + "00", "2B"),
        ("1850375123456" + "00", "75"),
        ("2900597105123" + "00", "971"),
        ("1880198712345" + "00", "987"),
    ],
)
def test_birth_department(nir: str, department: str) -> None:
    """dmp-rules §5.1: characters 6-7, three characters overseas (97x/98x), 99 abroad."""
    assert birth_department(nir) == department


def test_birth_department_of_a_malformed_nir() -> None:
    with pytest.raises(InvalidRequest):
        birth_department("not a nir")


# --- ID-2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system", [OID_INS_NIR, f"urn:oid:{OID_INS_NIR}", f" urn:oid:{OID_INS_NIA} "]
)
def test_id2_urn_oid_and_bare_oid_are_the_same_system(system: str) -> None:
    """ID-2: FHIR gives `urn:oid:…`, XDS/VIHF the bare OID; Ins keeps the bare OID."""
    ins = parse_ins(system, VALID, allow_test=False)
    assert ins.system in {OID_INS_NIR, OID_INS_NIA}
    assert ins.value == VALID
    assert str(ins).startswith("urn:oid:1.2.250.1.213.1.4.")


def test_id2_unknown_system_is_refused() -> None:
    """ID-2: only the four INS OIDs (historical INS-C .4.2 included in the refusal)."""
    for system in ["urn:oid:1.2.250.1.213.1.4.2", OID_IDNPS, "http://example.org/mrn", ""]:
        with pytest.raises(BusinessRuleViolation) as caught:
            parse_ins(system, VALID, allow_test=True, path="Patient.identifier")
        assert caught.value.code == "DMP-0101"
        assert caught.value.rule == "ID-2"
        assert caught.value.path == "Patient.identifier"
        assert caught.value.kind is ErrorKind.BUSINESS_RULE


@pytest.mark.parametrize("system", [OID_INS_TEST, OID_INS_DEMO])
def test_id2_test_and_demo_ins_only_when_allowed(system: str) -> None:
    """ID-2: test (.10) and demo (.11) INS only in demo and test configurations."""
    assert parse_ins(system, VALID, allow_test=True) == Ins(system, VALID)
    with pytest.raises(BusinessRuleViolation) as caught:
        parse_ins(system, VALID, allow_test=False)
    assert caught.value.code == "DMP-0103"
    assert caught.value.rule == "ID-2"


@pytest.mark.parametrize("system", sorted(INS_SYSTEMS))
def test_id1_key_checked_for_all_four_systems(system: str) -> None:
    """API.md Details §2: the NIR key check applies to NIR, NIA, test and demo INS."""
    with pytest.raises(BusinessRuleViolation) as caught:
        parse_ins(system, BAD_KEY, allow_test=True)
    assert caught.value.code == "DMP-0102"
    assert caught.value.rule == "ID-1"
    assert BAD_KEY in caught.value.message


def test_id2_identifier_systems_table_names_our_oids() -> None:
    """The OID constants agree with terminology/identifier-systems.json."""
    table = json.loads(files("opendmp.data").joinpath("identifier-systems.json").read_text("utf-8"))
    codes = {concept["code"] for concept in table["concepts"]}
    assert {*INS_SYSTEMS, OID_IDNPS, OID_IDNST} <= codes
    examples = next(c for c in table["concepts"] if c["code"] == OID_INS_TEST)["examples"]
    assert all(is_valid_nir(example) for example in examples)


# --- ID-3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("899900063480", IdnpsKind.RPPS),  # dmp-rules §5.3 example: 8 + test RPPS
        ("810000000001", IdnpsKind.RPPS),  # API.md demo token
        ("0751234567", IdnpsKind.ADELI),
        ("02A1234567", IdnpsKind.ADELI),
        ("3750100125/1453", IdnpsKind.FINESS),
        ("30B0037750/CPET0001", IdnpsKind.FINESS),  # test CPE card
        ("1751234567/SEC01", IdnpsKind.ADELI_CABINET),
        ("4123456789/42", IdnpsKind.SIREN),
        ("512345678901234/7", IdnpsKind.SIRET),
        ("699900063480001/A1", IdnpsKind.RPPS_CABINET),
    ],
)
def test_id3_idnps_grammar(value: str, kind: IdnpsKind) -> None:
    """ID-3: prefix grammar of dmp-rules §5.3; no Luhn check (SPEC choice)."""
    assert parse_idnps(value) is kind
    assert is_valid_idnps(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "89990006348",  # RPPS of 10 digits
        "8999000634801",  # RPPS of 12 digits
        "8A9900063480",
        "099900063",  # ADELI of 8
        "2123456789",  # 2 is not an IDNPS prefix
        "7123456789",
        "3750100125",  # FINESS without internal id
        "3750100125/",
        "4123456789",
        "99900063480",  # bare RPPS: the prefix is required
    ],
)
def test_id3_malformed_idnps(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_idnps(value, path="Practitioner.identifier")
    assert caught.value.code == "DMP-0106"
    assert caught.value.rule == "ID-3"
    assert caught.value.path == "Practitioner.identifier"
    assert not is_valid_idnps(value)


def test_id3_rpps_passes_without_luhn() -> None:
    """ID-3 Choice: a RPPS whose Luhn check would fail is still accepted."""
    assert parse_idnps("812345678901") is IdnpsKind.RPPS
    assert parse_idnps("812345678902") is IdnpsKind.RPPS


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("499900063480001", IdnstKind.RPPS_RANG),
        ("10B0127189", IdnstKind.FINESS),  # Corsican FINESS, with a letter
        ("1750803447", IdnstKind.FINESS),
        ("2264403106", IdnstKind.SIREN),
        ("312345678901234", IdnstKind.SIRET),
        ("0751234567", IdnstKind.ADELI_CABINET),
        ("SNR-SOLUTION-42", IdnstKind.TECHNICAL),
        ("9001", IdnstKind.TECHNICAL),
    ],
)
def test_id3_idnst_grammar(value: str, kind: IdnstKind) -> None:
    assert parse_idnst(value) is kind
    assert is_valid_idnst(value)


@pytest.mark.parametrize(
    "value", ["", "1750803", "226440310", "22644031067", "31234567890123", "4999000634800012", "-x"]
)
def test_id3_malformed_idnst(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_idnst(value)
    assert caught.value.code == "DMP-0107"
    assert caught.value.rule == "ID-3"
    assert not is_valid_idnst(value)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_id3_every_eleven_digit_rpps_is_an_idnps(rpps: str) -> None:
    """ID-3: RPPS is 11 digits, prefixed by 8."""
    assert parse_idnps("8" + rpps) is IdnpsKind.RPPS
