"""Reading contracts from their rows into domain values."""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.errors import NotFound
from services.contract.model import (
    Contract,
    ContractStatus,
    Document,
    DocumentKind,
    Placement,
    Position,
    Signer,
    SignerKind,
    SignerStatus,
    SignMode,
    SubjectRef,
)
from services.contract.store import ContractRow, DocumentRow, SignerRow
from services.contract.times import as_utc


def placements_json(placements: Mapping[str, Placement]) -> str:
    return json.dumps(
        {
            role: {"positions": [p.__dict__ for p in placement.positions], "ridingSeal": placement.riding_seal,
                   **({"datePosition": placement.date_position.__dict__} if placement.date_position else {})}
            for role, placement in placements.items()
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _placements(text: str) -> dict[str, Placement]:
    return {
        role: Placement(tuple(Position(**p) for p in value["positions"]), bool(value.get("ridingSeal")),
                        Position(**value["datePosition"]) if value.get("datePosition") else None)
        for role, value in json.loads(text or "{}").items()
    }


def signer_from_row(row: SignerRow) -> Signer:
    return Signer(
        signer_id=row.signer_id,
        role=row.role,
        kind=SignerKind(row.kind),
        name=row.name,
        subject=SubjectRef(row.id_type, row.id_value),
        subject_id=row.subject_id,
        mobile=row.mobile,
        email=row.email,
        sign_mode=SignMode(row.sign_mode),
        order=row.sign_order,
        status=SignerStatus(row.status),
        action_at=as_utc(row.action_at) if row.action_at else None,
        reject_reason=row.reject_reason,
    )


def _document(row: DocumentRow) -> Document:
    return Document(
        document_id=row.document_id,
        name=row.name,
        kind=DocumentKind(row.kind),
        sha256=row.sha256,
        pages=row.pages,
        revision=row.revision,
        blob_ref=row.blob_ref,
        placements=_placements(row.placements_json),
    )


def _contract(row: ContractRow, signers: Iterable[SignerRow], documents: Iterable[DocumentRow], *, with_data: bool) -> Contract:
    return Contract(
        contract_id=row.contract_id,
        app_id=row.app_id,
        title=row.title,
        biz_no=row.biz_no or "",
        status=ContractStatus(row.status),
        template_id=row.template_id,
        template_version=row.template_version,
        template_docx_sha256=row.template_docx_sha256,
        group_id=row.group_id or "",
        documents=tuple(_document(d) for d in sorted(documents, key=lambda d: d.seq)),
        # Signing order first, then the order the business line listed them.
        signers=tuple(signer_from_row(s) for s in sorted(signers, key=lambda s: (s.sign_order, s.seq))),
        data=json.loads(row.data_json) if with_data else {},
        amount=row.amount,
        expire_at=as_utc(row.expire_at) if row.expire_at else None,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        status_reason=row.status_reason,
        version=row.version,
        lta_pending=row.lta_pending,
    )


def load_many(session: Session, rows: Sequence[ContractRow], *, with_data: bool = True) -> list[Contract]:
    """Contracts for ``rows``, in the same order, with their signers and documents."""
    ids = [r.contract_id for r in rows]
    if not ids:
        return []
    signers: dict[str, list[SignerRow]] = defaultdict(list)
    for signer in session.scalars(sa.select(SignerRow).where(SignerRow.contract_id.in_(ids))):
        signers[signer.contract_id].append(signer)
    documents: dict[str, list[DocumentRow]] = defaultdict(list)
    for document in session.scalars(sa.select(DocumentRow).where(DocumentRow.contract_id.in_(ids))):
        documents[document.contract_id].append(document)
    return [_contract(r, signers[r.contract_id], documents[r.contract_id], with_data=with_data) for r in rows]


def find(session: Session, contract_id: str) -> Contract | None:
    row = session.get(ContractRow, contract_id, populate_existing=True)
    return load_many(session, [row])[0] if row is not None else None


def load_owned(session: Session, app_id: str, contract_id: str) -> Contract:
    """The contract if ``app_id`` created it; any other app gets NOT_FOUND, as if it did not exist."""
    contract = find(session, contract_id) if contract_id else None
    if contract is None or (app_id and contract.app_id != app_id):
        raise NotFound(f"contract {contract_id} not found")
    return contract


def find_by_biz_no(session: Session, app_id: str, biz_no: str) -> Contract | None:
    row = session.scalars(
        sa.select(ContractRow).where(ContractRow.app_id == app_id, ContractRow.biz_no == biz_no)
    ).one_or_none()
    return load_many(session, [row])[0] if row is not None else None


def signer_row(session: Session, signer_id: str) -> SignerRow | None:
    return session.get(SignerRow, signer_id) if signer_id else None


def resolve_signer(session: Session, contract: Contract, signer_id: str) -> Signer:
    """The contract's signer named ``signer_id``; for combined signing, the signer id of
    one contract also names the same person (same subject) on the business line's other
    contracts."""
    for signer in contract.signers:
        if signer.signer_id == signer_id:
            return signer
    origin_row = signer_row(session, signer_id)
    if origin_row is not None:
        owner = session.get(ContractRow, origin_row.contract_id)
        if owner is not None and owner.app_id == contract.app_id:
            origin = signer_from_row(origin_row)
            same = [s for s in contract.signers if s.same_person(origin)]
            if same:
                # One person in two roles: the first one still to act, in signing order.
                pending = [s for s in same if s.status is SignerStatus.PENDING]
                return (pending or same)[0]
    raise NotFound(f"signer {signer_id} is not a signer of contract {contract.contract_id}")
