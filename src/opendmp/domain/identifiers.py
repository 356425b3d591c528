"""Identifiers of patients, professionals and structures (SPEC.md §2, ID-1..3).

Placeholder types; validation rules are completed in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

RecordId = NewType("RecordId", str)
DocumentId = NewType("DocumentId", str)

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_TEST = "1.2.250.1.213.1.4.10"
OID_INS_DEMO = "1.2.250.1.213.1.4.11"
OID_IDNPS = "1.2.250.1.71.4.2.1"
OID_IDNST = "1.2.250.1.71.4.2.2"


@dataclass(frozen=True, slots=True)
class Ins:
    """A national health identifier: the NIR/NIA value and the OID of its system (ID-2)."""

    system: str
    value: str

    def __str__(self) -> str:
        return f"urn:oid:{self.system}|{self.value}"
