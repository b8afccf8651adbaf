"""Tables of the evidence log: its leaves (append-only, gapless from 0) and its signed
tree heads (evidence_log.py, tree_heads.py)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.contract.store import ContractBase


class LeafRow(ContractBase):
    """One leaf: a completed contract's evidence. The primary key keeps indices unique,
    so two appends that race for the same index cannot both commit."""

    __tablename__ = "evidence_leaves"

    leaf_index: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    contract_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    leaf_json: Mapped[str] = mapped_column(sa.Text)  # the exact logged bytes, UTF-8
    leaf_hash: Mapped[str] = mapped_column(sa.String(64))
    certificate_ref: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class TreeHeadRow(ContractBase):
    """A signed tree head: one per tree size, timestamped by the platform TSA."""

    __tablename__ = "evidence_tree_heads"

    tree_size: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(sa.String(64))
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    head_json: Mapped[str] = mapped_column(sa.Text)  # the exact signed bytes, UTF-8
    timestamp_token: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # The certificates that check the token, as they were when it was made (the TSA's may be renewed later).
    tsa_chain_pem: Mapped[str] = mapped_column(sa.Text)
    root_pem: Mapped[str] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    ledger_receipt: Mapped[str] = mapped_column(sa.Text, default="")
    publish_error: Mapped[str] = mapped_column(sa.Text, default="")
