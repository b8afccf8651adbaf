"""The contract as the domain sees it: plain values, no protobuf and no rows."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import NotFound


class ContractStatus(StrEnum):
    SIGNING = "SIGNING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


FINAL_STATUSES = frozenset({ContractStatus.COMPLETED, ContractStatus.REJECTED, ContractStatus.EXPIRED, ContractStatus.REVOKED})


class SignerStatus(StrEnum):
    PENDING = "PENDING"
    SIGNED = "SIGNED"
    REJECTED = "REJECTED"


class SignMode(StrEnum):
    E_SIGN = "E_SIGN"
    AGREEMENT = "AGREEMENT"


class SignerKind(StrEnum):
    PERSON = "PERSON"
    ORG = "ORG"


class DocumentKind(StrEnum):
    MAIN = "MAIN"
    ATTACHMENT = "ATTACHMENT"


@dataclass(frozen=True)
class SubjectRef:
    id_type: str
    id: str


@dataclass(frozen=True)
class Position:
    """A keyword anchor (``keyword``) or an absolute spot (``page``, ``x``, ``y``)."""

    keyword: str = ""
    page: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass(frozen=True)
class Placement:
    """Where one role signs on one document."""

    positions: tuple[Position, ...]
    riding_seal: bool = False
    date_position: Position | None = None  # where the signing date is stamped, if anywhere


@dataclass(frozen=True)
class Signer:
    signer_id: str
    role: str
    kind: SignerKind
    name: str
    subject: SubjectRef
    subject_id: str
    mobile: str
    email: str
    sign_mode: SignMode
    order: int
    status: SignerStatus
    action_at: datetime | None = None
    reject_reason: str = ""

    def same_person(self, other: Signer) -> bool:
        """The same subject (for combined signing across contracts)."""
        if self.subject_id and other.subject_id:
            return self.subject_id == other.subject_id
        return self.subject == other.subject


@dataclass(frozen=True)
class Document:
    document_id: str
    name: str
    kind: DocumentKind
    sha256: str
    pages: int
    revision: int
    blob_ref: str
    placements: dict[str, Placement] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    contract_id: str
    app_id: str
    title: str
    biz_no: str
    status: ContractStatus
    template_id: str
    template_version: int
    template_docx_sha256: str
    group_id: str
    documents: tuple[Document, ...]
    signers: tuple[Signer, ...]
    data: dict[str, Any]
    amount: str
    expire_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    status_reason: str
    version: int
    lta_pending: bool = False

    def signer(self, signer_id: str) -> Signer:
        for signer in self.signers:
            if signer.signer_id == signer_id:
                return signer
        raise NotFound(f"signer {signer_id} is not a signer of contract {self.contract_id}")

    def document(self, document_id: str) -> Document:
        if not document_id:
            return self.documents[0]
        for document in self.documents:
            if document.document_id == document_id:
                return document
        raise NotFound(f"document {document_id} is not part of contract {self.contract_id}")

    @property
    def document_hashes(self) -> tuple[str, ...]:
        """Current SHA-256 of every document, the main one first (what intents bind to)."""
        return tuple(d.sha256 for d in self.documents)


@dataclass(frozen=True)
class Actor:
    """Who caused an event, as the audit trail records it (``app:…``, ``signer:…``, ``system``)."""

    name: str
    ip: str = ""
    user_agent: str = ""

    def as_signer(self, signer_id: str) -> Actor:
        return Actor(f"signer:{signer_id}", self.ip, self.user_agent)


SYSTEM = Actor("system")
