"""One-time links to the signing pages.

A link carries 256 random bits; only their SHA-256 is stored, so the table alone opens
nothing. The first resolution consumes the link (a conditional UPDATE, so two clicks at
once cannot both win) and is recorded as the signer viewing the contract; the gateway
keeps its own page session from there.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from core.errors import FailedPrecondition, NotFound, invalid
from services.contract import audit, records, states
from services.contract.model import Actor, SignerStatus
from services.contract.store import SignLinkRow
from services.contract.times import as_utc, rfc3339, utcnow

SOURCES = ("PC", "H5")
SCENES = ("NORMAL", "HEADLESS")


@dataclass(frozen=True)
class SignLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ResolvedLink:
    contract_id: str
    signer_id: str
    app_id: str
    source: str
    scene: str
    redirect_url: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_redirect(url: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if len(url) > 2000 or parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("redirectUrl", "must be an http or https URL of at most 2000 characters")


class SignUrls:
    def __init__(self, sessions: sessionmaker, public_url: str, ttl_seconds: int, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._public_url = public_url.rstrip("/")
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock

    def create(self, app_id: str, contract_id: str, signer_id: str, *, source: str, scene: str, redirect_url: str,
               actor: Actor) -> SignLink:
        if not signer_id:
            raise invalid("signerId", "is required")
        if source not in SOURCES:
            raise invalid("source", "must be PC or H5")
        if scene not in SCENES:
            raise invalid("scene", "must be NORMAL or HEADLESS")
        _check_redirect(redirect_url)
        now = self._clock()
        with self._sessions() as session:
            contract = records.load_owned(session, app_id, contract_id)
        signer = contract.signer(signer_id)
        if states.is_overdue(contract, now):
            raise FailedPrecondition(states.expiry_message(contract))
        states.ensure_open(contract)
        if signer.status is not SignerStatus.PENDING:
            raise FailedPrecondition(f"signer {signer_id} is {signer.status.value} on contract {contract_id}; there is nothing to sign")
        expires_at = now + self._ttl
        if contract.expire_at is not None:
            expires_at = min(expires_at, as_utc(contract.expire_at))
        token = secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            session.add(SignLinkRow(token_hash=_digest(token), contract_id=contract_id, signer_id=signer_id, app_id=app_id,
                                    source=source, scene=scene, redirect_url=redirect_url, created_at=now,
                                    expires_at=expires_at, used_at=None))
            audit.append(session, contract_id, "sign_url.created", actor, signer_id=signer_id,
                         details={"source": source, "scene": scene, "expireTime": rfc3339(expires_at)}, now=now)
        return SignLink(f"{self._public_url}/sign/{token}", expires_at)

    def resolve(self, token: str, actor: Actor) -> ResolvedLink:
        if not token:
            raise invalid("token", "is required")
        digest = _digest(token)
        now = self._clock()
        with self._sessions.begin() as session:
            used = session.execute(
                sa.update(SignLinkRow)
                .where(SignLinkRow.token_hash == digest, SignLinkRow.used_at.is_(None), SignLinkRow.expires_at > now)
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            row = session.get(SignLinkRow, digest)
            if row is None:
                raise NotFound("signing link not found")
            if used.rowcount != 1:
                if row.used_at is not None:
                    raise FailedPrecondition("this signing link was already used; ask the business line for a new one")
                raise FailedPrecondition(f"this signing link expired at {rfc3339(row.expires_at)}; ask for a new one")
            audit.append(session, row.contract_id, "signer.viewed", actor.as_signer(row.signer_id), signer_id=row.signer_id,
                         details={"source": row.source, "scene": row.scene}, now=now)
            return ResolvedLink(row.contract_id, row.signer_id, row.app_id, row.source, row.scene, row.redirect_url,
                                as_utc(row.expires_at))
