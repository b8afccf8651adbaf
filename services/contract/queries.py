"""Reading contracts as their business line sees them: one contract, a filtered list
(newest first, stable keyset cursor), a document revision as PDF, the audit trail.

A contract is visible only to the app that created it; any other app gets NOT_FOUND.
Downloads are audit events themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from core.blobs import BlobStore
from core.errors import NotFound, invalid
from core import paging
from services.contract import audit, records
from services.contract.identity_client import Identity
from services.contract.model import Actor, Contract, ContractStatus, DocumentKind, SubjectRef
from services.contract.store import ContractRow, RevisionRow, SignerRow
from services.contract.times import as_utc, utcnow

PDF = "application/pdf"
MAX_EVENTS_PAGE = 500


@dataclass(frozen=True)
class ContractFilter:
    status: ContractStatus | None = None
    signer: SubjectRef | None = None
    template_id: str = ""
    group_id: str = ""
    biz_no: str = ""
    created_from: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class ContractPage:
    contracts: tuple[Contract, ...]
    next_token: str


@dataclass(frozen=True)
class DocumentFile:
    contract_id: str
    document_id: str
    revision: int
    sha256: str
    content_type: str
    data: bytes
    file_name: str


@dataclass(frozen=True)
class EventPage:
    events: tuple[audit.Event, ...]
    next_token: str
    chain: audit.ChainCheck


def _file_name(name: str) -> str:
    cleaned = "".join("_" if c in '\\/:*?"<>|\r\n\t' else c for c in name).strip() or "document"
    return cleaned[:120] + ".pdf"


class Queries:
    def __init__(self, sessions: sessionmaker, blobs: BlobStore, identity: Identity, *,
                 clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._blobs = blobs
        self._identity = identity
        self._clock = clock

    def get(self, app_id: str, contract_id: str) -> Contract:
        with self._sessions() as session:
            return records.load_owned(session, app_id, contract_id)

    def list(self, app_id: str, where: ContractFilter, page_size: int, page_token: str) -> ContractPage:
        size = paging.page_size(page_size)
        list_scope = paging.scope(app_id, where.status, where.signer, where.template_id, where.group_id, where.biz_no,
                                  where.created_from, where.created_before)
        position = paging.decode(page_token, list_scope)
        query = sa.select(ContractRow)
        if app_id:  # empty: the platform's own console, which sees every business line
            query = query.where(ContractRow.app_id == app_id)
        if where.status is not None:
            query = query.where(ContractRow.status == where.status.value)
        if where.template_id:
            query = query.where(ContractRow.template_id == where.template_id)
        if where.group_id:
            query = query.where(ContractRow.group_id == where.group_id)
        if where.biz_no:
            query = query.where(ContractRow.biz_no == where.biz_no)
        if where.created_from is not None:
            query = query.where(ContractRow.created_at >= where.created_from)
        if where.created_before is not None:
            query = query.where(ContractRow.created_at < where.created_before)
        if where.signer is not None:
            query = query.where(ContractRow.contract_id.in_(self._signer_contracts(where.signer)))
        if position is not None:
            try:
                after = as_utc(datetime.fromisoformat(position["t"]))
                after_id = str(position["id"])
            except (KeyError, TypeError, ValueError):
                raise invalid("pageToken", "is not a token returned by this list") from None
            query = query.where(
                sa.or_(ContractRow.created_at < after,
                       sa.and_(ContractRow.created_at == after, ContractRow.contract_id < after_id))
            )
        query = query.order_by(ContractRow.created_at.desc(), ContractRow.contract_id.desc()).limit(size + 1)
        with self._sessions() as session:
            rows = session.scalars(query).all()
            # Lists leave out the fill data (it can hold images); GetContract returns it.
            contracts = records.load_many(session, rows[:size], with_data=False)
        next_token = ""
        if len(rows) > size:
            last = contracts[-1]
            next_token = paging.encode({"t": last.created_at.isoformat(), "id": last.contract_id}, list_scope)
        return ContractPage(tuple(contracts), next_token)

    def _signer_contracts(self, signer: SubjectRef):
        """Contracts with a signer known by this identifier, or by any other identifier of
        the same subject (identity unifies them)."""
        if not signer.id_type or not signer.id:
            raise invalid("signer", "give both signer.idType and signer.id")
        same_identifier = sa.and_(SignerRow.id_type == signer.id_type, SignerRow.id_value == signer.id)
        subject_id = self._identity.resolve_subject(signer)
        match = sa.or_(same_identifier, SignerRow.subject_id == subject_id) if subject_id else same_identifier
        return sa.select(SignerRow.contract_id).where(match)

    def document(self, app_id: str, contract_id: str, document_id: str, revision: int | None, actor: Actor) -> DocumentFile:
        with self._sessions() as session:
            contract = records.load_owned(session, app_id, contract_id)
            document = contract.document(document_id)
            if revision is None or revision == document.revision:
                number, ref, sha256 = document.revision, document.blob_ref, document.sha256
            else:
                row = session.get(RevisionRow, (document.document_id, revision))
                if row is None:
                    raise NotFound(f"document {document.document_id} has no revision {revision} (current: {document.revision})")
                number, ref, sha256 = row.revision, row.blob_ref, row.sha256
        data = self._blobs.get(ref)
        with self._sessions.begin() as session:
            audit.append(session, contract.contract_id, "document.downloaded", actor,
                         details={"documentId": document.document_id, "revision": number, "sha256": sha256},
                         now=self._clock())
        name = contract.title if document.kind is DocumentKind.MAIN else document.name
        return DocumentFile(contract.contract_id, document.document_id, number, sha256, PDF, data, _file_name(name))

    def events(self, app_id: str, contract_id: str, page_size: int, page_token: str) -> EventPage:
        size = paging.page_size(page_size, default=100, maximum=MAX_EVENTS_PAGE)
        list_scope = paging.scope("events", app_id, contract_id)
        position = paging.decode(page_token, list_scope)
        after = int(position.get("seq", 0)) if position else 0
        with self._sessions() as session:
            records.load_owned(session, app_id, contract_id)
            chain = audit.verify_stored(session, contract_id)
            events = audit.load(session, contract_id, after_seq=after, limit=size + 1)
        next_token = paging.encode({"seq": events[size - 1].seq}, list_scope) if len(events) > size else ""
        return EventPage(tuple(events[:size]), next_token, chain)
