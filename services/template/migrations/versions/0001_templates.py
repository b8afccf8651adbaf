"""Template groups, templates and their versions.

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
        "template_groups",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "templates",
        sa.Column("template_id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("group_id", sa.String(64), sa.ForeignKey("template_groups.group_id"), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("creator", sa.String(64), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("latest_status", sa.String(16), nullable=False),
        sa.Column("approved_version", sa.Integer, nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_templates_created", "templates", ["created_at", "template_id"])
    op.create_index("ix_templates_group_id", "templates", ["group_id"])
    op.create_table(
        "template_versions",
        sa.Column("template_id", sa.String(40), sa.ForeignKey("templates.template_id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("docx_ref", sa.String(80), nullable=False),
        sa.Column("docx_sha256", sa.String(64), nullable=False),
        sa.Column("fields_json", sa.Text, nullable=False),
        sa.Column("signers_json", sa.Text, nullable=False),
        sa.Column("change_note", sa.Text, nullable=False),
        sa.Column("uploader", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("review_comment", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("template_versions")
    op.drop_index("ix_templates_group_id", "templates")
    op.drop_index("ix_templates_created", "templates")
    op.drop_table("templates")
    op.drop_table("template_groups")
