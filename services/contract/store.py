"""The contract service's tables, and the one way a contract's state changes: a
compare-and-set on its ``version`` column.

Every state change (a signature, a rejection, revocation, expiry) runs
``UPDATE contracts SET version = version + 1, ... WHERE contract_id = :id AND
version = :read``; when another request changed the contract since it was read, no row
matches and the change is refused with ``Conflict``, so an update is never lost.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class ContractBase(DeclarativeBase):
    """Metadata of the contract service's own tables."""


class GroupRow(ContractBase):
    """A combined-signing group of one business line."""

    __tablename__ = "contract_groups"

    app_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    group_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ContractRow(ContractBase):
    __tablename__ = "contracts"
    __table_args__ = (
        # Same app + bizNo is one contract, also when two creates race.
        sa.UniqueConstraint("app_id", "biz_no", name="uq_contracts_app_biz_no"),
        sa.Index("ix_contracts_app_created", "app_id", "created_at", "contract_id"),
        sa.Index("ix_contracts_app_group", "app_id", "group_id"),
        sa.Index("ix_contracts_status_expire", "status", "expire_at"),
    )

    contract_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(40))
    biz_no: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    template_id: Mapped[str] = mapped_column(sa.String(40))
    template_version: Mapped[int] = mapped_column(sa.Integer)
    template_docx_sha256: Mapped[str] = mapped_column(sa.String(64))
    group_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    data_json: Mapped[str] = mapped_column(sa.Text)
    amount: Mapped[str] = mapped_column(sa.String(40), default="")
    expire_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # Optimistic concurrency of the signing state (see the module docstring).
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # Head of the audit chain; appends lock this row, so the chain never forks.
    event_seq: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(sa.String(64))
    # COMPLETED but the documents still lack their B-LTA document timestamp.
    lta_pending: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class SignerRow(ContractBase):
    __tablename__ = "signers"
    __table_args__ = (
        sa.Index("ix_signers_contract", "contract_id"),
        sa.Index("ix_signers_identifier", "id_type", "id_value"),
        sa.Index("ix_signers_subject", "subject_id"),
    )

    signer_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.contract_id"))
    seq: Mapped[int] = mapped_column(sa.Integer)  # position in the create request
    role: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    id_type: Mapped[str] = mapped_column(sa.String(32))
    id_value: Mapped[str] = mapped_column(sa.String(128))
    subject_id: Mapped[str] = mapped_column(sa.String(40))
    mobile: Mapped[str] = mapped_column(sa.String(32), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    sign_mode: Mapped[str] = mapped_column(sa.String(16))
    sign_order: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))
    action_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    reject_reason: Mapped[str] = mapped_column(sa.Text, default="")


class DocumentRow(ContractBase):
    """A document of a contract; its current revision is mirrored here."""

    __tablename__ = "documents"
    __table_args__ = (sa.Index("ix_documents_contract", "contract_id"),)

    document_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.contract_id"))
    seq: Mapped[int] = mapped_column(sa.Integer)  # 0 = the main document
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    pages: Mapped[int] = mapped_column(sa.Integer)
    revision: Mapped[int] = mapped_column(sa.Integer)
    blob_ref: Mapped[str] = mapped_column(sa.String(80))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    template_id: Mapped[str] = mapped_column(sa.String(40), default="")
    template_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    template_docx_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    # Where each role signs on this document (from its template), JSON.
    placements_json: Mapped[str] = mapped_column(sa.Text, default="{}")


class RevisionRow(ContractBase):
    """One revision of a document: 0 as generated, then one per signature or timestamp."""

    __tablename__ = "document_revisions"

    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.document_id"), primary_key=True)
    revision: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    contract_id: Mapped[str] = mapped_column(sa.String(40))
    blob_ref: Mapped[str] = mapped_column(sa.String(80))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    cause: Mapped[str] = mapped_column(sa.String(16))
    signer_id: Mapped[str] = mapped_column(sa.String(40), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class EventRow(ContractBase):
    """One link of a contract's hash-chained audit trail."""

    __tablename__ = "audit_events"

    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.contract_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(80))
    signer_id: Mapped[str] = mapped_column(sa.String(40), default="")
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(512), default="")
    trace_id: Mapped[str] = mapped_column(sa.String(32), default="")
    details_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class OutboxRow(ContractBase):
    """A webhook event waiting for (or done with) delivery."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        sa.Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_outbox_contract", "contract_id"),
    )

    event_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(sa.String(40))
    contract_id: Mapped[str] = mapped_column(sa.String(40))
    type: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[str] = mapped_column(sa.Text)  # the exact JSON every attempt sends
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    lease_owner: Mapped[str] = mapped_column(sa.String(40), default="")
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")


class DeliveryRow(ContractBase):
    """One attempt to deliver a webhook event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_event", "event_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_outbox.event_id"))
    attempt: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    url: Mapped[str] = mapped_column(sa.Text, default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    outcome: Mapped[str] = mapped_column(sa.String(16))
    status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    duration_ms: Mapped[int] = mapped_column(sa.Integer, default=0)


class SignLinkRow(ContractBase):
    """A one-time signing-page link; only the SHA-256 of its token is kept."""

    __tablename__ = "sign_links"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    contract_id: Mapped[str] = mapped_column(sa.ForeignKey("contracts.contract_id"))
    signer_id: Mapped[str] = mapped_column(sa.String(40))
    app_id: Mapped[str] = mapped_column(sa.String(40))
    source: Mapped[str] = mapped_column(sa.String(8))
    scene: Mapped[str] = mapped_column(sa.String(16))
    redirect_url: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class Conflict(Exception):
    """The contract changed since it was read; the caller decides: retry or ABORTED."""


def compare_and_set(session: Session, contract_id: str, read_version: int, **changes: Any) -> int:
    """Apply ``changes`` to the contract only if it is still at ``read_version``; the new version."""
    result = session.execute(
        sa.update(ContractRow)
        .where(ContractRow.contract_id == contract_id, ContractRow.version == read_version)
        .values(version=ContractRow.version + 1, **changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(contract_id)
    return read_version + 1
