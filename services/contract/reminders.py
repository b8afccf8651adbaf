"""Reminders to signers whose turn it is, on a fixed cadence, up to a maximum.

Which reminder is due follows from the contract's state alone: reminder ``k`` of a
signer falls due ``k`` cadences after their turn began (when the last signer of a lower
order signed, or at creation). Only the newest due one is sent: a replica that was down
for three cadences sends one reminder, not three. Each is decided once (a unique notice
row) and sent by ``NoticeDeliveries``, which cancels it if the signer signed or the
contract closed in the meantime.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.contract import notices, records, states
from services.contract.model import Contract, ContractStatus, Signer
from services.contract.scheduled_store import NoticeRow
from services.contract.store import ContractRow
from services.contract.times import as_utc, utcnow

PAGE = 200


def turn_started(contract: Contract, signer: Signer) -> datetime:
    """When it became ``signer``'s turn: the last signature of a lower order, or creation."""
    earlier = [as_utc(s.action_at) for s in contract.signers if s.order < signer.order and s.action_at is not None]
    return max([as_utc(contract.created_at), *earlier])


def due_reminder(contract: Contract, signer: Signer, now: datetime, cadence: timedelta, most: int) -> int:
    """The number of the newest reminder due for ``signer`` now (0: none)."""
    if contract.status is not ContractStatus.SIGNING or states.is_overdue(contract, now):
        return 0
    if not states.is_turn(contract.signers, signer):
        return 0
    elapsed = now - turn_started(contract, signer)
    return min(int(elapsed / cadence), most) if elapsed >= cadence else 0


class Reminders:
    def __init__(self, sessions: sessionmaker, cadence_seconds: float, most: int, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._cadence = timedelta(seconds=cadence_seconds)
        self._most = most
        self._clock = clock

    def run_once(self) -> int:
        """Decide the reminders due now; the number of new ones."""
        now = self._clock()
        made, after = 0, ""
        while True:
            with self._sessions() as session:
                # Keyset pages over open contracts old enough to owe anyone a reminder.
                rows = session.scalars(
                    sa.select(ContractRow)
                    .where(ContractRow.status == ContractStatus.SIGNING.value,
                           ContractRow.created_at <= now - self._cadence, ContractRow.contract_id > after)
                    .order_by(ContractRow.contract_id)
                    .limit(PAGE)
                ).all()
                contracts = records.load_many(session, rows, with_data=False)
                sent = self._sent(session, [c.contract_id for c in contracts])
            for contract in contracts:
                for signer in contract.signers:
                    number = due_reminder(contract, signer, now, self._cadence, self._most)
                    if number > sent.get(signer.signer_id, 0):
                        made += notices.enqueue(self._sessions, contract, signer, notices.REMINDER, number, now)
            if len(rows) < PAGE:
                return made
            after = rows[-1].contract_id

    @staticmethod
    def _sent(session, contract_ids: list[str]) -> dict[str, int]:
        if not contract_ids:
            return {}
        return dict(session.execute(
            sa.select(NoticeRow.signer_id, sa.func.max(NoticeRow.seq))
            .where(NoticeRow.contract_id.in_(contract_ids), NoticeRow.kind == notices.REMINDER)
            .group_by(NoticeRow.signer_id)
        ).all())
