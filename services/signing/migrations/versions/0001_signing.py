"""Issued certificates, seals and evidence records.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("issuer", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject_dn", sa.Text, nullable=False),
        sa.Column("subject_name", sa.String(200), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(32), nullable=True),
        sa.Column("revocation_note", sa.Text, nullable=True),
        sa.Column("cert_der", sa.LargeBinary, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_certificates_issuer_status", "certificates", ["issuer", "status"])
    op.create_index("ix_certificates_subject", "certificates", ["subject_id", "issued_at"])
    op.create_index("ix_certificates_issued", "certificates", ["issued_at", "serial"])

    op.create_table(
        "seals",
        sa.Column("seal_id", sa.String(40), primary_key=True),
        sa.Column("owner_hash", sa.String(64), nullable=False),
        sa.Column("id_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("style", sa.String(24), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("image_ref", sa.String(80), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("created_by_app", sa.String(40), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seals_owner", "seals", ["owner_hash", "created_at", "seal_id"])
    op.create_index("ux_seals_default", "seals", ["owner_hash"], unique=True,
                    postgresql_where=sa.text("is_default"), sqlite_where=sa.text("is_default"))

    op.create_table(
        "evidence",
        sa.Column("evidence_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("signer_id", sa.String(64), nullable=False),
        sa.Column("intent_token_id", sa.String(64), nullable=True),
        sa.Column("field_name", sa.String(128), nullable=False),
        sa.Column("certificate_serial", sa.String(40), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("signed_sha256", sa.String(64), nullable=False),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("intent_token_id", "contract_id", "document_sha256", name="uq_evidence_intent_document"),
    )
    op.create_index("ix_evidence_contract", "evidence", ["contract_id", "created_at"])


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("seals")
    op.drop_table("certificates")
