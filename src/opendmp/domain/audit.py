"""Audit entries and their hash chain (SPEC.md §6, AUD-1..4).

Each entry's hash covers its content and the previous entry's hash, so an edited, deleted or
reordered entry breaks the chain (`opendmp audit verify`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

GENESIS = "0" * 64


class Outcome(StrEnum):
    """IHE BALP / FHIR AuditEvent.outcome codes."""

    SUCCESS = "0"
    REFUSED = "4"
    ERROR = "8"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One attempted action on a record, permitted or refused (AUD-1)."""

    id: str
    record_id: str | None  # None: no record (e.g. an existence test for an unknown INS)
    recorded_at: datetime
    action: str
    outcome: Outcome
    rule: str
    actor_kind: str
    actor_id: str
    actor_name: str = ""
    actor_profession: str = ""
    actor_structure: str = ""
    access_mode: str = "normal"
    purpose_reason: str = ""
    resource_type: str = ""
    resource_id: str = ""
    request_id: str = ""
    client: str = ""
    detail: str = ""
    sequence: int = 0  # position in the chain, set when appended
    previous_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, object]:
        """Every field but the hash, as JSON-ready values (the hashed content)."""
        data: dict[str, object] = {name: getattr(self, name) for name in _HASHED_FIELDS}
        data["recorded_at"] = self.recorded_at.isoformat()
        data["outcome"] = self.outcome.value
        return data


_HASHED_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "hash")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the canonical JSON of the entry, previous hash and sequence included."""
    canonical = json.dumps(entry.content(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    entry_id: str
    problem: str


def verify_chain(entries: Iterable[AuditEntry]) -> list[ChainBreak]:
    """Every break in a chain read in sequence order: edited, deleted or reordered entries."""
    breaks: list[ChainBreak] = []
    previous = GENESIS
    expected_sequence = 1
    for entry in entries:
        if entry.sequence != expected_sequence:
            breaks.append(
                ChainBreak(
                    entry.sequence,
                    entry.id,
                    f"sequence {entry.sequence} where {expected_sequence} was expected "
                    "(an entry was deleted or moved)",
                )
            )
        if entry.previous_hash != previous:
            breaks.append(
                ChainBreak(entry.sequence, entry.id, "does not follow the previous entry's hash")
            )
        if entry_hash(entry) != entry.hash:
            breaks.append(ChainBreak(entry.sequence, entry.id, "content does not match its hash"))
        previous = entry.hash
        expected_sequence = entry.sequence + 1
    return breaks
