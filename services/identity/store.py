"""The identity service's tables."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class IdentityBase(DeclarativeBase):
    """Metadata of the identity service's own tables."""


class AppRow(IdentityBase):
    """A business line's app: its credentials, scopes and settings."""

    __tablename__ = "apps"

    app_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # AES-GCM under the master key, bound to the app id; HMAC checks need the secret itself.
    secret_ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    scopes: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    settings_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
