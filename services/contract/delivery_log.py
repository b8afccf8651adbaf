"""A business line's webhook delivery log: its outbox events, newest first (stable keyset
cursor), each with the outcome of its latest delivery attempt."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from core.errors import invalid
from core import paging
from services.contract.store import DeliveryRow, OutboxRow
from services.contract.times import as_utc
from services.contract.webhooks import PENDING


@dataclass(frozen=True)
class DeliveryState:
    event_id: str
    type: str
    contract_id: str
    status: str  # PENDING, DELIVERED, FAILED, SKIPPED
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None  # only while PENDING
    finished_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int
    last_error: str


def list_deliveries(sessions: sessionmaker, app_id: str, size: int, token: str) -> tuple[list[DeliveryState], str]:
    """One page of ``app_id``'s webhook events and the token of the next page ("" on the last)."""
    if not app_id:
        raise invalid("appId", "is required")
    size = paging.page_size(size)
    scope = paging.scope("webhook_deliveries", app_id)
    after = paging.decode(token, scope)
    query = sa.select(OutboxRow).where(OutboxRow.app_id == app_id)
    if after is not None:
        moment = datetime.fromisoformat(after["t"])
        query = query.where(sa.or_(OutboxRow.created_at < moment,
                                   sa.and_(OutboxRow.created_at == moment, OutboxRow.event_id < after["id"])))
    with sessions() as session:
        rows = session.scalars(query.order_by(OutboxRow.created_at.desc(), OutboxRow.event_id.desc())
                               .limit(size + 1)).all()
        page = rows[:size]
        latest = _latest_attempts(session, [r.event_id for r in page])
        states = [_state(r, latest.get(r.event_id)) for r in page]
    more = len(rows) > size
    next_token = paging.encode({"t": states[-1].created_at.isoformat(), "id": states[-1].event_id}, scope) if more else ""
    return states, next_token


def _latest_attempts(session, event_ids: list[str]) -> dict[str, DeliveryRow]:
    if not event_ids:
        return {}
    attempts = session.scalars(
        sa.select(DeliveryRow).where(DeliveryRow.event_id.in_(event_ids)).order_by(DeliveryRow.id)
    ).all()
    return {a.event_id: a for a in attempts}  # the last attempt of each event wins


def _state(row: OutboxRow, last: DeliveryRow | None) -> DeliveryState:
    return DeliveryState(
        event_id=row.event_id,
        type=row.type,
        contract_id=row.contract_id,
        status=row.status,
        attempts=row.attempts,
        created_at=as_utc(row.created_at),
        next_attempt_at=as_utc(row.next_attempt_at) if row.status == PENDING else None,
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        last_attempt_at=as_utc(last.started_at) if last else None,
        last_status_code=(last.status_code or 0) if last else 0,
        last_error=row.last_error,
    )
