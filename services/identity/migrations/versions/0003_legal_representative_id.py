"""An organisation's legal representative's ID number, as a keyed hash (never in clear).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subjects", sa.Column("legal_representative_id_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("subjects", "legal_representative_id_hash")
