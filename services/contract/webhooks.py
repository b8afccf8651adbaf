"""Webhooks: a transactional outbox and the loop that delivers it.

``enqueue`` writes the event into ``webhook_outbox`` inside the caller's transaction, so
an event exists exactly when its state change committed; a crash after the commit only
delays delivery. ``Deliveries.run_once`` claims due events (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, plus a lease column that also serialises SQLite), POSTs each to
the app's webhook URL signed with the app's secret (HMAC-SHA256 over ``timestamp.body``,
computed by identity, which holds the secret), logs every attempt and schedules the
next one with exponential backoff and jitter (tenacity's wait strategy) until a 2xx or
the give-up age. Several replicas may run the loop: a claimed event is leased to one.
Receivers de-duplicate by ``X-Event-Id``: an event is sent again if its 2xx was not
recorded (e.g. a crash between the answer and the commit). An app without a webhook URL
when its event falls due has the event marked SKIPPED (a later URL gets later events).
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from tenacity import RetryCallState, wait_exponential_jitter

from core.errors import DomainError
from services.contract.config import ContractConfig
from services.contract.model import ContractStatus
from services.contract.store import DeliveryRow, OutboxRow
from services.contract.times import as_utc, rfc3339, utcnow
from services.contract.webhook_targets import RefusedTarget, Resolver, post, resolve_target, system_resolver

log = logging.getLogger(__name__)

SIGNED = "contract.signed"
COMPLETED = "contract.completed"
REJECTED = "contract.rejected"
EXPIRED = "contract.expired"
REVOKED = "contract.revoked"

PENDING = "PENDING"
DELIVERED = "DELIVERED"
FAILED = "FAILED"  # gave up after the configured age
SKIPPED = "SKIPPED"  # the app had no webhook URL when the event was due


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    app_id: str
    contract_id: str
    type: str
    body: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime


@dataclass(frozen=True)
class Delivery:
    event_id: str
    attempt: int
    started_at: datetime
    url: str
    address: str
    outcome: str  # DELIVERED, HTTP_ERROR, NETWORK_ERROR, REFUSED, NO_URL, PLATFORM_ERROR
    status_code: int | None
    error: str
    duration_ms: int


def enqueue(
    session: Session,
    *,
    app_id: str,
    contract_id: str,
    type: str,
    biz_no: str,
    status: ContractStatus,
    now: datetime,
    signer_id: str = "",
) -> str:
    """Add an event to the outbox in the caller's transaction; its id."""
    event_id = "evt_" + secrets.token_hex(12)
    body = {
        "eventId": event_id,
        "type": type,
        "contractId": contract_id,
        "signerId": signer_id,
        "time": rfc3339(now),
        "bizNo": biz_no,
        "status": status.value,
    }
    session.add(
        OutboxRow(
            event_id=event_id,
            app_id=app_id,
            contract_id=contract_id,
            type=type,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            status=PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            lease_until=None,
            lease_owner="",
            last_error="",
        )
    )
    return event_id


def next_wait(attempt: int, config: ContractConfig) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): exponential with jitter, capped."""
    state = RetryCallState(None, None, (), {})
    state.attempt_number = attempt
    wait = wait_exponential_jitter(
        multiplier=config.webhook_backoff_seconds,
        max=config.webhook_backoff_max_seconds,
        jitter=config.webhook_backoff_seconds,
    )
    return float(wait(state))


class WebhookPeers(Protocol):
    """What delivery needs from identity (``Identity`` provides it)."""

    def webhook_url(self, app_id: str) -> str: ...

    def sign_app_message(self, app_id: str, message: bytes) -> str: ...


class Deliveries:
    def __init__(
        self,
        sessions: sessionmaker,
        identity: WebhookPeers,
        config: ContractConfig,
        *,
        resolver: Resolver = system_resolver,
        clock: Callable[[], datetime] = utcnow,
        tracer=None,
    ):
        self._sessions = sessions
        self._identity = identity
        self._config = config
        self._resolver = resolver
        self._clock = clock
        self._tracer = tracer
        self.owner = "w_" + secrets.token_hex(6)

    def run_once(self) -> int:
        """Deliver what is due now; the number of attempts made."""
        claimed = self._claim()
        urls: dict[str, str] = {}  # each app's URL read once per batch, not once per event
        for event in claimed:
            self._attempt(event, urls)
        return len(claimed)

    def _claim(self) -> list[OutboxEvent]:
        now = self._clock()
        lease = now + timedelta(seconds=self._config.webhook_timeout + self._config.webhook_lease_margin)
        free = sa.or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now)
        with self._sessions.begin() as session:
            query = (
                sa.select(OutboxRow.event_id)
                .where(OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now, free)
                .order_by(OutboxRow.next_attempt_at)
                .limit(self._config.webhook_batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for event_id in session.scalars(query).all():
                # The conditional update is the claim itself (SQLite has no row locks).
                result = session.execute(
                    sa.update(OutboxRow)
                    .where(OutboxRow.event_id == event_id, OutboxRow.status == PENDING, free)
                    .values(lease_until=lease, lease_owner=self.owner)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    claimed.append(event_id)
            rows = session.scalars(sa.select(OutboxRow).where(OutboxRow.event_id.in_(claimed))).all() if claimed else []
            return [_event(row) for row in sorted(rows, key=lambda r: (r.next_attempt_at, r.created_at))]

    def _attempt(self, event: OutboxEvent, urls: dict[str, str]) -> None:
        span = (
            self._tracer.start_as_current_span("webhook.deliver", attributes={"webhook.event_id": event.event_id,
                                                                             "webhook.type": event.type})
            if self._tracer is not None else nullcontext()
        )
        with span:
            self._record(event, self._send(event, urls))

    def _send(self, event: OutboxEvent, urls: dict[str, str]) -> Delivery:
        attempt = event.attempts + 1
        started = self._clock()
        began = time.monotonic()
        url = address = ""

        def result(outcome: str, status: int | None = None, error: str = "") -> Delivery:
            elapsed = int((time.monotonic() - began) * 1000)
            return Delivery(event.event_id, attempt, started, url, address, outcome, status, error[:1000], elapsed)

        try:
            if event.app_id not in urls:
                urls[event.app_id] = self._identity.webhook_url(event.app_id)
            raw_url = urls[event.app_id]
            if not raw_url:
                return result("NO_URL", error="the app has no webhook URL")
            target = resolve_target(raw_url, allow_private=self._config.webhook_allow_private, resolver=self._resolver)
            url, address = target.display, target.address
            body = event.body.encode("utf-8")
            timestamp = str(int(time.time()))
            signature = self._identity.sign_app_message(event.app_id, timestamp.encode() + b"." + body)
            answer = post(
                target,
                body,
                {
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "econtract-webhooks/1",
                    "X-Event-Id": event.event_id,
                    "X-Timestamp": timestamp,
                    "X-Signature": signature,
                },
                timeout=self._config.webhook_timeout,
            )
        except RefusedTarget as exc:
            return result("REFUSED", error=str(exc))
        except OSError as exc:
            return result("NETWORK_ERROR", error=f"{exc.__class__.__name__}: {exc}")
        except DomainError as exc:
            return result("PLATFORM_ERROR", error=exc.message)
        except Exception as exc:  # noqa: BLE001 - e.g. identity failing: logged, retried like any failure
            log.exception("webhook %s: attempt %d failed inside the platform", event.event_id, attempt)
            return result("PLATFORM_ERROR", error=f"{exc.__class__.__name__} inside the platform")
        if 200 <= answer.status < 300:
            return result("DELIVERED", answer.status)
        return result("HTTP_ERROR", answer.status, f"HTTP {answer.status}: {answer.body[:200].decode('utf-8', 'replace')}")

    def _record(self, event: OutboxEvent, delivery: Delivery) -> None:
        now = self._clock()
        changes: dict = {"attempts": delivery.attempt, "lease_until": None, "lease_owner": "", "last_error": delivery.error}
        if delivery.outcome == "DELIVERED":
            changes.update(status=DELIVERED, finished_at=now)
        elif delivery.outcome == "NO_URL":
            changes.update(status=SKIPPED, finished_at=now)
        else:
            due = now + timedelta(seconds=next_wait(delivery.attempt, self._config))
            if due - event.created_at >= timedelta(hours=self._config.webhook_give_up_hours):
                changes.update(status=FAILED, finished_at=now)
                log.warning("webhook %s for contract %s: giving up after %d attempts (%s)",
                            event.event_id, event.contract_id, delivery.attempt, delivery.error)
            else:
                changes.update(next_attempt_at=due)
        with self._sessions.begin() as session:
            session.add(DeliveryRow(**delivery.__dict__))
            session.execute(
                sa.update(OutboxRow)
                .where(OutboxRow.event_id == event.event_id, OutboxRow.lease_owner == self.owner)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )


def _event(row: OutboxRow) -> OutboxEvent:
    return OutboxEvent(
        event_id=row.event_id,
        app_id=row.app_id,
        contract_id=row.contract_id,
        type=row.type,
        body=row.body,
        status=row.status,
        attempts=row.attempts,
        created_at=as_utc(row.created_at),
        next_attempt_at=as_utc(row.next_attempt_at),
    )


def outbox_of(sessions: sessionmaker, contract_id: str) -> list[OutboxEvent]:
    """A contract's webhook events, oldest first."""
    with sessions() as session:
        rows = session.scalars(
            sa.select(OutboxRow).where(OutboxRow.contract_id == contract_id).order_by(OutboxRow.created_at)
        ).all()
        return [_event(row) for row in rows]


def delivery_log(sessions: sessionmaker, event_id: str) -> list[Delivery]:
    """Every attempt to deliver an event, oldest first."""
    with sessions() as session:
        rows = session.scalars(
            sa.select(DeliveryRow).where(DeliveryRow.event_id == event_id).order_by(DeliveryRow.id)
        ).all()
        return [
            Delivery(r.event_id, r.attempt, as_utc(r.started_at), r.url, r.address, r.outcome, r.status_code,
                     r.error, r.duration_ms)
            for r in rows
        ]
