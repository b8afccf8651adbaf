"""Consent to cloud signing ("开通云签"): once per subject, a signer agrees that the
platform's CA issues certificates in their name.

The consent is kept as a ``signer.consented`` event in the audit trail of the contracts
being signed, so the evidence sits in the same hash chain as the signature it allowed;
whether a subject has consented is the first such event of any of its signers (no table
of its own to drift from the trail).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from core.errors import NotFound, invalid
from services.contract import audit, records
from services.contract.model import Actor
from services.contract.store import EventRow, SignerRow
from services.contract.times import as_utc, utcnow

if TYPE_CHECKING:  # signing_context reads first_consent from here
    from services.contract.signing_context import SigningContexts

CONSENTED = "signer.consented"
MAX_TEXT = 2000


def first_consent(session: Session, subject_id: str) -> datetime | None:
    """When the subject first consented, on any contract; None when never."""
    if not subject_id:
        return None
    first = session.scalar(
        sa.select(sa.func.min(EventRow.occurred_at))
        .join(SignerRow, sa.and_(SignerRow.contract_id == EventRow.contract_id, SignerRow.signer_id == EventRow.signer_id))
        .where(SignerRow.subject_id == subject_id, EventRow.type == CONSENTED)
    )
    return as_utc(first) if first is not None else None


class Consents:
    def __init__(self, sessions: sessionmaker, contexts: SigningContexts, *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._contexts = contexts
        self._clock = clock

    def record(self, signer_id: str, contract_ids: Sequence[str], text: str, actor: Actor, app_id: str = "") -> datetime:
        """Record the consent on each contract; the signer must be able to sign them all.
        ``app_id``, when the caller names one, must own the contracts."""
        if not text or len(text) > MAX_TEXT:
            raise invalid("text", f"the consent text shown is required, at most {MAX_TEXT} characters")
        context = self._contexts.get(signer_id, contract_ids)  # the checks of intent verification: open, the signer's own
        if app_id and context.app_id != app_id:
            raise NotFound(f"contracts {', '.join(contract_ids)} not found")
        now = self._clock()
        with self._sessions.begin() as session:
            for contract_id in contract_ids:
                contract = records.find(session, contract_id)
                assert contract is not None  # checked just above
                signer = records.resolve_signer(session, contract, signer_id)
                audit.append(session, contract_id, CONSENTED, actor.as_signer(signer.signer_id),
                             signer_id=signer.signer_id, details={"text": text, "subjectId": signer.subject_id}, now=now)
        return now
