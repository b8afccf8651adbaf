"""Contracts, signers, documents and revisions, groups, the audit chain, the webhook
outbox and its delivery log, signing-page links.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contract_groups",
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("biz_no", sa.String(128), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("template_docx_sha256", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("data_json", sa.Text, nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("expire_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("last_event_hash", sa.String(64), nullable=False),
        sa.Column("lta_pending", sa.Boolean, nullable=False),
        sa.UniqueConstraint("app_id", "biz_no", name="uq_contracts_app_biz_no"),
    )
    op.create_index("ix_contracts_app_created", "contracts", ["app_id", "created_at", "contract_id"])
    op.create_index("ix_contracts_app_group", "contracts", ["app_id", "group_id"])
    op.create_index("ix_contracts_status_expire", "contracts", ["status", "expire_at"])
    op.create_table(
        "signers",
        sa.Column("signer_id", sa.String(40), primary_key=True),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.contract_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("id_type", sa.String(32), nullable=False),
        sa.Column("id_value", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("mobile", sa.String(32), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("sign_mode", sa.String(16), nullable=False),
        sa.Column("sign_order", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("action_at", _TS, nullable=True),
        sa.Column("reject_reason", sa.Text, nullable=False),
    )
    op.create_index("ix_signers_contract", "signers", ["contract_id"])
    op.create_index("ix_signers_identifier", "signers", ["id_type", "id_value"])
    op.create_index("ix_signers_subject", "signers", ["subject_id"])
    op.create_table(
        "documents",
        sa.Column("document_id", sa.String(40), primary_key=True),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.contract_id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("blob_ref", sa.String(80), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("template_id", sa.String(40), nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("template_docx_sha256", sa.String(64), nullable=False),
        sa.Column("placements_json", sa.Text, nullable=False),
    )
    op.create_index("ix_documents_contract", "documents", ["contract_id"])
    op.create_table(
        "document_revisions",
        sa.Column("document_id", sa.String(40), sa.ForeignKey("documents.document_id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("contract_id", sa.String(40), nullable=False),
        sa.Column("blob_ref", sa.String(80), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("signer_id", sa.String(40), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.contract_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("signer_id", sa.String(40), nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("contract_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("lease_owner", sa.String(40), nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_outbox_contract", "webhook_outbox", ["contract_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("webhook_outbox.event_id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"])
    op.create_table(
        "sign_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("contract_id", sa.String(40), sa.ForeignKey("contracts.contract_id"), nullable=False),
        sa.Column("signer_id", sa.String(40), nullable=False),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("scene", sa.String(16), nullable=False),
        sa.Column("redirect_url", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("used_at", _TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sign_links")
    op.drop_index("ix_webhook_deliveries_event", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_outbox_contract", "webhook_outbox")
    op.drop_index("ix_webhook_outbox_due", "webhook_outbox")
    op.drop_table("webhook_outbox")
    op.drop_table("audit_events")
    op.drop_table("document_revisions")
    op.drop_index("ix_documents_contract", "documents")
    op.drop_table("documents")
    op.drop_index("ix_signers_subject", "signers")
    op.drop_index("ix_signers_identifier", "signers")
    op.drop_index("ix_signers_contract", "signers")
    op.drop_table("signers")
    op.drop_index("ix_contracts_status_expire", "contracts")
    op.drop_index("ix_contracts_app_group", "contracts")
    op.drop_index("ix_contracts_app_created", "contracts")
    op.drop_table("contracts")
    op.drop_table("contract_groups")
