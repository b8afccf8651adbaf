"""Expiry: contracts still SIGNING past their expiry become EXPIRED (``Lifecycle``: one
compare-and-set, with the audit event and the ``contract.expired`` webhook in the same
transaction), and their pending signers get an expiry notice.

Notices follow from the state, not from the moment of expiry: any EXPIRED contract of
the last week with a pending signer who has no expiry notice gets one. So a contract
expired on the spot by a signing attempt, or by a replica that crashed right after
the state change, still has its signers told; the unique notice row makes it once.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.contract import notices, records
from services.contract.lifecycle import Lifecycle
from services.contract.model import ContractStatus, SignerStatus
from services.contract.scheduled_store import NoticeRow
from services.contract.store import ContractRow, SignerRow
from services.contract.times import utcnow

# An expiry older than this (e.g. while the service was down for longer) is not announced any more.
LOOKBACK = timedelta(days=7)
BATCH = 200


class Expiry:
    def __init__(self, sessions: sessionmaker, lifecycle: Lifecycle, *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._lifecycle = lifecycle
        self._clock = clock

    def run_once(self) -> tuple[int, int]:
        """Expire what is overdue, then notify; (contracts expired, notices made)."""
        expired = self._lifecycle.expire_due()
        return expired, self.notify()

    def notify(self) -> int:
        now = self._clock()
        told = sa.exists().where(NoticeRow.signer_id == SignerRow.signer_id, NoticeRow.kind == notices.EXPIRED)
        with self._sessions() as session:
            ids = session.scalars(
                sa.select(ContractRow.contract_id).distinct()
                .join(SignerRow, SignerRow.contract_id == ContractRow.contract_id)
                .where(ContractRow.status == ContractStatus.EXPIRED.value, ContractRow.finished_at >= now - LOOKBACK,
                       SignerRow.status == SignerStatus.PENDING.value,
                       sa.or_(SignerRow.mobile != "", SignerRow.email != ""), ~told)
                .limit(BATCH)
            ).all()
            rows = session.scalars(sa.select(ContractRow).where(ContractRow.contract_id.in_(ids))).all() if ids else []
            contracts = records.load_many(session, rows, with_data=False)
        made = 0
        for contract in contracts:
            for signer in contract.signers:
                if signer.status is SignerStatus.PENDING:
                    made += notices.enqueue(self._sessions, contract, signer, notices.EXPIRED, 0, now)
        return made
