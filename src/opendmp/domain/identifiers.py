"""Identifiers of patients, professionals and structures (SPEC.md §2, ID-1..3).

NIR key (ID-1), INS systems (ID-2) and the IDNPS / IDNST prefix grammar (ID-3) of
`reference/dmp-rules.md` §5.1-§5.3. Error codes: DMP-0101..0103 (INS), DMP-0105..0107
(NIR format, IDNPS, IDNST); DMP-0104 is the access mode (actors.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from opendmp.domain.errors import BusinessRuleViolation, InvalidRequest

RecordId = NewType("RecordId", str)
DocumentId = NewType("DocumentId", str)

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_TEST = "1.2.250.1.213.1.4.10"
OID_INS_DEMO = "1.2.250.1.213.1.4.11"
OID_IDNPS = "1.2.250.1.71.4.2.1"
OID_IDNST = "1.2.250.1.71.4.2.2"

INS_SYSTEMS = frozenset({OID_INS_NIR, OID_INS_NIA, OID_INS_TEST, OID_INS_DEMO})
TEST_INS_SYSTEMS = frozenset({OID_INS_TEST, OID_INS_DEMO})  # ID-2: demo/test deployments only
OID_PREFIX = "urn:oid:"

_NIR = re.compile(r"[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8}")
_NIR_BODY = re.compile(r"[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}")
_CORSICA = {"2A": "19", "2B": "18"}  # ID-1: département letters replaced before mod 97


@dataclass(frozen=True, slots=True)
class Ins:
    """A national health identifier: the NIR/NIA value and the OID of its system (ID-2)."""

    system: str
    value: str

    def __str__(self) -> str:
        return f"urn:oid:{self.system}|{self.value}"


def bare_oid(system: str) -> str:
    """`urn:oid:1.2.3` and `1.2.3` name the same system (FHIR vs XDS/VIHF spelling)."""
    return system.removeprefix(OID_PREFIX)


def nir_key(first13: str) -> int:
    """ID-1: key = 97 − (N mod 97), N the 13 characters with 2A→19, 2B→18 (dmp-rules §5.1)."""
    if not _NIR_BODY.fullmatch(first13):
        raise InvalidRequest(
            "DMP-0105",
            f"NIR body {first13!r} must be 13 characters, digits except 2A/2B in positions 6-7",
            rule="ID-1",
        )
    department = first13[5:7]
    digits = first13[:5] + _CORSICA.get(department, department) + first13[7:]
    return 97 - int(digits) % 97


def is_valid_nir(value: str) -> bool:
    """ID-1: 15 characters, well formed, and the key matches."""
    return _NIR.fullmatch(value) is not None and nir_key(value[:13]) == int(value[13:])


def parse_ins(system: str, value: str, *, allow_test: bool, path: str | None = None) -> Ins:
    """ID-1, ID-2: the INS as FHIR (`urn:oid:`) or XDS (bare OID) gives it, checked.

    The NIR key applies to all four systems (API.md Details §2); test and demo INS only where
    the deployment allows them. Every failure is a 422 (BusinessRuleViolation).
    """
    oid = bare_oid(system.strip())
    if oid not in INS_SYSTEMS:
        raise BusinessRuleViolation(
            "DMP-0101",
            f"unknown INS system {system!r} (expected urn:oid:{OID_INS_NIR}, {OID_INS_NIA}, "
            f"{OID_INS_TEST} or {OID_INS_DEMO})",
            rule="ID-2",
            path=path,
        )
    if oid in TEST_INS_SYSTEMS and not allow_test:
        raise BusinessRuleViolation(
            "DMP-0103",
            f"test or demo INS system {oid} is not accepted by this deployment",
            rule="ID-2",
            path=path,
        )
    if not is_valid_nir(value):
        raise BusinessRuleViolation(
            "DMP-0102",
            f"INS {value!r} is not a valid NIR: 15 characters with a matching key (97 − N mod 97)",
            rule="ID-1",
            path=path,
        )
    return Ins(system=oid, value=value)


def birth_department(nir: str) -> str:
    """Birth département of a NIR, for statistics by region (dmp-rules §5.1).

    Characters 6-7: a metropolitan département (`01`..`95`, `2A`, `2B`; `20` before 1976);
    `97`/`98` are overseas and take three characters (`971`..`976`, `98x`); `99` means born
    abroad (the next three characters are then the country, not returned).
    """
    if not _NIR.fullmatch(nir) and not _NIR_BODY.fullmatch(nir):
        raise InvalidRequest("DMP-0105", f"malformed NIR {nir!r}", rule="ID-1")
    department = nir[5:7]
    if department in {"97", "98"}:
        return nir[5:8]
    return department


class IdnpsKind(StrEnum):
    """The one-digit prefix of an IDNPS, idNat_PS (dmp-rules §5.3)."""

    ADELI = "0"
    ADELI_CABINET = "1"  # + cabinet id / internal id
    FINESS = "3"  # + FINESS / internal id
    SIREN = "4"  # + SIREN / internal id
    SIRET = "5"  # + SIRET / internal id
    RPPS_CABINET = "6"  # + RPPS cabinet id / internal id
    RPPS = "8"


class IdnstKind(StrEnum):
    """The prefix of an IDNST, idNat_Struct (dmp-rules §5.3); TECHNICAL has none."""

    ADELI_CABINET = "0"
    FINESS = "1"
    SIREN = "2"
    SIRET = "3"
    RPPS_RANG = "4"
    TECHNICAL = ""


# ID-3 grammar. Lengths where dmp-rules §5.3 states them (RPPS 11 digits, ADELI and FINESS 9
# characters, letters possible as in `0B0127189`; SIREN 9, SIRET 14, RPPS-rang 11+3 digits).
# Prefixes 1/3/4/5/6 of an IDNPS name a person by structure id + `/` + internal id.
# Choice (SPEC.md ID-3): no Luhn check.
_INTERNAL = r"/[0-9A-Za-z][0-9A-Za-z._-]*"
_IDNPS = {
    IdnpsKind.ADELI: re.compile(r"0[0-9A-Z]{9}"),
    IdnpsKind.ADELI_CABINET: re.compile(r"1[0-9A-Z]+" + _INTERNAL),
    IdnpsKind.FINESS: re.compile(r"3[0-9A-Z]{9}" + _INTERNAL),
    IdnpsKind.SIREN: re.compile(r"4[0-9]{9}" + _INTERNAL),
    IdnpsKind.SIRET: re.compile(r"5[0-9]{14}" + _INTERNAL),
    IdnpsKind.RPPS_CABINET: re.compile(r"6[0-9A-Z]+" + _INTERNAL),
    IdnpsKind.RPPS: re.compile(r"8[0-9]{11}"),
}
_IDNST = {
    IdnstKind.ADELI_CABINET: re.compile(r"0[0-9A-Z]{9}"),
    IdnstKind.FINESS: re.compile(r"1[0-9A-Z]{9}"),
    IdnstKind.SIREN: re.compile(r"2[0-9]{9}"),
    IdnstKind.SIRET: re.compile(r"3[0-9]{14}"),
    IdnstKind.RPPS_RANG: re.compile(r"4[0-9]{14}"),
}
_TECHNICAL = re.compile(r"[5-9A-Za-z][0-9A-Za-z._-]*")
_IDNPS_PREFIXES = frozenset(kind.value for kind in IdnpsKind)
_IDNST_PREFIXES = frozenset(kind.value for kind in _IDNST)


def parse_idnps(value: str, *, path: str | None = None) -> IdnpsKind:
    """ID-3: the kind of a professional's national id, or InvalidRequest DMP-0106."""
    prefix = value[:1]
    if prefix not in _IDNPS_PREFIXES or not _IDNPS[IdnpsKind(prefix)].fullmatch(value):
        raise InvalidRequest(
            "DMP-0106",
            f"malformed IDNPS {value!r}: expected 8 + RPPS (11 digits), 0 + ADELI (9 "
            "characters), or 1/3/4/5/6 + structure id + '/' + internal id",
            rule="ID-3",
            path=path,
        )
    return IdnpsKind(prefix)


def parse_idnst(value: str, *, path: str | None = None) -> IdnstKind:
    """ID-3: the kind of a structure's national id, or InvalidRequest DMP-0107.

    Choice: a value starting with 0-4 must follow that prefix's grammar; any other
    alphanumeric value is a technical number (the table's "no prefix" row).
    """
    prefix = value[:1]
    if prefix in _IDNST_PREFIXES:
        kind = IdnstKind(prefix)
        if _IDNST[kind].fullmatch(value):
            return kind
    elif _TECHNICAL.fullmatch(value):
        return IdnstKind.TECHNICAL
    raise InvalidRequest(
        "DMP-0107",
        f"malformed IDNST {value!r}: expected 0 + ADELI (9), 1 + FINESS (9), 2 + SIREN (9), "
        "3 + SIRET (14), 4 + RPPS-rang (14) or a technical number",
        rule="ID-3",
        path=path,
    )


def is_valid_idnps(value: str) -> bool:
    try:
        parse_idnps(value)
    except InvalidRequest:
        return False
    return True


def is_valid_idnst(value: str) -> bool:
    try:
        parse_idnst(value)
    except InvalidRequest:
        return False
    return True
