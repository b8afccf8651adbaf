"""Subjects, their identifiers (hashed and encrypted), authorised agents, wrapped service keys.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("legal_representative", sa.String(200), nullable=False),
        sa.Column("realname_method", sa.String(80), nullable=True),
        sa.Column("realname_level", sa.String(32), nullable=True),
        sa.Column("realname_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("realname_evidence_sha256", sa.String(64), nullable=True),
        sa.Column("realname_reference", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subject_ids",
        sa.Column("id_type", sa.String(32), primary_key=True),
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(40), sa.ForeignKey("subjects.subject_id"), nullable=False),
        sa.Column("id_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_subject_ids_subject_id", "subject_ids", ["subject_id"])
    op.create_table(
        "subject_agents",
        sa.Column("org_subject_id", sa.String(40), sa.ForeignKey("subjects.subject_id"), primary_key=True),
        sa.Column("agent_subject_id", sa.String(40), sa.ForeignKey("subjects.subject_id"), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("subject_agents")
    op.drop_index("ix_subject_ids_subject_id", table_name="subject_ids")
    op.drop_table("subject_ids")
    op.drop_table("subjects")
    op.drop_table("secret_keys")
