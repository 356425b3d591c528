"""Visibility labels ↔ securityLabel / meta.security codings (DOC-7, API.md §8, §24).

`securityLabel` and `meta.security` hold the same codings: the confidentiality code `N`
first, then the other confidentiality codes, then the TRE_A07 flags with the system of
`terminology/dmp-confidentiality-codes.json` (`urn:oid:1.2.250.1.213.1.1.4.13` is accepted
on input).
"""

from __future__ import annotations

from collections.abc import Iterable

from opendmp.domain import terminology
from opendmp.domain.documents import CONFIDENTIALITY_SYSTEM, Coding, Label
from opendmp.domain.errors import BusinessRuleViolation
from opendmp.domain.metadata import NORMAL, normalize_security_labels

LABEL_ORDER = (Label.MASQUE_PS, Label.INVISIBLE_PATIENT, Label.INVISIBLE_REPRESENTANTS_LEGAUX)


def normal() -> Coding:
    return _displayed(Coding(CONFIDENTIALITY_SYSTEM, NORMAL))


def _displayed(coding: Coding) -> Coding:
    table = terminology.confidentiality_codes()
    concept = table.lookup(coding.system, coding.code)
    if concept is None:
        return coding
    return Coding(concept.system, concept.code, coding.display or concept.display)


def label_coding(label: Label) -> Coding:
    return _displayed(Coding(terminology.LABEL_SYSTEM_URI, label.value))


def security_codings(confidentiality: Iterable[Coding], labels: Iterable[Label]) -> list[Coding]:
    """N first (added if missing, API.md §8), other confidentiality codes, then the labels."""
    kept, _ = normalize_security_labels(confidentiality)
    rest = [_displayed(c) for c in kept if (c.system, c.code) != (CONFIDENTIALITY_SYSTEM, NORMAL)]
    present = set(labels)
    return [normal(), *rest, *(label_coding(label) for label in LABEL_ORDER if label in present)]


def labels_of(codings: Iterable[Coding], *, path: str) -> frozenset[Label]:
    """The TRE_A07 labels of a requested securityLabel / meta.security set.

    `N` and the other JDV_J58 confidentiality codes are accepted (N is always kept first);
    a code outside JDV_J58 is a 422 naming the element (DOC-1, DOC-7).
    """
    table = terminology.confidentiality_codes()
    labels: set[Label] = set()
    for index, coding in enumerate(codings):
        concept = table.lookup(coding.system, coding.code)
        if concept is None:
            raise BusinessRuleViolation(
                "DMP-0643",
                f"security label {coding.system}|{coding.code} is not in "
                "JDV_J58-ConfidentialityCode-DMP",
                rule="DOC-7",
                path=f"{path}[{index}]",
            )
        if concept.system == terminology.LABEL_SYSTEM_URI:
            labels.add(Label(concept.code))
    return frozenset(labels)
