"""Tables of the contract service's scheduled work: the scheduler's jobs, notices to
signers, signing grants and the delegated signatures made under them."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.contract.store import ContractBase


class ScheduledJobRow(ContractBase):
    """One recurring job: when it is next due and which replica holds it (see scheduler.py)."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    lease_owner: Mapped[str] = mapped_column(sa.String(40), default="")
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    runs: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")


class NoticeRow(ContractBase):
    """A message to a signer (reminder or expiry notice); one per signer, kind and number."""

    __tablename__ = "signer_notices"
    __table_args__ = (
        sa.UniqueConstraint("signer_id", "kind", "seq", name="uq_signer_notices_once"),
        sa.Index("ix_signer_notices_due", "status", "next_attempt_at"),
    )

    notice_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(40))
    contract_id: Mapped[str] = mapped_column(sa.String(40))
    signer_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(16))
    seq: Mapped[int] = mapped_column(sa.Integer)
    channel: Mapped[str] = mapped_column(sa.String(8))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    lease_owner: Mapped[str] = mapped_column(sa.String(40), default="")
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    message_id: Mapped[str] = mapped_column(sa.String(80), default="")
    last_error: Mapped[str] = mapped_column(sa.Text, default="")


class GrantRow(ContractBase):
    """An organisation's grant to sign on its behalf (delegation.py)."""

    __tablename__ = "signing_grants"
    __table_args__ = (
        sa.Index("ix_signing_grants_app_created", "app_id", "created_at", "grant_id"),
        sa.Index("ix_signing_grants_subject", "status", "subject_id"),
    )

    grant_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(40))
    organisation_name: Mapped[str] = mapped_column(sa.String(200))
    id_type: Mapped[str] = mapped_column(sa.String(32))
    id_value: Mapped[str] = mapped_column(sa.String(128))
    subject_id: Mapped[str] = mapped_column(sa.String(40))
    template_ids_json: Mapped[str] = mapped_column(sa.Text)
    amount_limit: Mapped[str] = mapped_column(sa.String(40), default="")
    valid_from: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    seal_id: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(sa.String(80))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoke_reason: Mapped[str] = mapped_column(sa.Text, default="")
    use_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64))


class DelegatedSigningRow(ContractBase):
    """A delegated signature of one signer: claimed by one replica, then DONE (or given up)."""

    __tablename__ = "delegated_signings"

    contract_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    signer_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    grant_id: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    lease_owner: Mapped[str] = mapped_column(sa.String(40), default="")
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
