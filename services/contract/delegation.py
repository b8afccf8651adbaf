"""Delegated signing: an organisation's grant to sign on its behalf, and the job that uses it.

A business line records a grant for an organisation (its USCC): the templates it
covers, an optional amount limit and a time window, optionally the seal to use. The job
finds SIGNING contracts of that business line where the organisation is an E_SIGN
signer whose turn it is, and signs them with the organisation's seal through the
signing service, the grant standing in for the intent (``delegated_intent``). The
signature is recorded like any other (compare-and-set on the contract, audit event,
webhook), its audit event citing the grant and the SHA-256 of its canonical form.

Once per signer: a ``delegated_signings`` row is claimed (with a lease) before the
remote work and marked DONE in the transaction that records the signature. Revocation
takes effect at once: recording a signature first updates the grant's row on the
condition that it is still ACTIVE and in its window, so it either commits before the
revocation (the signature came first) or finds the grant revoked and records nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.errors import FailedPrecondition, NotFound, invalid
from core import paging
from services.contract import audit, records, states, webhooks
from services.contract.delegated_intent import DELEGATION, grant_claims
from services.contract.identity_client import Identity
from services.contract.lifecycle import Lifecycle, add_revisions, mark_signer, placement_for
from services.contract.model import (
    SYSTEM,
    Actor,
    Contract,
    ContractStatus,
    Signer,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)
from services.contract.scheduled_store import DelegatedSigningRow, GrantRow
from services.contract.signing_client import Appearance, Signing
from services.contract.store import Conflict, ContractRow, SignerRow, compare_and_set
from services.contract.times import as_utc, rfc3339, utcnow

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
REVOKED = "REVOKED"
CLAIMED = "CLAIMED"
DONE = "DONE"
FAILED = "FAILED"

MAX_TEMPLATES = 50
MAX_ATTEMPTS = 5
BATCH = 20
_RETRY_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class GrantInput:
    organisation_name: str
    organisation: SubjectRef
    template_ids: tuple[str, ...]
    amount_limit: str
    start: datetime | None
    end: datetime | None
    seal_id: str = ""


@dataclass(frozen=True)
class Grant:
    grant_id: str
    app_id: str
    organisation_name: str
    organisation: SubjectRef
    subject_id: str
    template_ids: tuple[str, ...]
    amount_limit: str
    valid_from: datetime
    valid_until: datetime
    seal_id: str
    status: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoke_reason: str
    use_count: int
    sha256: str

    def refusal(self, contract: Contract, signer: Signer, now: datetime) -> str:
        """Why the grant does not sign for ``signer`` on ``contract`` now ('' when it does)."""
        if self.status != ACTIVE:
            return f"grant {self.grant_id} is {self.status}"
        if not self.valid_from <= now < self.valid_until:
            return f"grant {self.grant_id} is valid from {rfc3339(self.valid_from)} until {rfc3339(self.valid_until)}"
        if contract.app_id != self.app_id:
            return "the contract belongs to another business line"
        if signer.kind is not SignerKind.ORG or signer.sign_mode is not SignMode.E_SIGN:
            return "only an organisation's E_SIGN signature can be delegated"
        if not signer.subject_id or signer.subject_id != self.subject_id:
            return "the signer is another organisation"
        if contract.template_id not in self.template_ids:
            return f"template {contract.template_id} is not covered"
        if self.amount_limit:
            if not contract.amount:
                return "the contract has no amount and the grant has a limit"
            if Decimal(contract.amount) > Decimal(self.amount_limit):
                return f"amount {contract.amount} is above the limit {self.amount_limit}"
        if contract.status is not ContractStatus.SIGNING or states.is_overdue(contract, now):
            return f"contract {contract.contract_id} is not open for signing"
        if not states.is_turn(contract.signers, signer):
            return "it is not the signer's turn"
        return ""

    def citation(self) -> dict[str, object]:
        """What a delegated signature's audit event records about the grant."""
        return {"grantId": self.grant_id, "grantSha256": self.sha256, "organisation": self.organisation_name,
                "templateIds": list(self.template_ids), "amountLimit": self.amount_limit,
                "validFrom": rfc3339(self.valid_from), "validUntil": rfc3339(self.valid_until)}


def canonical(grant_id: str, app_id: str, value: GrantInput, subject_id: str, valid_from: datetime,
              valid_until: datetime, created_at: datetime, created_by: str) -> bytes:
    """The grant as it is hashed (and cited): keys sorted, no whitespace, UTF-8."""
    body = {
        "grantId": grant_id, "appId": app_id, "createdAt": rfc3339(created_at), "createdBy": created_by,
        "organisation": {"name": value.organisation_name, "idType": value.organisation.id_type,
                         "id": value.organisation.id},
        "subjectId": subject_id, "templateIds": list(value.template_ids), "amountLimit": value.amount_limit,
        "validFrom": rfc3339(valid_from), "validUntil": rfc3339(valid_until), "sealId": value.seal_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _grant(row: GrantRow) -> Grant:
    return Grant(
        grant_id=row.grant_id, app_id=row.app_id, organisation_name=row.organisation_name,
        organisation=SubjectRef(row.id_type, row.id_value), subject_id=row.subject_id,
        template_ids=tuple(json.loads(row.template_ids_json)), amount_limit=row.amount_limit,
        valid_from=as_utc(row.valid_from), valid_until=as_utc(row.valid_until), seal_id=row.seal_id,
        status=row.status, created_at=as_utc(row.created_at), created_by=row.created_by,
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None, revoke_reason=row.revoke_reason,
        use_count=row.use_count, sha256=row.sha256,
    )


def _checked(value: GrantInput, now: datetime) -> tuple[datetime, datetime]:
    if not value.organisation_name.strip() or len(value.organisation_name) > 200:
        raise invalid("grant.organisationName", "is required, at most 200 characters")
    if value.organisation.id_type != "USCC" or not value.organisation.id.strip():
        raise invalid("grant.organisation", "must be the organisation's USCC: {\"idType\": \"USCC\", \"id\": \"…\"}")
    if not value.template_ids or len(value.template_ids) > MAX_TEMPLATES or not all(value.template_ids):
        raise invalid("grant.templateIds", f"must name 1 to {MAX_TEMPLATES} templates")
    if value.amount_limit:
        try:
            limit = Decimal(value.amount_limit)
        except InvalidOperation:
            raise invalid("grant.amountLimit", "must be a decimal number of yuan, e.g. 50000.00") from None
        if not limit.is_finite() or limit < 0:
            raise invalid("grant.amountLimit", "must be a non-negative decimal number of yuan")
    if len(value.seal_id) > 64:
        raise invalid("grant.sealId", "is at most 64 characters")
    start = as_utc(value.start) if value.start else now
    if value.end is None:
        raise invalid("grant.endTime", "is required: a grant must end")
    end = as_utc(value.end)
    if end <= start or end <= now:
        raise invalid("grant.endTime", "must be after the start time and in the future")
    return start, end


class Grants:
    def __init__(self, sessions: sessionmaker, identity: Identity, *, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._identity = identity
        self._clock = clock

    def create(self, app_id: str, value: GrantInput, actor: Actor) -> Grant:
        now = self._clock()
        start, end = _checked(value, now)
        value = GrantInput(value.organisation_name.strip(), SubjectRef("USCC", value.organisation.id.strip()),
                           tuple(dict.fromkeys(t.strip() for t in value.template_ids)), value.amount_limit.strip(),
                           start, end, value.seal_id.strip())
        subject_id = self._identity.upsert_subject("ORG", value.organisation_name, value.organisation)
        grant_id = "dg_" + secrets.token_hex(10)
        digest = hashlib.sha256(canonical(grant_id, app_id, value, subject_id, start, end, now, actor.name)).hexdigest()
        with self._sessions.begin() as session:
            session.add(GrantRow(
                grant_id=grant_id, app_id=app_id, organisation_name=value.organisation_name,
                id_type=value.organisation.id_type, id_value=value.organisation.id, subject_id=subject_id,
                template_ids_json=json.dumps(list(value.template_ids)), amount_limit=value.amount_limit,
                valid_from=start, valid_until=end, seal_id=value.seal_id, status=ACTIVE, created_at=now,
                created_by=actor.name, revoke_reason="", use_count=0, sha256=digest,
            ))
        log.info("signing grant %s made by %s for subject %s", grant_id, actor.name, subject_id)
        return self.get(app_id, grant_id)

    def get(self, app_id: str, grant_id: str) -> Grant:
        with self._sessions() as session:
            row = session.get(GrantRow, grant_id, populate_existing=True) if grant_id else None
            if row is None or row.app_id != app_id:
                raise NotFound(f"signing grant {grant_id} not found")
            return _grant(row)

    def list(self, app_id: str, size: int, token: str) -> tuple[list[Grant], str]:
        size = paging.page_size(size)
        scope = paging.scope("grants", app_id)
        after = paging.decode(token, scope)
        query = sa.select(GrantRow).where(GrantRow.app_id == app_id)
        if after is not None:
            moment = datetime.fromisoformat(after["t"])
            query = query.where(sa.or_(GrantRow.created_at < moment,
                                       sa.and_(GrantRow.created_at == moment, GrantRow.grant_id < after["id"])))
        with self._sessions() as session:
            rows = session.scalars(query.order_by(GrantRow.created_at.desc(), GrantRow.grant_id.desc())
                                   .limit(size + 1)).all()
            grants = [_grant(r) for r in rows[:size]]
        more = len(rows) > size
        next_token = paging.encode({"t": grants[-1].created_at.isoformat(), "id": grants[-1].grant_id}, scope) if more else ""
        return grants, next_token

    def revoke(self, app_id: str, grant_id: str, reason: str, actor: Actor) -> Grant:
        if len(reason) > 500:
            raise invalid("reason", "must be at most 500 characters")
        current = self.get(app_id, grant_id)
        with self._sessions.begin() as session:
            done = session.execute(
                sa.update(GrantRow)
                .where(GrantRow.grant_id == grant_id, GrantRow.app_id == app_id, GrantRow.status == ACTIVE)
                .values(status=REVOKED, revoked_at=self._clock(), revoke_reason=reason)
                .execution_options(synchronize_session=False)
            )
        if done.rowcount != 1:
            raise FailedPrecondition(f"signing grant {grant_id} is already {current.status}")
        log.info("signing grant %s revoked by %s", grant_id, actor.name)
        return self.get(app_id, grant_id)

    def active(self, now: datetime) -> list[Grant]:
        with self._sessions() as session:
            rows = session.scalars(
                sa.select(GrantRow).where(GrantRow.status == ACTIVE, GrantRow.valid_from <= now, GrantRow.valid_until > now)
            ).all()
            return [_grant(r) for r in rows]


class GrantGone(Exception):
    """The grant was revoked or ran out while its signature was being made."""


class DelegatedSigning:
    def __init__(self, sessions: sessionmaker, grants: Grants, signing: Signing, lifecycle: Lifecycle, *,
                 lease_seconds: float = 300.0, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._grants = grants
        self._signing = signing
        self._lifecycle = lifecycle
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self.owner = "d_" + secrets.token_hex(6)

    def run_once(self) -> int:
        """Sign what active grants cover now; the number of signatures recorded."""
        now = self._clock()
        grants = self._grants.active(now)
        if not grants:
            return 0
        signed = 0
        for contract, signer in self._candidates(grants, now):
            grant = next((g for g in grants if not g.refusal(contract, signer, now)), None)
            if grant is not None and self._claim(contract, signer, grant, now):
                signed += self._sign(grant, contract, signer)
        return signed

    def _candidates(self, grants: Sequence[Grant], now: datetime) -> list[tuple[Contract, Signer]]:
        settled = sa.exists().where(
            DelegatedSigningRow.contract_id == SignerRow.contract_id, DelegatedSigningRow.signer_id == SignerRow.signer_id,
            sa.or_(DelegatedSigningRow.status != CLAIMED, DelegatedSigningRow.lease_until >= now),
        )
        with self._sessions() as session:
            pairs = session.execute(
                sa.select(ContractRow.contract_id, SignerRow.signer_id)
                .join(SignerRow, SignerRow.contract_id == ContractRow.contract_id)
                .where(
                    ContractRow.status == ContractStatus.SIGNING.value,
                    ContractRow.app_id.in_({g.app_id for g in grants}),
                    ContractRow.template_id.in_({t for g in grants for t in g.template_ids}),
                    SignerRow.status == SignerStatus.PENDING.value,
                    SignerRow.kind == SignerKind.ORG.value,
                    SignerRow.sign_mode == SignMode.E_SIGN.value,
                    SignerRow.subject_id.in_({g.subject_id for g in grants}),
                    ~settled,
                )
                .order_by(ContractRow.created_at)
                .limit(BATCH)
            ).all()
            rows = session.scalars(sa.select(ContractRow).where(ContractRow.contract_id.in_({p[0] for p in pairs}))).all()
            contracts = {c.contract_id: c for c in records.load_many(session, rows, with_data=False)}
        return [(contracts[c], contracts[c].signer(s)) for c, s in pairs if c in contracts]

    def _claim(self, contract: Contract, signer: Signer, grant: Grant, now: datetime) -> bool:
        lease = now + self._lease
        try:
            with self._sessions.begin() as session:
                session.add(DelegatedSigningRow(
                    contract_id=contract.contract_id, signer_id=signer.signer_id, grant_id=grant.grant_id,
                    status=CLAIMED, attempts=1, lease_owner=self.owner, lease_until=lease, created_at=now, last_error="",
                ))
            return True
        except IntegrityError:
            pass  # tried before: take it over only if that attempt's lease ran out
        with self._sessions.begin() as session:
            taken = session.execute(
                sa.update(DelegatedSigningRow)
                .where(DelegatedSigningRow.contract_id == contract.contract_id,
                       DelegatedSigningRow.signer_id == signer.signer_id, DelegatedSigningRow.status == CLAIMED,
                       DelegatedSigningRow.lease_until < now)
                .values(grant_id=grant.grant_id, attempts=DelegatedSigningRow.attempts + 1, lease_owner=self.owner,
                        lease_until=lease)
                .execution_options(synchronize_session=False)
            )
            return taken.rowcount == 1

    def _sign(self, grant: Grant, contract: Contract, signer: Signer) -> int:
        key = (contract.contract_id, signer.signer_id)
        try:
            claims = grant_claims(grant.grant_id, contract, signer, self._clock())
            signed = [
                self._signing.sign_document(
                    document.blob_ref, signer, claims, Appearance(seal_id=grant.seal_id),
                    placement_for(contract, document, signer), contract_id=contract.contract_id,
                    field_name=f"sig_{signer.signer_id}", reason=f"{signer.role}: {contract.title}（委托签署）",
                    key=f"{contract.contract_id}:{document.document_id}:{document.revision}:{signer.signer_id}",
                )
                for document in contract.documents
            ]
            completed = self._record(grant, contract, signer, signed, claims.token_id)
        except GrantGone:
            log.info("grant %s ended while signing contract %s; nothing recorded", grant.grant_id, contract.contract_id)
            self._release(key, "the grant was revoked or ended while signing", retry_now=True)
            return 0
        except Conflict:
            self._release(key, "the contract changed while signing", retry_now=True)
            return 0
        except Exception as exc:  # noqa: BLE001 - e.g. the signing service down: retried after a pause
            log.exception("delegated signing of contract %s under grant %s failed", contract.contract_id, grant.grant_id)
            self._release(key, f"{exc.__class__.__name__}: {exc}")
            return 0
        if completed:
            self._lifecycle.finish_lta(contract.contract_id)
        return 1

    def _record(self, grant: Grant, contract: Contract, signer: Signer, signed, token_id: str) -> bool:
        now = self._clock()
        final = states.status_after_signature(contract, signer.signer_id)
        changes: dict[str, object] = {"updated_at": now}
        if final is ContractStatus.COMPLETED:
            changes.update(status=final.value, finished_at=now, lta_pending=True)
        actor = Actor(f"grant:{grant.grant_id}")
        try:
            with self._sessions.begin() as session:
                # First, so that a revocation either waits for this commit or wins outright.
                still = session.execute(
                    sa.update(GrantRow)
                    .where(GrantRow.grant_id == grant.grant_id, GrantRow.status == ACTIVE,
                           GrantRow.valid_from <= now, GrantRow.valid_until > now)
                    .values(use_count=GrantRow.use_count + 1)
                    .execution_options(synchronize_session=False)
                )
                if still.rowcount != 1:
                    raise GrantGone(grant.grant_id)
                compare_and_set(session, contract.contract_id, contract.version, **changes)
                mark_signer(session, signer, SignerStatus.SIGNED, now)
                revisions = add_revisions(session, contract, signed, "signed", signer.signer_id, now)
                audit.append(session, contract.contract_id, "signer.signed", actor, signer_id=signer.signer_id,
                             details={"intentMethod": DELEGATION, "intentTokenId": token_id,
                                      "delegation": grant.citation(),
                                      "certificates": [s.certificate_serial for s in signed], "documents": revisions},
                             now=now)
                webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id, type=webhooks.SIGNED,
                                 biz_no=contract.biz_no, status=final, now=now, signer_id=signer.signer_id)
                if final is ContractStatus.COMPLETED:
                    audit.append(session, contract.contract_id, "contract.completed", SYSTEM, now=now)
                    webhooks.enqueue(session, app_id=contract.app_id, contract_id=contract.contract_id,
                                     type=webhooks.COMPLETED, biz_no=contract.biz_no, status=final, now=now)
                session.execute(
                    sa.update(DelegatedSigningRow)
                    .where(DelegatedSigningRow.contract_id == contract.contract_id,
                           DelegatedSigningRow.signer_id == signer.signer_id)
                    .values(status=DONE, finished_at=now, lease_owner="", lease_until=None, last_error="")
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:
            raise Conflict(contract.contract_id) from None
        log.info("contract %s: signer %s signed under grant %s", contract.contract_id, signer.signer_id, grant.grant_id)
        return final is ContractStatus.COMPLETED

    def _release(self, key: tuple[str, str], error: str, *, retry_now: bool = False) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.get(DelegatedSigningRow, key, with_for_update=True)
            if row is None or row.lease_owner != self.owner:
                return
            row.last_error = error[:1000]
            row.lease_owner = ""
            row.lease_until = now if retry_now else now + _RETRY_AFTER
            if not retry_now and row.attempts >= MAX_ATTEMPTS:
                row.status = FAILED
                row.finished_at = now
                log.warning("delegated signing of %s gives up after %d attempts: %s", key, row.attempts, error)
