"""The schema, as SQLAlchemy Core tables that run unchanged on SQLite and PostgreSQL.

Every table leads with `record_id`, and every primary key starts with it, so each table can be
hash-partitioned or distributed (Citus) by record and a record's rows live together
(docs/storage.md). Audit tables use `record_id` as the chain key: "" for entries without a
record (AUD-2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC, always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: OpenDMP stores aware UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL (smaller, indexable if a later query needs it).
Json: Any = JSON().with_variant(postgresql.JSONB(), "postgresql")


def _coding(prefix: str, *, nullable: bool) -> list[Column[Any]]:
    """A Coding as three columns, so code filters are plain indexed equality."""
    return [
        Column(f"{prefix}_system", String, nullable=nullable),
        Column(f"{prefix}_code", String, nullable=nullable),
        Column(f"{prefix}_display", String, nullable=nullable),
    ]


records = Table(
    "records",
    metadata,
    Column("record_id", String, nullable=False),
    Column("ins_system", String, nullable=False),
    Column("ins_value", String, nullable=False),
    Column("family", String, nullable=False),
    Column("given", String, nullable=False),
    Column("family_key", String, nullable=False),  # case- and accent-folded (R-EM-2 search)
    Column("given_key", String, nullable=False),
    Column("birth_date", Date),
    Column("sex", String, nullable=False),
    Column("state", String, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("is_activated", Boolean, nullable=False),
    Column("allow_centre_15", Boolean, nullable=False),
    Column("allow_break_the_glass", Boolean, nullable=False),
    Column("allow_masked_in_emergency", Boolean, nullable=False),
    Column("mask_new_documents", Boolean, nullable=False),
    Column("notify_new_documents", Boolean, nullable=False),
    Column("email", String),
    Column("closed_at", UtcDateTime),
    Column("closure_reason", String),
    Column("destroy_after", UtcDateTime),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("record_id"),
)
Index(
    "uq_records_live_ins",
    records.c.ins_value,
    unique=True,
    postgresql_where=text("state <> 'destroyed'"),
    sqlite_where=text("state <> 'destroyed'"),
)
Index("ix_records_demographics", records.c.family_key, records.c.birth_date)
Index(
    "ix_records_destroy_after",
    records.c.destroy_after,
    postgresql_where=text("state = 'closed'"),
    sqlite_where=text("state = 'closed'"),
)

representatives = Table(
    "representatives",
    metadata,
    Column("record_id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("ins_system", String, nullable=False),
    Column("ins_value", String, nullable=False),
    Column("relationship", String, nullable=False),
    Column("name", String, nullable=False),
    PrimaryKeyConstraint("record_id", "position"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)
Index("ix_representatives_ins_value", representatives.c.ins_value)

record_keys = Table(
    "record_keys",
    metadata,
    Column("record_id", String, nullable=False),
    Column("master_key_id", String, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    PrimaryKeyConstraint("record_id"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)
Index("ix_record_keys_master_key_id", record_keys.c.master_key_id)

consents = Table(
    "consents",
    metadata,
    Column("record_id", String, nullable=False),
    Column("id", String, nullable=False),
    Column("professional_id", String, nullable=False),
    Column("provision", String, nullable=False),
    Column("role", String, nullable=False),
    Column("performer_kind", String, nullable=False),
    Column("performer_id", String, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("professional_name", String, nullable=False),
    Column("ended_at", UtcDateTime),
    PrimaryKeyConstraint("record_id", "id"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)
Index("ix_consents_id", consents.c.id)
Index("ix_consents_professional", consents.c.record_id, consents.c.professional_id)

documents = Table(
    "documents",
    metadata,
    Column("record_id", String, nullable=False),
    Column("id", String, nullable=False),
    Column("unique_id", String, nullable=False),
    Column("status", String, nullable=False),
    *_coding("type", nullable=False),
    *_coding("category", nullable=False),
    Column("date", UtcDateTime, nullable=False),
    Column("authors", Json, nullable=False),  # the full Author list, in order
    Column("submitter_kind", String, nullable=False),
    Column("submitter_id", String, nullable=False),
    Column("submitter_structure", String),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("submission_set_id", String, nullable=False),
    Column("content_type", String, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha1", String, nullable=False),
    Column("title", String, nullable=False),
    Column("language", String, nullable=False),
    *_coding("format", nullable=True),
    *_coding("facility", nullable=True),
    *_coding("practice", nullable=True),
    Column("period_start", UtcDateTime),
    Column("period_end", UtcDateTime),
    Column("events", Json, nullable=False),
    Column("custodian", String),
    Column("confidentiality", Json, nullable=False),
    # DOC-7 labels as filterable columns; INVISIBLE_PATIENT as its lapse instant (or NULL).
    Column("is_masked_ps", Boolean, nullable=False),
    Column("invisible_patient_until", UtcDateTime),
    Column("is_invisible_rl", Boolean, nullable=False),
    Column("subject_system", String),
    Column("subject_value", String),
    Column("is_archived", Boolean, nullable=False),
    Column("replaces", String),
    Column("replaced_by", String),
    Column("description", Text, nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("record_id", "id"),
    UniqueConstraint("record_id", "unique_id"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)
Index("ix_documents_id", documents.c.id)
Index("ix_documents_search", documents.c.record_id, documents.c.status, documents.c.date)
Index(
    "ix_documents_invisible_patient",
    documents.c.submitted_at,
    postgresql_where=text("invisible_patient_until IS NOT NULL"),
    sqlite_where=text("invisible_patient_until IS NOT NULL"),
)

document_authors = Table(
    "document_authors",
    metadata,
    Column("record_id", String, nullable=False),
    Column("document_id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String, nullable=False),
    Column("author_id", String, nullable=False),
    Column("institution", String),
    PrimaryKeyConstraint("record_id", "document_id", "position"),
    ForeignKeyConstraint(
        ["record_id", "document_id"], ["documents.record_id", "documents.id"], ondelete="CASCADE"
    ),
)
Index("ix_document_authors_author_id", document_authors.c.record_id, document_authors.c.author_id)
Index(
    "ix_document_authors_institution", document_authors.c.record_id, document_authors.c.institution
)

document_events = Table(
    "document_events",
    metadata,
    Column("record_id", String, nullable=False),
    Column("document_id", String, nullable=False),
    Column("position", Integer, nullable=False),
    Column("system", String, nullable=False),
    Column("code", String, nullable=False),
    PrimaryKeyConstraint("record_id", "document_id", "position"),
    ForeignKeyConstraint(
        ["record_id", "document_id"], ["documents.record_id", "documents.id"], ondelete="CASCADE"
    ),
)
Index("ix_document_events_code", document_events.c.record_id, document_events.c.code)

submission_sets = Table(
    "submission_sets",
    metadata,
    Column("record_id", String, nullable=False),
    Column("id", String, nullable=False),
    Column("unique_id", String, nullable=False),
    Column("source_id", String, nullable=False),
    *_coding("content_type", nullable=False),
    Column("date", UtcDateTime, nullable=False),
    Column("authors", Json, nullable=False),
    Column("submitter_kind", String, nullable=False),
    Column("submitter_id", String, nullable=False),
    Column("submitter_structure", String),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("document_ids", Json, nullable=False),
    Column("title", String, nullable=False),
    PrimaryKeyConstraint("record_id", "id"),
    UniqueConstraint("record_id", "unique_id"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("record_id", String, nullable=False),  # the chain key: "" when no record
    Column("sequence", BigInteger, nullable=False),
    Column("id", String, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("action", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("rule", String, nullable=False),
    Column("actor_kind", String, nullable=False),
    Column("actor_id", String, nullable=False),
    Column("actor_name", String, nullable=False),
    Column("actor_profession", String, nullable=False),
    Column("actor_structure", String, nullable=False),
    Column("access_mode", String, nullable=False),
    Column("purpose_reason", Text, nullable=False),
    Column("resource_type", String, nullable=False),
    Column("resource_id", String, nullable=False),
    Column("request_id", String, nullable=False),
    Column("client", String, nullable=False),
    Column("detail", Text, nullable=False),
    Column("previous_hash", String, nullable=False),
    Column("hash", String, nullable=False),
    PrimaryKeyConstraint("record_id", "sequence"),
)
Index("ix_audit_entries_id", audit_entries.c.id)
Index("ix_audit_entries_date", audit_entries.c.record_id, audit_entries.c.recorded_at)
Index(
    "ix_audit_entries_actor",
    audit_entries.c.record_id,
    audit_entries.c.actor_id,
    audit_entries.c.recorded_at,
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("record_id", String, nullable=False),  # the chain key, as in audit_entries
    Column("last_sequence", BigInteger, nullable=False),
    Column("last_hash", String, nullable=False),
    PrimaryKeyConstraint("record_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("record_id", String, nullable=False),
    Column("id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("last_error", Text, nullable=False),
    PrimaryKeyConstraint("record_id", "id"),
    ForeignKeyConstraint(["record_id"], ["records.record_id"], ondelete="CASCADE"),
)
Index("ix_outbox_id", outbox.c.id)
Index(
    "ix_outbox_due",
    outbox.c.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
    sqlite_where=text("status = 'pending'"),
)
