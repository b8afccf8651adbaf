"""Client-side signing of a contract (``:prepareSign`` / ``:completeSign``): the signer's
own key signs, through the signing service's PrepareSignature and CompleteSignature.

Prepare is SignContract up to the signature: the same checks (open contract, E_SIGN
signer, their turn), the intent token consumed for this contract and recorded, then the
signing service prepares the document and hands back the bytes to sign. Complete reads
what the preparation was made for (GetPreparation), checks the contract still waits for
that signer on that very document revision (another signature in between makes the
preparation stale), has the signature embedded, and records it exactly as SignContract
does: a new document revision, ``signer.signed``, webhooks, completion and B-LTA.

One preparation per document: a client signature covers the digest of one document, so
a contract with attachments gets one preparation per document (in the contract's document
order) and its completion takes one signature per document. Every signature is checked
before any is embedded, so one wrong signature changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import grpc
from sqlalchemy.orm import sessionmaker

from core.errors import FailedPrecondition, NotFound, invalid
from core.rpc.client import Peers
from services.contract import audit, states
from services.contract.identity_client import Identity, IntentClaims
from services.contract.lifecycle import Lifecycle, _as_confirmed, placement_for
from services.contract.model import Actor, Contract, Document, Placement, Signer, SignMode
from services.contract.peer_errors import peer_error
from services.contract.signing_client import (
    SIGN_TIMEOUT,
    Appearance,
    SignedPdf,
    Signing,
    _checked,
    _claims,
    _identity,
    check_handwriting,
)
from services.contract.times import as_utc, utcnow

MAX_CHAIN_ENTRIES = 10


@dataclass(frozen=True)
class Prepared:
    preparation_id: str
    to_be_signed: bytes
    digest: bytes
    expires_at: datetime
    document_id: str = ""


@dataclass(frozen=True)
class PreparedContract:
    """One preparation per document, in the contract's document order."""

    documents: list[Prepared]

    @property
    def expires_at(self) -> datetime:
        return min(p.expires_at for p in self.documents)


@dataclass(frozen=True)
class PreparationInfo:
    preparation_id: str
    contract_id: str
    signer_id: str
    document_sha256: str
    certificate_serial: str
    state: str  # PREPARED, COMPLETED or EXPIRED


class Preparations:
    """The signing service's client-side signing calls (protobuf stays in this class)."""

    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.signing.v1 import signing_pb2_grpc

        return signing_pb2_grpc.SigningServiceStub(self._peers.channel("signing"))

    def prepare(self, pdf_ref: str, signer: Signer, claims: IntentClaims, chain: list[str], appearance: Appearance,
                placement: Placement, *, contract_id: str, document_sha256: str, field_name: str,
                reason: str) -> Prepared:
        """``document_sha256``: the hash the contract recorded, which the stored PDF must still have."""
        from econtract.common.v1 import common_pb2
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.PrepareSignatureRequest(
            pdf=common_pb2.FileData(blob_ref=pdf_ref), signer=_identity(signer), intent=_claims(claims),
            certificate_chain=chain,
            positions=[common_pb2.SignaturePosition(keyword=p.keyword, page=p.page, x=p.x, y=p.y, width=p.width,
                                                    height=p.height) for p in placement.positions],
            field_name=field_name, reason=reason, contract_id=contract_id,
            document_sha256=document_sha256,
        )
        if placement.date_position is not None:
            p = placement.date_position
            request.date_position.CopyFrom(common_pb2.SignaturePosition(
                keyword=p.keyword, page=p.page, x=p.x, y=p.y, width=p.width, height=p.height))
        if appearance.seal_id:
            request.seal_id = appearance.seal_id
        elif appearance.handwriting:
            request.handwriting_image = appearance.handwriting
        try:
            # Not retried: the intent token behind it is spent, and a retry would only prepare twice.
            reply = self._peers.call(self._stub().PrepareSignature, request, timeout=SIGN_TIMEOUT, idempotent=False)
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", f"preparing the signature of signer {signer.signer_id}",
                             rename=_rename) from None
        return Prepared(reply.preparation_id, reply.to_be_signed, reply.digest,
                        as_utc(reply.expire_time.ToDatetime()))

    def get(self, preparation_id: str) -> PreparationInfo:
        from econtract.signing.v1 import signing_pb2

        try:
            reply = self._peers.call(self._stub().GetPreparation,
                                     signing_pb2.GetPreparationRequest(preparation_id=preparation_id))
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", "reading the preparation", rename=_rename) from None
        state = signing_pb2.GetPreparationResponse.State.Name(reply.state).removeprefix("STATE_")
        return PreparationInfo(reply.preparation_id, reply.contract_id, reply.signer_id, reply.document_sha256,
                               reply.certificate_serial, state)

    def check(self, preparation_id: str, signature: bytes, *, contract_id: str) -> None:
        """The signing service checks the signature and chain without embedding anything."""
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.CompleteSignatureRequest(preparation_id=preparation_id, signature=signature,
                                                       contract_id=contract_id, validate_only=True)
        try:
            self._peers.call(self._stub().CompleteSignature, request, timeout=SIGN_TIMEOUT)
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", f"checking the signature of preparation {preparation_id}",
                             rename=_rename) from None

    def complete(self, preparation_id: str, signature: bytes, *, contract_id: str, key: str) -> SignedPdf:
        from econtract.common.v1 import common_pb2
        from econtract.signing.v1 import signing_pb2

        request = signing_pb2.CompleteSignatureRequest(preparation_id=preparation_id, signature=signature,
                                                       contract_id=contract_id, delivery=common_pb2.DELIVERY_BLOB)
        action = f"completing preparation {preparation_id}"
        try:
            reply = self._peers.call(self._stub().CompleteSignature, request, timeout=SIGN_TIMEOUT,
                                     idempotent=False, idempotency_key=key)
        except grpc.RpcError as exc:
            raise peer_error(exc, "signing", action, rename=_rename) from None
        return _checked(reply, action)


def _rename(field: str) -> str:
    return {"certificate_chain": "certificateChain", "seal_id": "sealId", "handwriting_image": "handwritingImage",
            "preparation_id": "preparationId"}.get(field, field)


class ClientSigning(Lifecycle):
    """SignContract's rules and recording, with the signature made by the signer's own key."""

    def __init__(self, sessions: sessionmaker, identity: Identity, signing: Signing, preparations: Preparations, *,
                 clock: Callable[[], datetime] = utcnow):
        super().__init__(sessions, identity, signing, clock=clock)
        self._preparations = preparations

    def prepare(self, app_id: str, contract_id: str, signer_id: str, intent_token: str, chain: list[str],
                appearance: Appearance, actor: Actor) -> PreparedContract:
        if not signer_id:
            raise invalid("signerId", "is required")
        if not intent_token:
            raise invalid("intentToken", "is required: confirm the intent first (POST /v1/intents)")
        if not chain or not any(entry.strip() for entry in chain):
            raise invalid("certificateChain", "is required: the signer's certificate (PEM) first, then its CAs")
        if len(chain) > MAX_CHAIN_ENTRIES:
            raise invalid("certificateChain", f"at most {MAX_CHAIN_ENTRIES} entries")
        if appearance.handwriting:
            check_handwriting(appearance.handwriting)
        contract, signer = self._load(app_id, contract_id, signer_id)
        assert signer is not None
        self._ensure_open(contract)
        states.ensure_can_sign(contract, signer, SignMode.E_SIGN)
        claims = self._identity.consume_intent(intent_token, signer_id, contract.contract_id, contract.document_hashes)
        actor = actor.as_signer(signer.signer_id)
        self._record_intent(contract, signer, claims, actor)
        prepared = [
            replace(self._preparations.prepare(
                document.blob_ref, _as_confirmed(signer, claims), claims, chain, appearance,
                placement_for(contract, document, signer), contract_id=contract.contract_id,
                document_sha256=document.sha256, field_name=f"sig_{signer.signer_id}",
                reason=f"{signer.role}: {contract.title}"),
                document_id=document.document_id)
            for document in contract.documents
        ]
        with self._sessions.begin() as session:
            for document, one in zip(contract.documents, prepared, strict=True):
                audit.append(session, contract.contract_id, "signature.prepared", actor, signer_id=signer.signer_id,
                             details={"preparationId": one.preparation_id, "documentId": document.document_id,
                                      "revision": document.revision, "expireTime": one.expires_at.isoformat()},
                             now=self._clock())
        return PreparedContract(prepared)

    def complete(self, app_id: str, contract_id: str, signatures: list[tuple[str, bytes]],
                 actor: Actor) -> Contract:
        """``signatures``: (preparation id, signature) for every document of the contract."""
        if not signatures:
            raise invalid("signatures", "is required: the preparationId and signature of every document")
        for index, (preparation_id, signature) in enumerate(signatures):
            where = f"signatures[{index}]." if len(signatures) > 1 else ""
            if not preparation_id:
                raise invalid(f"{where}preparationId", "is required")
            if not signature:
                raise invalid(f"{where}signature", "is required: the signature over toBeSigned")
        contract, _ = self._load(app_id, contract_id)
        self._ensure_open(contract)
        infos = [self._preparations.get(preparation_id) for preparation_id, _ in signatures]
        for info in infos:
            if info.contract_id != contract.contract_id:
                raise NotFound(f"preparation {info.preparation_id} not found for contract {contract.contract_id}")
        signer_ids = {info.signer_id for info in infos}
        if len(signer_ids) != 1:
            raise invalid("signatures", "the preparations belong to different signers: complete each signer's own")
        contract, signer = self._load(app_id, contract_id, signer_ids.pop())  # combined signing: the same person
        assert signer is not None
        states.ensure_can_sign(contract, signer, SignMode.E_SIGN)  # a replay after success stops here
        by_document = _by_document(contract, infos)
        ordered = [dict(signatures)[by_document[d.document_id].preparation_id] for d in contract.documents]
        for document, signature in zip(contract.documents, ordered, strict=True):
            self._preparations.check(by_document[document.document_id].preparation_id, signature,
                                     contract_id=contract.contract_id)
        signed = [
            self._preparations.complete(
                by_document[document.document_id].preparation_id, signature, contract_id=contract.contract_id,
                key=f"{contract.contract_id}:{document.document_id}:{document.revision}:"
                    f"{by_document[document.document_id].preparation_id}")
            for document, signature in zip(contract.documents, ordered, strict=True)
        ]
        actor = actor.as_signer(signer.signer_id)
        preparation_ids = [by_document[d.document_id].preparation_id for d in contract.documents]
        details = {"clientSide": True, "preparationIds": preparation_ids,
                   "certificates": [s.certificate_serial for s in signed],
                   **self._prepared_under(contract.contract_id, signer.signer_id, set(preparation_ids))}
        return self._record_signature(contract, signer, signed, "signed", "signer.signed", details, actor)

    def _prepared_under(self, contract_id: str, signer_id: str, preparation_ids: set[str]) -> dict[str, Any]:
        """The intent the preparations were made under, as the trail recorded it then: the
        token was spent at preparation, so the signature names it like a cloud signature does."""
        with self._sessions.begin() as session:
            events = audit.load(session, contract_id)
        prepared_at = min((e.seq for e in events if e.type == "signature.prepared"
                           and e.details.get("preparationId") in preparation_ids), default=None)
        intents = [e for e in events if e.type == "intent.verified" and e.signer_id == signer_id
                   and (prepared_at is None or e.seq < prepared_at)]
        if not intents:
            return {}
        intent = intents[-1].details
        found = {"intentMethod": intent.get("method"), "intentTokenId": intent.get("tokenId"),
                 "intentMethods": intent.get("intentMethods")}
        found.update({k: intent[k] for k in ("facePersonSubjectId", "facePersonBasis") if k in intent})
        return {k: v for k, v in found.items() if v is not None}


def _by_document(contract: Contract, infos: list[PreparationInfo]) -> dict[str, PreparationInfo]:
    """Each document of the contract with the one preparation made for its current revision."""
    by_sha256 = {}
    for info in infos:
        if info.document_sha256 in by_sha256:
            raise invalid("signatures", f"preparations {by_sha256[info.document_sha256].preparation_id} and "
                                        f"{info.preparation_id} are for the same document: send one per document")
        by_sha256[info.document_sha256] = info
    found = {d.document_id: by_sha256.get(d.sha256) for d in contract.documents}
    if len(infos) != len(contract.documents) or None in found.values():
        stale = [i.preparation_id for i in infos if i.document_sha256 not in {d.sha256 for d in contract.documents}]
        if stale:
            raise FailedPrecondition(
                f"preparation {stale[0]} was made for an earlier revision of the document, which has changed "
                "since: prepare the signature again")
        raise invalid("signatures", f"contract {contract.contract_id} has {len(contract.documents)} documents: send "
                                    "one signature per document, each with its preparationId")
    return found  # type: ignore[return-value]
