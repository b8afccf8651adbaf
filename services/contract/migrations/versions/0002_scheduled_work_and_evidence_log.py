"""Scheduled work (the scheduler's jobs, notices to signers, signing grants and their
delegated signatures) and the evidence log (leaves and signed tree heads).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("next_run_at", _TS, nullable=False),
        sa.Column("lease_owner", sa.String(40), nullable=False, server_default=""),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_started_at", _TS, nullable=True),
        sa.Column("last_finished_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "signer_notices",
        sa.Column("notice_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("contract_id", sa.String(40), nullable=False),
        sa.Column("signer_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_owner", sa.String(40), nullable=False, server_default=""),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("message_id", sa.String(80), nullable=False, server_default=""),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("signer_id", "kind", "seq", name="uq_signer_notices_once"),
    )
    op.create_index("ix_signer_notices_due", "signer_notices", ["status", "next_attempt_at"])
    op.create_table(
        "signing_grants",
        sa.Column("grant_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("organisation_name", sa.String(200), nullable=False),
        sa.Column("id_type", sa.String(32), nullable=False),
        sa.Column("id_value", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("template_ids_json", sa.Text, nullable=False),
        sa.Column("amount_limit", sa.String(40), nullable=False, server_default=""),
        sa.Column("valid_from", _TS, nullable=False),
        sa.Column("valid_until", _TS, nullable=False),
        sa.Column("seal_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("use_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_signing_grants_app_created", "signing_grants", ["app_id", "created_at", "grant_id"])
    op.create_index("ix_signing_grants_subject", "signing_grants", ["status", "subject_id"])
    op.create_table(
        "delegated_signings",
        sa.Column("contract_id", sa.String(40), primary_key=True),
        sa.Column("signer_id", sa.String(40), primary_key=True),
        sa.Column("grant_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(40), nullable=False, server_default=""),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "evidence_leaves",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("contract_id", sa.String(40), nullable=False, unique=True),
        sa.Column("leaf_json", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.Column("certificate_ref", sa.String(80), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "evidence_tree_heads",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.Column("head_json", sa.Text, nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary, nullable=False),
        sa.Column("tsa_chain_pem", sa.Text, nullable=False),
        sa.Column("root_pem", sa.Text, nullable=False),
        sa.Column("published_at", _TS, nullable=True),
        sa.Column("ledger_receipt", sa.Text, nullable=False, server_default=""),
        sa.Column("publish_error", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    for table in ("evidence_tree_heads", "evidence_leaves", "delegated_signings", "signing_grants",
                  "signer_notices", "scheduled_jobs"):
        op.drop_table(table)
