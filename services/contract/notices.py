"""Notices to signers: signing reminders and expiry notices, as an outbox.

A notice is decided once: its row is unique per signer, kind and number, so two replicas
(or a retry) deciding the same reminder make one row. Delivery then claims due rows
(conditional UPDATE with a lease, as webhooks do), sends through identity's SMS or
email sender and records the outcome; a failed send is retried with backoff, a crash
mid-send leaves a lease that runs out and the notice is sent again (the notice id rides
along as the message id, so an SMS gateway can drop the duplicate).

A reminder carries a fresh one-time signing link, made when it is sent. A reminder that
falls due after its signer signed or the contract closed is cancelled, not sent.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.errors import DomainError, InvalidArgument
from services.contract import audit, records, states
from services.contract.model import SYSTEM, Contract, ContractStatus, Signer, SignerStatus
from services.contract.scheduled_store import NoticeRow
from services.contract.sign_urls import SignUrls
from services.contract.times import as_utc, utcnow

log = logging.getLogger(__name__)

REMINDER = "REMINDER"
EXPIRED = "EXPIRED"

PENDING = "PENDING"
SENT = "SENT"
CANCELLED = "CANCELLED"
FAILED = "FAILED"

MAX_ATTEMPTS = 6
_BACKOFF_SECONDS = 30.0
_LEASE_SECONDS = 120.0
BATCH = 50


class Sender(Protocol):
    def send(self, channel: str, recipient: str, subject: str, body: str, notice_id: str) -> str: ...


@dataclass(frozen=True)
class Notice:
    notice_id: str
    app_id: str
    contract_id: str
    signer_id: str
    kind: str
    seq: int
    channel: str
    recipient: str
    status: str
    attempts: int


def contact(signer: Signer) -> tuple[str, str] | None:
    """How a signer is reached: SMS when they have a mobile number, else email."""
    if signer.mobile:
        return "SMS", signer.mobile
    if signer.email:
        return "EMAIL", signer.email
    return None


def masked(recipient: str) -> str:
    if "@" in recipient:
        name, _, domain = recipient.partition("@")
        return f"{name[:1]}***@{domain}"
    return recipient[:3] + "****" + recipient[-4:] if len(recipient) >= 7 else "****"


def enqueue(sessions: sessionmaker, contract: Contract, signer: Signer, kind: str, seq: int, now: datetime) -> bool:
    """Add the notice unless it exists; False when the signer has no contact or it was made before."""
    reach = contact(signer)
    if reach is None:
        return False
    try:
        with sessions.begin() as session:
            session.add(NoticeRow(
                notice_id="ntc_" + secrets.token_hex(10), app_id=contract.app_id, contract_id=contract.contract_id,
                signer_id=signer.signer_id, kind=kind, seq=seq, channel=reach[0], recipient=reach[1], status=PENDING,
                attempts=0, created_at=now, next_attempt_at=now, lease_owner="", message_id="", last_error="",
            ))
    except IntegrityError:
        return False  # decided already (another replica, or an earlier run)
    return True


class NoticeTexts:
    """The Chinese texts of notices, with times in the configured time zone."""

    def __init__(self, timezone: str, brand: str = "电子合同"):
        self._zone = ZoneInfo(timezone)
        self._brand = brand

    def _time(self, moment: datetime) -> str:
        return as_utc(moment).astimezone(self._zone).strftime("%Y-%m-%d %H:%M")

    def reminder(self, contract: Contract, signer: Signer, url: str) -> tuple[str, str]:
        deadline = f"，请于{self._time(contract.expire_at)}前完成" if contract.expire_at else ""
        body = f"【{self._brand}】{signer.name}，您好：合同《{contract.title}》等待您签署{deadline}。签署链接：{url}"
        return f"【{self._brand}】请签署合同《{contract.title}》", body

    def expired(self, contract: Contract, signer: Signer) -> tuple[str, str]:
        when = self._time(contract.expire_at) if contract.expire_at else ""
        body = f"【{self._brand}】{signer.name}，您好：合同《{contract.title}》已于{when}过期，签署已关闭，您无需再操作。"
        return f"【{self._brand}】合同《{contract.title}》已过期", body


class NoticeDeliveries:
    def __init__(self, sessions: sessionmaker, sender: Sender, sign_urls: SignUrls, texts: NoticeTexts, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._sender = sender
        self._sign_urls = sign_urls
        self._texts = texts
        self._clock = clock
        self.owner = "n_" + secrets.token_hex(6)

    def run_once(self) -> int:
        """Send what is due now; the number of notices handled."""
        claimed = self._claim()
        for notice in claimed:
            self._deliver(notice)
        return len(claimed)

    def _claim(self) -> list[Notice]:
        now = self._clock()
        free = sa.or_(NoticeRow.lease_until.is_(None), NoticeRow.lease_until < now)
        with self._sessions.begin() as session:
            ids = session.scalars(
                sa.select(NoticeRow.notice_id)
                .where(NoticeRow.status == PENDING, NoticeRow.next_attempt_at <= now, free)
                .order_by(NoticeRow.next_attempt_at)
                .limit(BATCH)
            ).all()
            claimed = []
            for notice_id in ids:
                won = session.execute(
                    sa.update(NoticeRow)
                    .where(NoticeRow.notice_id == notice_id, NoticeRow.status == PENDING, free)
                    .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=_LEASE_SECONDS))
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount == 1:
                    claimed.append(notice_id)
            rows = session.scalars(sa.select(NoticeRow).where(NoticeRow.notice_id.in_(claimed))).all() if claimed else []
            return [Notice(r.notice_id, r.app_id, r.contract_id, r.signer_id, r.kind, r.seq, r.channel, r.recipient,
                           r.status, r.attempts) for r in rows]

    def _deliver(self, notice: Notice) -> None:
        with self._sessions() as session:
            contract = records.find(session, notice.contract_id)
        if contract is None:
            self._finish(notice, CANCELLED, error="the contract no longer exists")
            return
        signer = contract.signer(notice.signer_id)
        if notice.kind == REMINDER and not self._still_waiting(contract, signer):
            self._finish(notice, CANCELLED, error=f"signer is {signer.status.value}, contract is {contract.status.value}")
            return
        try:
            if notice.kind == REMINDER:
                link = self._sign_urls.create(contract.app_id, contract.contract_id, signer.signer_id,
                                              source="H5" if notice.channel == "SMS" else "PC", scene="NORMAL",
                                              redirect_url="", actor=SYSTEM)
                subject, body = self._texts.reminder(contract, signer, link.url)
            else:
                subject, body = self._texts.expired(contract, signer)
            message_id = self._sender.send(notice.channel, notice.recipient, subject, body, notice.notice_id)
        except InvalidArgument as exc:
            self._finish(notice, FAILED, error=exc.message)  # a bad address does not get better
            return
        except DomainError as exc:
            self._retry(notice, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. identity unreachable: retried like any failure
            log.exception("notice %s: sending failed", notice.notice_id)
            self._retry(notice, f"{exc.__class__.__name__} inside the platform")
            return
        self._finish(notice, SENT, message_id=message_id, contract=contract)

    def _still_waiting(self, contract: Contract, signer: Signer) -> bool:
        return (contract.status is ContractStatus.SIGNING and not states.is_overdue(contract, self._clock())
                and signer.status is SignerStatus.PENDING)

    def _retry(self, notice: Notice, error: str) -> None:
        attempts = notice.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            self._finish(notice, FAILED, error=error)
            return
        due = self._clock() + timedelta(seconds=_BACKOFF_SECONDS * 2 ** (attempts - 1))
        with self._sessions.begin() as session:
            session.execute(
                sa.update(NoticeRow)
                .where(NoticeRow.notice_id == notice.notice_id, NoticeRow.lease_owner == self.owner)
                .values(attempts=attempts, next_attempt_at=due, lease_owner="", lease_until=None, last_error=error[:1000])
                .execution_options(synchronize_session=False)
            )

    def _finish(self, notice: Notice, status: str, *, error: str = "", message_id: str = "",
                contract: Contract | None = None) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            done = session.execute(
                sa.update(NoticeRow)
                .where(NoticeRow.notice_id == notice.notice_id, NoticeRow.lease_owner == self.owner)
                .values(status=status, attempts=notice.attempts + (status != CANCELLED), finished_at=now,
                        message_id=message_id, last_error=error[:1000], lease_owner="", lease_until=None)
                .execution_options(synchronize_session=False)
            )
            if status == SENT and done.rowcount == 1 and contract is not None:
                audit.append(session, notice.contract_id, "signer.notified", SYSTEM, signer_id=notice.signer_id,
                             details={"kind": notice.kind, "number": notice.seq, "channel": notice.channel,
                                      "recipient": masked(notice.recipient), "noticeId": notice.notice_id},
                             now=now)
        if status == FAILED:
            log.warning("notice %s to signer %s: giving up (%s)", notice.notice_id, notice.signer_id, error)


def notices_of(sessions: sessionmaker, contract_id: str) -> list[Notice]:
    """A contract's notices, oldest first."""
    with sessions() as session:
        rows = session.scalars(
            sa.select(NoticeRow).where(NoticeRow.contract_id == contract_id).order_by(NoticeRow.created_at)
        ).all()
        return [Notice(r.notice_id, r.app_id, r.contract_id, r.signer_id, r.kind, r.seq, r.channel, r.recipient,
                       r.status, r.attempts) for r in rows]
