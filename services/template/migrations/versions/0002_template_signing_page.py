"""A template's own signing-page settings (proto3 JSON of SigningPageOverride; NULL = none).

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
    op.add_column("templates", sa.Column("signing_page_json", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("templates", "signing_page_json")
