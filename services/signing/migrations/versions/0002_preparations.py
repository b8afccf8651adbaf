"""Client-side signing preparations; issued certificates found by subject name.

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
        "preparations",
        sa.Column("preparation_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("signer_id", sa.String(64), nullable=False),
        sa.Column("intent_token_id", sa.String(64), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("field_name", sa.String(128), nullable=False),
        sa.Column("certificate_serial", sa.String(64), nullable=False),
        sa.Column("certificate_chain", sa.Text, nullable=False),
        sa.Column("prepared_pdf", sa.LargeBinary, nullable=False),
        sa.Column("document_digest", sa.LargeBinary, nullable=False),
        sa.Column("region_start", sa.BigInteger, nullable=False),
        sa.Column("region_end", sa.BigInteger, nullable=False),
        sa.Column("signed_attrs", sa.LargeBinary, nullable=False),
        sa.Column("signing_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_preparations_expires", "preparations", ["expires_at"])
    op.create_index("ix_certificates_name", "certificates", ["subject_name", "issued_at"])


def downgrade() -> None:
    op.drop_index("ix_certificates_name", table_name="certificates")
    op.drop_index("ix_preparations_expires", table_name="preparations")
    op.drop_table("preparations")
