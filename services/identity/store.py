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


class SecretKeyRow(IdentityBase):
    """A service secret (HMAC key), stored wrapped by the master key."""

    __tablename__ = "secret_keys"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SubjectRow(IdentityBase):
    """A person or an organisation, with its best real-name verification."""

    __tablename__ = "subjects"

    subject_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_representative: Mapped[str] = mapped_column(sa.String(200), default="")
    # The legal representative's ID number as the keyed HMAC its ID_CARD identifier would have.
    legal_representative_id_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    realname_method: Mapped[str | None] = mapped_column(sa.String(80), nullable=True)
    realname_level: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    realname_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    realname_evidence_sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    realname_reference: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SubjectIdRow(IdentityBase):
    """One identifier of a subject. The value is never stored in clear: ``id_hash`` (keyed
    HMAC) finds it, ``id_ciphertext`` (master key) gives it back."""

    __tablename__ = "subject_ids"

    id_type: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(sa.ForeignKey("subjects.subject_id"), index=True)
    id_ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SubjectAgentRow(IdentityBase):
    """A person authorised to sign for an organisation."""

    __tablename__ = "subject_agents"

    org_subject_id: Mapped[str] = mapped_column(sa.ForeignKey("subjects.subject_id"), primary_key=True)
    agent_subject_id: Mapped[str] = mapped_column(sa.ForeignKey("subjects.subject_id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
