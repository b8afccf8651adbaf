"""What intent verification needs to know about a signer and contracts, asked of the
contract service (``ContractService.GetSigningContext``): the signer's contact and subject,
and each contract's state, amount and current document hashes.

This is the outgoing half of the RPC layer: protobuf messages are built and read only
here; the contract service's errors become this service's domain errors, masked.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import grpc

from core import errors
from core.rpc.client import Peers
from core.rpc.status import from_rpc_error
from services.identity.masking import mask_text
from services.identity.policy import SignerKind

# The contract service's answer codes passed on as they are; anything else is INTERNAL.
_PASSED_ON: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
}


@dataclass(frozen=True)
class ContractForSigning:
    contract_id: str
    title: str
    status: str  # a Contract.Status name: only SIGNING can be signed
    document_sha256: tuple[str, ...]  # the main document first
    amount: Decimal | None  # yuan; None when the contract has none
    signer_status: str  # a Signer.Status name
    signer_turn: bool


@dataclass(frozen=True)
class SigningContext:
    signer_id: str
    kind: SignerKind
    name: str
    subject_id: str  # empty when the contract service has not recorded it
    id_type: str
    id_value: str = field(repr=False)
    mobile: str = field(repr=False)
    email: str = field(repr=False)
    app_id: str
    contracts: tuple[ContractForSigning, ...]


def _amount(raw: str) -> Decimal | None:
    try:
        return Decimal(raw) if raw.strip() else None
    except InvalidOperation:
        return None  # unreadable counts as unknown, which the policy treats as large


def peer_error(service: str, exc: grpc.RpcError) -> errors.DomainError:
    status = from_rpc_error(exc)
    code = exc.code()
    message = mask_text(status.message or code.name)
    kind = _PASSED_ON.get(code)
    if kind is None:
        return errors.Unavailable(f"the {service} service failed: {code.name}")
    return kind(f"{service} service: {message}")


class ContractSigningContexts:
    """Fetches signing contexts over gRPC with a deadline (``Peers`` retries UNAVAILABLE)."""

    def __init__(self, peers: Peers, timeout: float | None = None):
        self._peers = peers
        self._timeout = timeout

    def __call__(self, signer_id: str, contract_ids: Sequence[str]) -> SigningContext:
        from econtract.common.v1 import common_pb2
        from econtract.contract.v1 import contract_pb2, contract_pb2_grpc

        stub = contract_pb2_grpc.ContractServiceStub(self._peers.channel("contract"))
        request = contract_pb2.GetSigningContextRequest(signer_id=signer_id, contract_ids=list(contract_ids))
        try:
            reply = self._peers.call(stub.GetSigningContext, request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise peer_error("contract", exc) from None
        signer = reply.signer
        kind_name = common_pb2.SignerKind.Name(signer.kind)
        if kind_name not in SignerKind.__members__:
            # The policy differs for organisations, so guessing would be unsafe.
            raise errors.FailedPrecondition(f"the contract service did not say whether signer {signer_id} is a PERSON or an ORG")
        return SigningContext(
            signer_id=signer.signer_id or signer_id,
            kind=SignerKind(kind_name),
            name=signer.name,
            subject_id=signer.subject_id,
            id_type=signer.subject.id_type,
            id_value=signer.subject.id,
            mobile=signer.mobile,
            email=signer.email,
            app_id=reply.app_id,
            contracts=tuple(
                ContractForSigning(
                    contract_id=c.contract_id,
                    title=c.title,
                    status=contract_pb2.Contract.Status.Name(c.status),
                    document_sha256=tuple(h.lower() for h in c.document_sha256),
                    amount=_amount(c.amount),
                    signer_status=contract_pb2.Signer.Status.Name(c.signer_status),
                    signer_turn=c.signer_turn,
                )
                for c in reply.contracts
            ),
        )
