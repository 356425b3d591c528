"""The initial schema: records, documents, consents, audit chain, outbox, wrapped keys.

Written out explicitly (not created from tables.py) so that this revision never changes;
tests/integration/test_sql_migrations.py checks that tables.py and the migrations agree.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("actor_kind", sa.String(), nullable=False),
        sa.Column("actor_id", sa.String(), nullable=False),
        sa.Column("actor_name", sa.String(), nullable=False),
        sa.Column("actor_profession", sa.String(), nullable=False),
        sa.Column("actor_structure", sa.String(), nullable=False),
        sa.Column("access_mode", sa.String(), nullable=False),
        sa.Column("purpose_reason", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "sequence", name=op.f("pk_audit_entries")),
    )
    op.create_index(
        "ix_audit_entries_actor",
        "audit_entries",
        ["record_id", "actor_id", "recorded_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_entries_date", "audit_entries", ["record_id", "recorded_at"], unique=False
    )
    op.create_index("ix_audit_entries_id", "audit_entries", ["id"], unique=False)

    op.create_table(
        "audit_heads",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("ins_system", sa.String(), nullable=False),
        sa.Column("ins_value", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("given", sa.String(), nullable=False),
        sa.Column("family_key", sa.String(), nullable=False),
        sa.Column("given_key", sa.String(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("is_activated", sa.Boolean(), nullable=False),
        sa.Column("allow_centre_15", sa.Boolean(), nullable=False),
        sa.Column("allow_break_the_glass", sa.Boolean(), nullable=False),
        sa.Column("allow_masked_in_emergency", sa.Boolean(), nullable=False),
        sa.Column("mask_new_documents", sa.Boolean(), nullable=False),
        sa.Column("notify_new_documents", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_reason", sa.String(), nullable=True),
        sa.Column("destroy_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_records")),
    )
    op.create_index(
        "ix_records_demographics", "records", ["family_key", "birth_date"], unique=False
    )
    op.create_index(
        "ix_records_destroy_after",
        "records",
        ["destroy_after"],
        unique=False,
        postgresql_where=sa.text("state = 'closed'"),
        sqlite_where=sa.text("state = 'closed'"),
    )
    op.create_index(
        "uq_records_live_ins",
        "records",
        ["ins_value"],
        unique=True,
        postgresql_where=sa.text("state <> 'destroyed'"),
        sqlite_where=sa.text("state <> 'destroyed'"),
    )

    op.create_table(
        "consents",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("professional_id", sa.String(), nullable=False),
        sa.Column("provision", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("performer_kind", sa.String(), nullable=False),
        sa.Column("performer_id", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("professional_name", sa.String(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_consents_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_id", "consents", ["id"], unique=False)
    op.create_index(
        "ix_consents_professional", "consents", ["record_id", "professional_id"], unique=False
    )

    op.create_table(
        "documents",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("unique_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("type_system", sa.String(), nullable=False),
        sa.Column("type_code", sa.String(), nullable=False),
        sa.Column("type_display", sa.String(), nullable=False),
        sa.Column("category_system", sa.String(), nullable=False),
        sa.Column("category_code", sa.String(), nullable=False),
        sa.Column("category_display", sa.String(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authors", JSON, nullable=False),
        sa.Column("submitter_kind", sa.String(), nullable=False),
        sa.Column("submitter_id", sa.String(), nullable=False),
        sa.Column("submitter_structure", sa.String(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission_set_id", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha1", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("format_system", sa.String(), nullable=True),
        sa.Column("format_code", sa.String(), nullable=True),
        sa.Column("format_display", sa.String(), nullable=True),
        sa.Column("facility_system", sa.String(), nullable=True),
        sa.Column("facility_code", sa.String(), nullable=True),
        sa.Column("facility_display", sa.String(), nullable=True),
        sa.Column("practice_system", sa.String(), nullable=True),
        sa.Column("practice_code", sa.String(), nullable=True),
        sa.Column("practice_display", sa.String(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("custodian", sa.String(), nullable=True),
        sa.Column("confidentiality", JSON, nullable=False),
        sa.Column("is_masked_ps", sa.Boolean(), nullable=False),
        sa.Column("invisible_patient_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_invisible_rl", sa.Boolean(), nullable=False),
        sa.Column("subject_system", sa.String(), nullable=True),
        sa.Column("subject_value", sa.String(), nullable=True),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("replaces", sa.String(), nullable=True),
        sa.Column("replaced_by", sa.String(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_documents_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "record_id", "unique_id", name=op.f("uq_documents_record_id_unique_id")
        ),
    )
    op.create_index("ix_documents_id", "documents", ["id"], unique=False)
    op.create_index(
        "ix_documents_invisible_patient",
        "documents",
        ["submitted_at"],
        unique=False,
        postgresql_where=sa.text("invisible_patient_until IS NOT NULL"),
        sqlite_where=sa.text("invisible_patient_until IS NOT NULL"),
    )
    op.create_index(
        "ix_documents_search", "documents", ["record_id", "status", "date"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_outbox_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_id", "outbox", ["id"], unique=False)

    op.create_table(
        "record_keys",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("master_key_id", sa.String(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_record_keys_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_keys")),
    )
    op.create_index("ix_record_keys_master_key_id", "record_keys", ["master_key_id"], unique=False)

    op.create_table(
        "representatives",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ins_system", sa.String(), nullable=False),
        sa.Column("ins_value", sa.String(), nullable=False),
        sa.Column("relationship", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_representatives_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "position", name=op.f("pk_representatives")),
    )
    op.create_index("ix_representatives_ins_value", "representatives", ["ins_value"], unique=False)

    op.create_table(
        "submission_sets",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("unique_id", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("content_type_system", sa.String(), nullable=False),
        sa.Column("content_type_code", sa.String(), nullable=False),
        sa.Column("content_type_display", sa.String(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("authors", JSON, nullable=False),
        sa.Column("submitter_kind", sa.String(), nullable=False),
        sa.Column("submitter_id", sa.String(), nullable=False),
        sa.Column("submitter_structure", sa.String(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_ids", JSON, nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.record_id"],
            name=op.f("fk_submission_sets_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "id", name=op.f("pk_submission_sets")),
        sa.UniqueConstraint(
            "record_id", "unique_id", name=op.f("uq_submission_sets_record_id_unique_id")
        ),
    )
    op.create_table(
        "document_authors",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("document_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("institution", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id", "document_id"],
            ["documents.record_id", "documents.id"],
            name=op.f("fk_document_authors_record_id_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "record_id", "document_id", "position", name=op.f("pk_document_authors")
        ),
    )
    op.create_index(
        "ix_document_authors_author_id",
        "document_authors",
        ["record_id", "author_id"],
        unique=False,
    )
    op.create_index(
        "ix_document_authors_institution",
        "document_authors",
        ["record_id", "institution"],
        unique=False,
    )

    op.create_table(
        "document_events",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("document_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id", "document_id"],
            ["documents.record_id", "documents.id"],
            name=op.f("fk_document_events_record_id_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "record_id", "document_id", "position", name=op.f("pk_document_events")
        ),
    )
    op.create_index(
        "ix_document_events_code", "document_events", ["record_id", "code"], unique=False
    )


def downgrade() -> None:
    op.drop_table("document_events")
    op.drop_table("document_authors")
    op.drop_table("submission_sets")
    op.drop_table("representatives")
    op.drop_table("record_keys")
    op.drop_table("outbox")
    op.drop_table("documents")
    op.drop_table("consents")
    op.drop_table("records")
    op.drop_table("audit_heads")
    op.drop_table("audit_entries")
