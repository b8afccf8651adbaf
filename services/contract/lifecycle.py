"""A contract's life after creation: signatures, agreements, rejection, revocation,
expiry, and the B-LTA timestamp on completion.

Remote work (the intent token, the signing service) happens outside any transaction;
the result is then recorded with a compare-and-set on the contract's version (see
store.py) together with its audit events and webhook outbox rows. Two signers signing
the same contract at once each sign the revision they read; the first to record wins and
the other gets ABORTED, with nothing recorded for it: its intent token was bound to
documents that have changed since, so it verifies the intent again and signs the new
revision. Rejection, revocation and expiry involve no remote work and simply retry on a
lost race (re-checking the rules against the new state).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import Aborted, FailedPrecondition, invalid
from services.contract import audit, records, states, webhooks
from services.contract.identity_client import Identity, IntentClaims
from services.contract.model import (
    SYSTEM,
    Actor,
    Contract,
    ContractStatus,
    Document,
    Placement,
    Position,
    Signer,
    SignerStatus,
    SignMode,
)
from services.contract.signing_client import Appearance, ClientEvidence, SignedPdf, Signing, check_handwriting
from services.contract.store import ContractRow, Conflict, DocumentRow, RevisionRow, SignerRow, compare_and_set
from services.contract.times import utcnow

log = logging.getLogger(__name__)

MAX_REASON = 500
_RETRIES = 3
# Where signers sign an attachment whose template says nothing: the last page, in a grid.
_FALLBACK_X, _FALLBACK_Y, _FALLBACK_DX, _FALLBACK_DY = 90.0, 90.0, 160.0, 110.0


def fallback_placement(document: Document, signer_index: int) -> Placement:
    column, row = signer_index % 3, signer_index // 3
    return Placement((Position(page=max(document.pages, 1), x=_FALLBACK_X + column * _FALLBACK_DX,
                               y=_FALLBACK_Y + row * _FALLBACK_DY),))


def placement_for(contract: Contract, document: Document, signer: Signer) -> Placement:
    placement = document.placements.get(signer.role)
    if placement is not None and placement.positions:
        return placement
    index = [s.signer_id for s in contract.signers].index(signer.signer_id)
    return fallback_placement(document, index)


def _as_confirmed(signer: Signer, claims: IntentClaims) -> Signer:
    """The signer as the intent names them: in combined signing one intent, made with the
    signer id of one contract, covers the same person (same subject) on the others."""
    if claims.signer_id and claims.signer_id != signer.signer_id and claims.subject_id == signer.subject_id:
        return replace(signer, signer_id=claims.signer_id)
    return signer


def _intent_evidence(claims: IntentClaims) -> dict[str, Any]:
    """Every method the intent was confirmed by, and for an organisation's face check the
    person who took it and how they were recognised as one who may sign for it."""
    evidence: dict[str, Any] = {"intentMethods": list(claims.all_methods)}
    if claims.face_person_id:
        evidence.update(facePersonSubjectId=claims.face_person_id, facePersonBasis=claims.face_person_basis)
    return evidence


def _lost_race(contract: Contract, signer: Signer) -> Aborted:
    return Aborted(
        f"contract {contract.contract_id} changed while signer {signer.signer_id} was signing (another signer or "
        "the business line acted first); nothing was recorded for this request: verify the intent again for the "
        "current documents and sign again"
    )


class Lifecycle:
    def __init__(
        self,
        sessions: sessionmaker,
        identity: Identity,
        signing: Signing,
        *,
        clock: Callable[[], datetime] = utcnow,
    ):
        self._sessions = sessions
        self._identity = identity
        self._signing = signing
        self._clock = clock

    # -- reading ------------------------------------------------------------------------

    def _load(self, app_id: str, contract_id: str, signer_id: str = "") -> tuple[Contract, Signer | None]:
        with self._sessions() as session:
            contract = records.load_owned(session, app_id, contract_id)
            signer = records.resolve_signer(session, contract, signer_id) if signer_id else None
            return contract, signer

    def _ensure_open(self, contract: Contract) -> None:
        """Expire an overdue contract on the spot, then refuse any closed one."""
        if states.is_overdue(contract, self._clock()):
            self.expire(contract)
            raise FailedPrecondition(states.expiry_message(contract))
        states.ensure_open(contract)

    # -- signing --------------------------------------------------------------------------

    def sign(self, app_id: str, contract_id: str, signer_id: str, intent_token: str, appearance: Appearance,
             actor: Actor) -> Contract:
        """Sign every document for an E_SIGN signer whose turn it is, with a consumed intent token."""
        if not signer_id:
            raise invalid("signerId", "is required")
        if not intent_token:
            raise invalid("intentToken", "is required: confirm the intent first (POST /v1/intents)")
        if appearance.handwriting:
            check_handwriting(appearance.handwriting)
        contract, signer = self._load(app_id, contract_id, signer_id)
        assert signer is not None
        self._ensure_open(contract)
        states.ensure_can_sign(contract, signer, SignMode.E_SIGN)
        claims = self._identity.consume_intent(intent_token, signer_id, contract.contract_id, contract.document_hashes)
        actor = actor.as_signer(signer.signer_id)
        self._record_intent(contract, signer, claims, actor)
        signing_as = _as_confirmed(signer, claims)
        signed = [
            self._signing.sign_document(
                document.blob_ref,
                signing_as,
                claims,
                appearance,
                placement_for(contract, document, signer),
                contract_id=contract.contract_id,
                field_name=f"sig_{signer.signer_id}",
                reason=f"{signer.role}: {contract.title}",
                key=f"{contract.contract_id}:{document.document_id}:{document.revision}:{signer.signer_id}",
            )
            for document in contract.documents
        ]
        details = {"intentMethod": claims.method, "intentTokenId": claims.token_id,
                   "certificates": [s.certificate_serial for s in signed], **_intent_evidence(claims)}
        return self._record_signature(contract, signer, signed, "signed", "signer.signed", details, actor)

    def agree(self, app_id: str, contract_id: str, signer_id: str, *, reading_seconds: int, evidence: ClientEvidence,
              intent_token: str, actor: Actor) -> Contract:
        """Record an AGREEMENT signer's checkbox consent; the platform seals every document."""
        if not signer_id:
            raise invalid("signerId", "is required")
        if reading_seconds < 0:
            raise invalid("readingSeconds", "must not be negative")
        contract, signer = self._load(app_id, contract_id, signer_id)
        assert signer is not None
        self._ensure_open(contract)
        states.ensure_can_sign(contract, signer, SignMode.AGREEMENT)
        actor = actor.as_signer(signer.signer_id)
        claims: IntentClaims | None = None
        if intent_token:
            claims = self._identity.consume_intent(intent_token, signer_id, contract.contract_id, contract.document_hashes)
            self._record_intent(contract, signer, claims, actor)
        evidence = ClientEvidence(
            ip=evidence.ip or actor.ip,
            user_agent=evidence.user_agent or actor.user_agent,
            device_id=evidence.device_id,
            checkbox_text=evidence.checkbox_text,
            page_url=evidence.page_url,
        )
        agreed_at = self._clock()
        sealed = [
            self._signing.seal_agreement(
                document.blob_ref,
                _as_confirmed(signer, claims) if claims else signer,
                reading_seconds=reading_seconds,
                agreed_at=agreed_at,
                evidence=evidence,
                claims=claims,
                contract_id=contract.contract_id,
                key=f"{contract.contract_id}:{document.document_id}:{document.revision}:{signer.signer_id}",
            )
            for document in contract.documents
        ]
        details = {
            "readingSeconds": reading_seconds,
            "checkboxText": evidence.checkbox_text,
            "clientIp": evidence.ip,
            "clientUserAgent": evidence.user_agent,
            "deviceId": evidence.device_id,
            "pageUrl": evidence.page_url,
            "intentTokenId": claims.token_id if claims else "",
            **(_intent_evidence(claims) if claims else {}),
        }
        return self._record_signature(contract, signer, sealed, "agreed", "signer.agreed", details, actor)

    def _record_intent(self, contract: Contract, signer: Signer, claims: IntentClaims, actor: Actor) -> None:
        # Its own transaction: the token is spent whatever happens to the signature.
        with self._sessions.begin() as session:
            audit.append(
                session,
                contract.contract_id,
                "intent.verified",
                actor,
                signer_id=signer.signer_id,
                details={"method": claims.method, "tokenId": claims.token_id, "challengeId": claims.challenge_id,
                         "recipient": claims.recipient, "subjectId": claims.subject_id, **_intent_evidence(claims)},
                now=self._clock(),
            )

    def _record_signature(
        self,
        contract: Contract,
        signer: Signer,
        results: Sequence[SignedPdf],
        cause: str,
        event: str,
        details: dict[str, Any],
        actor: Actor,
    ) -> Contract:
        now = self._clock()
        final = states.status_after_signature(contract, signer.signer_id)
        changes: dict[str, Any] = {"updated_at": now}
        if final is ContractStatus.COMPLETED:
            changes.update(status=final.value, finished_at=now, lta_pending=True)
        try:
            with self._sessions.begin() as session:
                compare_and_set(session, contract.contract_id, contract.version, **changes)
                mark_signer(session, signer, SignerStatus.SIGNED, now)
                revisions = add_revisions(session, contract, results, cause, signer.signer_id, now)
                audit.append(session, contract.contract_id, event, actor, signer_id=signer.signer_id,
                             details={**details, "documents": revisions}, now=now)
                webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id, type=webhooks.SIGNED,
                                 biz_no=contract.biz_no, status=final, now=now, signer_id=signer.signer_id)
                if final is ContractStatus.COMPLETED:
                    audit.append(session, contract.contract_id, "contract.completed", SYSTEM, now=now)
                    webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id,
                                     type=webhooks.COMPLETED, biz_no=contract.biz_no, status=final, now=now)
        except (Conflict, IntegrityError):
            raise _lost_race(contract, signer) from None
        log.info("contract %s: signer %s %s", contract.contract_id, signer.signer_id, cause)
        if final is ContractStatus.COMPLETED:
            self.finish_lta(contract.contract_id)
        with self._sessions() as session:
            return records.load_owned(session, contract.app_id, contract.contract_id)

    # -- B-LTA on completion ----------------------------------------------------------------

    def finish_lta(self, contract_id: str) -> bool:
        """Add the document timestamp (PAdES B-LTA) to a completed contract's documents.

        Best effort: on failure the contract stays ``lta_pending`` and the sweeper retries.
        """
        with self._sessions() as session:
            contract = records.find(session, contract_id)
        if contract is None or not contract.lta_pending:
            return False
        try:
            stamped = [
                self._signing.timestamp(d.blob_ref, key=f"{contract_id}:{d.document_id}:{d.revision}:lta")
                for d in contract.documents
            ]
        except Exception:  # noqa: BLE001 - retried by the sweeper; the signatures are already recorded
            log.exception("contract %s: the B-LTA document timestamp failed; will retry", contract_id)
            return False
        now = self._clock()
        try:
            with self._sessions.begin() as session:
                compare_and_set(session, contract_id, contract.version, lta_pending=False, updated_at=now)
                revisions = add_revisions(session, contract, stamped, "timestamped", "", now)
                audit.append(session, contract_id, "document.timestamped", SYSTEM, details={"documents": revisions,
                             "level": "PAdES B-LTA"}, now=now)
        except (Conflict, IntegrityError):
            return False  # another replica stamped it first
        return True

    # -- rejection, revocation, expiry ---------------------------------------------------

    def reject(self, app_id: str, contract_id: str, signer_id: str, reason: str, actor: Actor) -> Contract:
        if not signer_id:
            raise invalid("signerId", "is required")
        if len(reason) > MAX_REASON:
            raise invalid("reason", f"must be at most {MAX_REASON} characters")
        for _ in range(_RETRIES):
            contract, signer = self._load(app_id, contract_id, signer_id)
            assert signer is not None
            self._ensure_open(contract)
            states.ensure_can_reject(contract, signer)
            now = self._clock()
            try:
                with self._sessions.begin() as session:
                    compare_and_set(session, contract.contract_id, contract.version, status=ContractStatus.REJECTED.value,
                                    status_reason=reason, finished_at=now, updated_at=now)
                    mark_signer(session, signer, SignerStatus.REJECTED, now, reason)
                    audit.append(session, contract.contract_id, "signer.rejected", actor.as_signer(signer.signer_id),
                                 signer_id=signer.signer_id, details={"reason": reason}, now=now)
                    audit.append(session, contract.contract_id, "contract.rejected", SYSTEM, signer_id=signer.signer_id,
                                 now=now)
                    webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id,
                                     type=webhooks.REJECTED, biz_no=contract.biz_no, status=ContractStatus.REJECTED,
                                     now=now, signer_id=signer.signer_id)
            except Conflict:
                continue
            return self._reloaded(contract)
        raise Aborted(f"contract {contract_id} kept changing; try again")

    def revoke(self, app_id: str, contract_id: str, reason: str, actor: Actor) -> Contract:
        if len(reason) > MAX_REASON:
            raise invalid("reason", f"must be at most {MAX_REASON} characters")
        for _ in range(_RETRIES):
            contract, _signer = self._load(app_id, contract_id)
            self._ensure_open(contract)
            now = self._clock()
            try:
                with self._sessions.begin() as session:
                    compare_and_set(session, contract.contract_id, contract.version, status=ContractStatus.REVOKED.value,
                                    status_reason=reason, finished_at=now, updated_at=now)
                    audit.append(session, contract.contract_id, "contract.revoked", actor, details={"reason": reason},
                                 now=now)
                    webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id,
                                     type=webhooks.REVOKED, biz_no=contract.biz_no, status=ContractStatus.REVOKED, now=now)
            except Conflict:
                continue
            return self._reloaded(contract)
        raise Aborted(f"contract {contract_id} kept changing; try again")

    def expire(self, contract: Contract) -> bool:
        """Close an overdue contract as EXPIRED; False when it changed meanwhile."""
        now = self._clock()
        try:
            with self._sessions.begin() as session:
                compare_and_set(session, contract.contract_id, contract.version, status=ContractStatus.EXPIRED.value,
                                status_reason=states.expiry_message(contract), finished_at=now, updated_at=now)
                audit.append(session, contract.contract_id, "contract.expired", SYSTEM, now=now)
                webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id, type=webhooks.EXPIRED,
                                 biz_no=contract.biz_no, status=ContractStatus.EXPIRED, now=now)
        except Conflict:
            return False
        log.info("contract %s expired", contract.contract_id)
        return True

    def _reloaded(self, contract: Contract) -> Contract:
        with self._sessions() as session:
            return records.load_owned(session, contract.app_id, contract.contract_id)

    # -- the sweeper's work ----------------------------------------------------------------

    def expire_due(self, limit: int = 100) -> int:
        now = self._clock()
        with self._sessions() as session:
            rows = session.scalars(
                sa.select(ContractRow)
                .where(ContractRow.status == ContractStatus.SIGNING.value, ContractRow.expire_at <= now)
                .order_by(ContractRow.expire_at)
                .limit(limit)
            ).all()
            due = records.load_many(session, rows, with_data=False)
        return sum(1 for contract in due if states.is_overdue(contract, now) and self.expire(contract))

    def retry_lta(self, older_than: float, limit: int = 20) -> int:
        """Stamp completed contracts whose timestamp failed (not ones still being stamped)."""
        before = self._clock() - timedelta(seconds=older_than)
        with self._sessions() as session:
            ids = session.scalars(
                sa.select(ContractRow.contract_id)
                .where(ContractRow.lta_pending.is_(True), ContractRow.updated_at < before)
                .limit(limit)
            ).all()
        return sum(1 for contract_id in ids if self.finish_lta(contract_id))


def mark_signer(session: Session, signer: Signer, status: SignerStatus, now: datetime, reason: str = "") -> None:
    """Move a PENDING signer to ``status``; Conflict if it moved meanwhile (optimistic concurrency)."""
    result = session.execute(
        sa.update(SignerRow)
        .where(SignerRow.signer_id == signer.signer_id, SignerRow.status == SignerStatus.PENDING.value)
        .values(status=status.value, action_at=now, reject_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(signer.signer_id)


def add_revisions(session: Session, contract: Contract, results: Sequence[SignedPdf], cause: str, signer_id: str,
                  now: datetime) -> list[dict[str, Any]]:
    """Record one new revision per document; Conflict if a document moved meanwhile."""
    recorded = []
    for document, result in zip(contract.documents, results, strict=True):
        revision = document.revision + 1
        session.add(RevisionRow(document_id=document.document_id, revision=revision, contract_id=contract.contract_id,
                                blob_ref=result.blob_ref, sha256=result.sha256, cause=cause, signer_id=signer_id,
                                created_at=now))
        moved = session.execute(
            sa.update(DocumentRow)
            .where(DocumentRow.document_id == document.document_id, DocumentRow.revision == document.revision)
            .values(revision=revision, blob_ref=result.blob_ref, sha256=result.sha256)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            raise Conflict(document.document_id)
        recorded.append({"documentId": document.document_id, "revision": revision, "sha256": result.sha256})
    return recorded
