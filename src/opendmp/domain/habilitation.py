"""The profession × document-type habilitation matrix as operator data (SPEC.md R-PS-5).

The published cell values were never found (dmp-rules §3.2, §9.1), so the matrix is a table the
operator may replace: for each TRE_G15 profession, the typeCodes it may NOT read; professions
the table does not name get `default_denied`. Pure: the caller reads the file and passes its
text to `HabilitationMatrix.from_json`. Format: docs/access-policy.md, "Habilitation file".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from opendmp.domain.actors import PHYSICIAN

FORMAT = "opendmp-habilitation/1"
RESIDENCE_CERTIFICATE = "ATTEST-RESID"  # TRE_A05 "Attestation de résidence" (dmp-type-codes)
SENSITIVE_TYPES = frozenset(  # dmp-rules §3.2: the types the press lists as refused to dentists
    {
        "80788-3",  # personalised support plan of a care-home resident
        "75496-0",  # telemedicine request
        "83981-1",  # liaison letter on leaving a social or medico-social structure
        "83901-9",  # psychological assessment
        "68599-0",  # psychiatric synthesis
    }
)


class HabilitationFileError(ValueError):
    """The operator's habilitation file is not valid; the message says where."""


@dataclass(frozen=True, slots=True)
class HabilitationMatrix:
    """R-PS-5: (profession, typeCode) → allowed, stored as the refusals (everything else is
    allowed, so a new document type is readable until the operator says otherwise)."""

    default_denied: frozenset[str]
    by_profession: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def default(cls) -> HabilitationMatrix:
        """SPEC.md R-PS-5 Choice: physicians all but the residence certificate; every other
        profession all but the sensitive types."""
        return cls(
            default_denied=SENSITIVE_TYPES,
            by_profession=((PHYSICIAN, frozenset({RESIDENCE_CERTIFICATE})),),
        )

    def denied_types(self, profession: str | None) -> frozenset[str]:
        """The typeCodes `profession` may not read (the default for an unlisted or no
        profession)."""
        for code, denied in self.by_profession:
            if code == profession:
                return denied
        return self.default_denied

    def to_json(self) -> str:
        document = {
            "format": FORMAT,
            "default_denied": sorted(self.default_denied),
            "professions": {code: sorted(denied) for code, denied in self.by_profession},
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> HabilitationMatrix:
        """Parse an operator file; raise HabilitationFileError naming the faulty element."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise HabilitationFileError(f"not JSON: {error}") from None
        if not isinstance(document, dict):
            raise HabilitationFileError("the file must hold a JSON object")
        if document.get("format") != FORMAT:
            raise HabilitationFileError(f"format: expected {FORMAT!r}")
        unknown = set(document) - {"format", "default_denied", "professions"}
        if unknown:
            raise HabilitationFileError(f"unknown keys: {', '.join(sorted(unknown))}")
        default_denied = _type_codes(document.get("default_denied", []), "default_denied")
        professions = document.get("professions", {})
        if not isinstance(professions, dict):
            raise HabilitationFileError("professions: expected an object")
        by_profession: list[tuple[str, frozenset[str]]] = []
        for code, denied in sorted(professions.items()):
            if not code.isdigit():
                raise HabilitationFileError(f"professions: {code!r} is not a TRE_G15 code")
            by_profession.append((code, _type_codes(denied, f"professions.{code}")))
        return cls(default_denied=default_denied, by_profession=tuple(by_profession))


def _type_codes(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise HabilitationFileError(f"{where}: expected a list of typeCodes")
    return frozenset(value)
