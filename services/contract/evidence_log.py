"""The evidence log: an append-only RFC 6962 Merkle tree with one leaf per completed
contract (its final document hashes, the head of its audit trail and the hash of its
certificate of completion), and its inclusion and consistency proofs.

A contract is logged once it is COMPLETED and its documents carry their B-LTA
timestamp (so the logged hashes are final). Leaves are numbered from 0 without gaps:
an append takes the next index inside its transaction and the primary key refuses a
second leaf at the same index, so two appends that race retry rather than fork the
log; the unique contract id makes a contract's leaf one. Leaves are never updated or
deleted, which is what the consistency proofs between tree heads attest.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.blobs import BlobStore
from core.errors import Aborted, FailedPrecondition, NotFound, OutOfRange
from services.contract import audit, merkle, records
from services.contract.completion_certificate import CertificateRenderer, facts
from services.contract.evidence_formats import LeafData, LeafDocument, leaf_bytes
from services.contract.evidence_store import LeafRow
from services.contract.model import SYSTEM, ContractStatus
from services.contract.store import ContractRow
from services.contract.times import as_utc, rfc3339, utcnow

log = logging.getLogger(__name__)

BATCH = 20
_APPEND_TRIES = 5


@dataclass(frozen=True)
class Leaf:
    index: int
    contract_id: str
    data: bytes
    hash: str  # lowercase hex RFC 6962 leaf hash
    certificate_ref: str
    created_at: datetime


def _leaf(row: LeafRow) -> Leaf:
    return Leaf(row.leaf_index, row.contract_id, row.leaf_json.encode("utf-8"), row.leaf_hash, row.certificate_ref,
                as_utc(row.created_at))


class EvidenceLog:
    def __init__(self, sessions: sessionmaker, blobs: BlobStore, certificates: CertificateRenderer, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._blobs = blobs
        self._certificates = certificates
        self._clock = clock

    # -- appending --------------------------------------------------------------------------

    def append_due(self) -> int:
        """Log completed contracts not logged yet, oldest first; the number logged."""
        self._certificates.warm()
        logged = sa.exists().where(LeafRow.contract_id == ContractRow.contract_id)
        with self._sessions() as session:
            due = session.scalars(
                sa.select(ContractRow.contract_id)
                .where(ContractRow.status == ContractStatus.COMPLETED.value, ContractRow.lta_pending.is_(False), ~logged)
                .order_by(ContractRow.finished_at)
                .limit(BATCH)
            ).all()
        count = 0
        for contract_id in due:
            try:
                self.append(contract_id)
                count += 1
            except FailedPrecondition as exc:
                log.error("contract %s cannot enter the evidence log: %s", contract_id, exc.message)
        return count

    def append(self, contract_id: str) -> Leaf:
        """The contract's leaf, appended now if it has none."""
        existing = self.leaf_of(contract_id)
        if existing is not None:
            return existing
        with self._sessions() as session:
            contract = records.find(session, contract_id)
            if contract is None:
                raise NotFound(f"contract {contract_id} not found")
            events = audit.load(session, contract_id)
        if contract.status is not ContractStatus.COMPLETED or contract.lta_pending:
            raise FailedPrecondition(f"contract {contract_id} is {contract.status.value}"
                                     + (" and still being timestamped" if contract.lta_pending else "")
                                     + "; only a completed, timestamped contract enters the evidence log")
        check = audit.verify(events)
        if not check.ok:
            raise FailedPrecondition(f"the audit trail of contract {contract_id} does not verify: {check.reason}")
        now = self._clock()
        pdf = self._certificates.render(facts(contract, events, now))
        certificate_ref = self._blobs.put(pdf)
        data = leaf_bytes(LeafData(
            contract_id=contract_id,
            completed_at=rfc3339(contract.finished_at or now),
            documents=tuple(LeafDocument(d.document_id, d.sha256) for d in contract.documents),
            audit_seq=events[-1].seq,
            audit_head=events[-1].hash,
            certificate_sha256=hashlib.sha256(pdf).hexdigest(),
        ))
        digest = merkle.leaf_hash(data).hex()
        for _ in range(_APPEND_TRIES):
            try:
                with self._sessions.begin() as session:
                    index = session.scalar(sa.select(sa.func.coalesce(sa.func.max(LeafRow.leaf_index) + 1, 0)))
                    session.add(LeafRow(leaf_index=index, contract_id=contract_id, leaf_json=data.decode("utf-8"),
                                        leaf_hash=digest, certificate_ref=certificate_ref, created_at=now))
                    session.flush()
                    audit.append(session, contract_id, "evidence.logged", SYSTEM,
                                 details={"leafIndex": index, "leafHash": digest}, now=now)
            except IntegrityError:
                existing = self.leaf_of(contract_id)
                if existing is not None:
                    return existing  # another replica logged it first
                continue  # lost the race for this index: take the next one
            log.info("contract %s logged as evidence leaf %d", contract_id, index)
            return Leaf(index, contract_id, data, digest, certificate_ref, now)
        raise Aborted("the evidence log is busy; try again")

    # -- reading ----------------------------------------------------------------------------

    def leaf_of(self, contract_id: str) -> Leaf | None:
        with self._sessions() as session:
            row = session.scalars(sa.select(LeafRow).where(LeafRow.contract_id == contract_id)).one_or_none()
            return _leaf(row) if row is not None else None

    def size(self) -> int:
        with self._sessions() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(LeafRow)) or 0

    def leaf_hashes(self, size: int) -> list[bytes]:
        """The hashes of the first ``size`` leaves, in order."""
        with self._sessions() as session:
            hashes = session.scalars(
                sa.select(LeafRow.leaf_hash).where(LeafRow.leaf_index < size).order_by(LeafRow.leaf_index)
            ).all()
        if len(hashes) != size:
            raise OutOfRange(f"the evidence log has {len(hashes)} leaves, fewer than {size}")
        return [bytes.fromhex(h) for h in hashes]

    def root(self, size: int) -> bytes:
        return merkle.root(self.leaf_hashes(size))

    def inclusion_proof(self, leaf: Leaf, tree_size: int) -> list[bytes]:
        if leaf.index >= tree_size:
            raise FailedPrecondition(f"leaf {leaf.index} is not yet in a tree of {tree_size}")
        return merkle.inclusion_proof(leaf.index, self.leaf_hashes(tree_size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        if not 0 < first <= second:
            raise OutOfRange(f"tree sizes must satisfy 0 < first ≤ second, got {first} and {second}")
        return merkle.consistency_proof(first, self.leaf_hashes(second))
