"""Signed tree heads of the evidence log: size, root, time, and an RFC 3161 timestamp
token of the platform TSA over those exact bytes; then pushed to the external ledger.

One tree head per tree size (the primary key), issued when the log has grown since
the last one: periodically by the scheduler, and on demand when an evidence bundle
needs one that covers its leaf. The certificates that check the token (the TSA's, its
issuing CA and the root) are kept with it, as they were, so a bundle made years later
still carries the right ones after the TSA's certificate has been renewed.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.errors import FailedPrecondition, NotFound
from services.contract.evidence_formats import tree_head_bytes
from services.contract.evidence_log import EvidenceLog
from services.contract.evidence_store import TreeHeadRow
from services.contract.ledger import TreeHeadLedger
from services.contract.timestamp_client import TimestampClient
from services.contract.times import as_utc, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: str
    issued_at: datetime
    head_json: bytes
    timestamp_token: bytes
    tsa_chain_pem: bytes
    root_pem: bytes
    published_at: datetime | None
    ledger_receipt: str


def _head(row: TreeHeadRow) -> TreeHead:
    return TreeHead(row.tree_size, row.root_hash, as_utc(row.issued_at), row.head_json.encode("utf-8"),
                    bytes(row.timestamp_token), row.tsa_chain_pem.encode("ascii"), row.root_pem.encode("ascii"),
                    as_utc(row.published_at) if row.published_at else None, row.ledger_receipt)


def _pem(*ders: bytes) -> str:
    return "".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM).decode("ascii")
                   for d in ders)


class TreeHeads:
    def __init__(self, sessions: sessionmaker, log: EvidenceLog, tsa: TimestampClient, ledger: TreeHeadLedger | None,
                 log_id: str, *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._log = log
        self._tsa = tsa
        self._ledger = ledger
        self._log_id = log_id
        self._clock = clock

    def issue(self) -> TreeHead | None:
        """A tree head of the whole log if it grew since the last one; the newest one (None: empty log)."""
        size = self._log.size()
        latest = self.latest()
        if size == 0 or (latest is not None and latest.tree_size >= size):
            return latest
        root = self._log.root(size).hex()
        now = self._clock()
        head_json = tree_head_bytes(self._log_id, size, root, now)
        token = self._tsa.timestamp(hashlib.sha256(head_json).digest())
        trust = self._tsa.trust_material()
        try:
            with self._sessions.begin() as session:
                session.add(TreeHeadRow(tree_size=size, root_hash=root, issued_at=now, head_json=head_json.decode("utf-8"),
                                        timestamp_token=token, tsa_chain_pem=_pem(*trust.tsa_chain_der),
                                        root_pem=_pem(trust.root_der), published_at=None, ledger_receipt="",
                                        publish_error=""))
        except IntegrityError:
            pass  # another replica signed this size first: theirs stands
        else:
            log.info("evidence log: signed tree head of size %d, root %s", size, root)
        return self.at(size)

    def latest(self) -> TreeHead | None:
        with self._sessions() as session:
            row = session.scalars(sa.select(TreeHeadRow).order_by(TreeHeadRow.tree_size.desc()).limit(1)).first()
            return _head(row) if row is not None else None

    def at(self, tree_size: int) -> TreeHead:
        with self._sessions() as session:
            row = session.get(TreeHeadRow, tree_size)
            if row is None:
                raise NotFound(f"no signed tree head of size {tree_size}")
            return _head(row)

    def get(self, tree_size: int) -> TreeHead:
        """The tree head of ``tree_size``, or the newest for 0."""
        if tree_size:
            return self.at(tree_size)
        latest = self.latest()
        if latest is None:
            raise FailedPrecondition("the evidence log has no signed tree head yet")
        return latest

    def covering(self, leaf_index: int) -> TreeHead:
        """The newest tree head if it includes ``leaf_index``, else a new one."""
        latest = self.latest()
        if latest is None or latest.tree_size <= leaf_index:
            latest = self.issue()
        if latest is None or latest.tree_size <= leaf_index:
            raise FailedPrecondition(f"no signed tree head covers leaf {leaf_index} yet; try again shortly")
        return latest

    def publish_due(self) -> int:
        """Push tree heads not yet on the ledger, oldest first; the number pushed."""
        if self._ledger is None:
            return 0
        with self._sessions() as session:
            sizes = session.scalars(
                sa.select(TreeHeadRow.tree_size).where(TreeHeadRow.published_at.is_(None)).order_by(TreeHeadRow.tree_size)
            ).all()
        pushed = 0
        for size in sizes:
            head = self.at(size)
            try:
                receipt = self._ledger.publish(size, head.head_json, head.timestamp_token)
            except Exception as exc:  # noqa: BLE001 - the ledger being down must not stop the log
                log.warning("evidence log: pushing tree head %d to the %s ledger failed: %s", size, self._ledger.name, exc)
                with self._sessions.begin() as session:
                    session.execute(sa.update(TreeHeadRow).where(TreeHeadRow.tree_size == size)
                                    .values(publish_error=f"{exc.__class__.__name__}: {exc}"[:1000]))
                return pushed
            with self._sessions.begin() as session:
                session.execute(sa.update(TreeHeadRow).where(TreeHeadRow.tree_size == size)
                                .values(published_at=self._clock(), ledger_receipt=receipt, publish_error=""))
            pushed += 1
        return pushed

    def run_once(self) -> int:
        """The scheduler's job: sign the grown log, push what is unpushed."""
        self.issue()
        return self.publish_due()
