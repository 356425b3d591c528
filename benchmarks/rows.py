"""The rows OpenDMP's services write, built directly: for the bulk loader and the baseline.

A record opened by a professional (REC-1: record, wrapped data key, the opener's and each
author's authorization, the `record:open` trace) and its documents as ITI-65 leaves them
(DOC-1: document, searchable author row, submission set, `record:document:submit` trace, the
blob encrypted under the record's key, SEC-1). Values follow `opendmp.adapters.sql` column for
column; audit entries are chained with the domain's own `entry_hash` (AUD-2), so
`opendmp audit verify` accepts them.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.datagen import (
    BENCH_OID,
    CONFIDENTIALITY,
    DocumentMix,
    DocumentSpec,
    Patient,
    Professional,
    fixed_coding,
    make_pdf,
    uuid_from,
)
from opendmp.adapters.crypto import EnvelopeVault
from opendmp.adapters.sql import tables as t
from opendmp.adapters.sql.records import name_key
from opendmp.domain.audit import GENESIS, Outcome
from opendmp.domain.documents import Coding, Label, invisible_patient_lapse
from opendmp.domain.policy import Action
from opendmp.domain.record import OpeningChannel
from opendmp.domain.terminology import LABEL_SYSTEM_URI
from opendmp.services.ports import WrappedKey

TABLES = (
    t.records,
    t.record_keys,
    t.consents,
    t.documents,
    t.document_authors,
    t.submission_sets,
    t.audit_entries,
    t.audit_heads,
)
COLUMNS = {table.name: tuple(c.name for c in table.columns) for table in TABLES}
MASKED_SHARE = 0.01  # DOC-7 MASQUE_PS (assumption)
INVISIBLE_PATIENT_SHARE = 0.005  # DOC-7 INVISIBLE_PATIENT (assumption)
HISTORY_YEARS = 5  # documents of the last five years


def _coding_json(coding: Coding) -> dict[str, str]:
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def author_json(pro: Professional) -> str:
    """The `authors` column of one professional author, as `adapters.sql.documents` writes it."""
    role = fixed_coding(f"profession:{pro.profession}")
    return json.dumps(
        [
            {
                "kind": "professional",
                "id": pro.idnps,
                "name": pro.name,
                "institution": pro.structure,
                "role": _coding_json(role),
            }
        ]
    )


AUDIT_COLUMNS = COLUMNS["audit_entries"]


def audit_hash(content: dict[str, Any]) -> str:
    """`domain.audit.entry_hash` without building an AuditEntry: the same canonical JSON of
    every field but `hash`, instants in ISO form (tests check both agree). `dataclasses.asdict`
    made the domain's version cost more than half of the bulk loader's CPU."""
    canonical = dict(content, recorded_at=content["recorded_at"].isoformat())
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass
class Batch:
    """Rows per table, in COPY column order, and the blobs (key, ciphertext) to write."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in COLUMNS}
    )
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    documents: int = 0

    def extend(self, other: Batch) -> None:
        for name, rows in other.rows.items():
            self.rows[name].extend(rows)
        self.blobs.extend(other.blobs)
        self.documents += other.documents

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass
class Chain:
    """One record's audit chain while it is being built (AUD-2)."""

    record_id: str
    sequence: int = 0
    last_hash: str = GENESIS


class RowFactory:
    """Builds the rows of records and documents; one per process (it caches codings)."""

    def __init__(
        self,
        vault: EnvelopeVault,
        mix: DocumentMix,
        staff: tuple[Professional, ...],
        *,
        blob_bytes: int,
        now: datetime,
    ) -> None:
        self.vault = vault
        self.mix = mix
        self.staff = staff
        self.openers = [p for p in staff if p.producer.name == "general-practice"] or list(staff)
        self.blob_bytes = blob_bytes
        self.now = now
        self._authors: dict[str, str] = {}
        self._format = fixed_coding("format")
        self._activity = fixed_coding("activity:07")
        self._confidentiality = json.dumps([_coding_json(CONFIDENTIALITY)])

    def _author(self, pro: Professional) -> str:
        cached = self._authors.get(pro.idnps)
        if cached is None:
            cached = self._authors[pro.idnps] = author_json(pro)
        return cached

    def audit(
        self, chain: Chain, actor: Professional, action: str, rule: str, when: datetime, **what: str
    ) -> tuple[Any, ...]:
        """The next entry of `chain` as an audit_entries row, hashed as the domain does (AUD-2)."""
        chain.sequence += 1
        content = {
            "id": str(uuid.uuid4()),
            "record_id": chain.record_id,
            "recorded_at": when.astimezone(UTC),
            "action": action,
            "outcome": Outcome.SUCCESS.value,
            "rule": rule,
            "actor_kind": "professional",
            "actor_id": actor.idnps,
            "actor_name": actor.name,
            "actor_profession": actor.profession,
            "actor_structure": actor.structure,
            "access_mode": "normal",
            "purpose_reason": "",
            "resource_type": what.get("resource_type", ""),
            "resource_id": what.get("resource_id", ""),
            "request_id": uuid.uuid4().hex,
            "client": "",
            "detail": what.get("detail", ""),
            "sequence": chain.sequence,
            "previous_hash": chain.last_hash,
        }
        chain.last_hash = audit_hash(content)
        return (*(content[name] for name in AUDIT_COLUMNS[:-1]), chain.last_hash)

    def open_record(
        self, patient: Patient, rng: random.Random, opened_at: datetime
    ) -> tuple[Batch, Chain, WrappedKey, Professional]:
        """REC-1 by a professional with the patient's consent: record, key, consent, trace."""
        batch = Batch()
        opener = rng.choice(self.openers)
        record_id = patient.record_id
        batch.rows["records"].append(
            (
                record_id, patient.ins_system, patient.ins, patient.family, patient.given,
                name_key(patient.family), name_key(patient.given), patient.birth_date,
                patient.sex, "open", opened_at, opener.idnps, OpeningChannel.PROFESSIONAL.value,
                True, True, True, False, False, False, None, None, None, None, 1,
            )
        )  # fmt: skip
        key = self.vault.new_data_key()
        batch.rows["record_keys"].append((record_id, key.master_key_id, key.wrapped))
        chain = Chain(record_id)
        batch.rows["audit_entries"].append(
            self.audit(
                chain, opener, Action.RECORD_OPEN.value, "REC-1", opened_at,
                resource_type="Patient", resource_id=record_id,
                detail=OpeningChannel.PROFESSIONAL.value,
            )
        )  # fmt: skip
        return batch, chain, key, opener

    def consent(
        self, record_id: str, pro: Professional, when: datetime, rng: random.Random
    ) -> tuple[Any, ...]:
        """R-PS-2: the professional is authorized on the record (a permit Consent)."""
        return (
            record_id, uuid_from(rng), pro.idnps, "permit", "PRCP", "professional", pro.idnps,
            when, True, pro.name, None,
        )  # fmt: skip

    def document(
        self,
        batch: Batch,
        patient: Patient,
        chain: Chain,
        key: WrappedKey,
        spec: DocumentSpec,
        submitted_at: datetime,
        rng: random.Random,
        *,
        blob: str = "encrypted",
    ) -> str:
        """DOC-1: one ITI-65 document, its submission set, its trace and its blob: encrypted
        under the record's key, `plain` (the caller encrypts, e.g. inside a timed section) or
        `none`."""
        record_id = patient.record_id
        doc_id = uuid_from(rng)
        set_id = uuid_from(rng)
        author = spec.author
        data = make_pdf(self.blob_bytes, [spec.title, f"{patient.given} {patient.family}"], rng=rng)
        masked = rng.random() < MASKED_SHARE
        invisible = rng.random() < INVISIBLE_PATIENT_SHARE
        confidentiality = self._confidentiality
        if masked or invisible:
            labels = [_coding_json(CONFIDENTIALITY)]
            for flag, label in ((masked, Label.MASQUE_PS), (invisible, Label.INVISIBLE_PATIENT)):
                if flag:
                    labels.append({"system": LABEL_SYSTEM_URI, "code": label.value, "display": ""})
            confidentiality = json.dumps(labels)
        kind, fmt, facility = spec.kind, self._format, fixed_coding(f"facility:{author.facility}")
        practice = fixed_coding(f"practice:{author.producer.practice}")
        authors = self._author(author)
        batch.rows["documents"].append(
            (
                record_id, doc_id, f"2.25.{uuid.UUID(doc_id).int}",
                "current", kind.type.system, kind.type.code, kind.type.display,
                kind.category.system, kind.category.code, kind.category.display, spec.date,
                authors, "professional", author.idnps, author.structure, submitted_at, set_id,
                "application/pdf", len(data), hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                spec.title, "fr-FR", fmt.system, fmt.code, fmt.display, facility.system,
                facility.code, facility.display, practice.system, practice.code, practice.display,
                spec.date, None, "[]", author.structure, confidentiality, masked,
                invisible_patient_lapse(submitted_at) if invisible else None, False,
                patient.ins_system, patient.ins, False, None, None, "", 1,
            )
        )  # fmt: skip
        batch.rows["document_authors"].append(
            (record_id, doc_id, 0, "professional", author.idnps, author.structure)
        )
        batch.rows["submission_sets"].append(
            (
                record_id, set_id, f"2.25.{uuid.UUID(set_id).int}", BENCH_OID,
                self._activity.system, self._activity.code, self._activity.display, submitted_at,
                authors, "professional", author.idnps, author.structure, submitted_at,
                json.dumps([doc_id]), "",
            )
        )  # fmt: skip
        batch.rows["audit_entries"].append(
            self.audit(
                chain, author, Action.DOCUMENT_SUBMIT.value, "DOC-1", submitted_at,
                resource_type="DocumentReference", resource_id=doc_id,
            )
        )  # fmt: skip
        blob_key = f"{record_id}/{doc_id}"
        if blob == "encrypted":
            batch.blobs.append((blob_key, self.vault.encrypt(key, data, context=blob_key)))
        elif blob == "plain":
            batch.blobs.append((blob_key, data))
        batch.documents += 1
        return doc_id

    def record_with_documents(
        self, patient: Patient, count: int, rng: random.Random, *, with_blobs: bool = True
    ) -> tuple[Batch, Professional]:
        """A record opened some time in the last HISTORY_YEARS and `count` documents since."""
        start = self.now - timedelta(days=365 * HISTORY_YEARS)
        opened_at = start + timedelta(seconds=rng.randrange(86_400 * 30))
        batch, chain, key, opener = self.open_record(patient, rng, opened_at)
        authorized = {opener.idnps}
        batch.rows["consents"].append(self.consent(patient.record_id, opener, opened_at, rng))
        specs = [self.mix.draw(rng, since=opened_at, until=self.now) for _ in range(count)]
        specs.sort(key=lambda s: s.date)
        for spec in specs:
            submitted_at = spec.date + timedelta(minutes=rng.randrange(5, 2880))
            if spec.author.idnps not in authorized:
                authorized.add(spec.author.idnps)
                batch.rows["consents"].append(
                    self.consent(patient.record_id, spec.author, spec.date, rng)
                )
            self.document(
                batch, patient, chain, key, spec, submitted_at, rng,
                blob="encrypted" if with_blobs else "none",
            )  # fmt: skip
        batch.rows["audit_heads"].append((patient.record_id, chain.sequence, chain.last_hash))
        return batch, opener
