"""What the pages know about a signer and the contracts in front of them, from the
contract, identity and template services (protobuf stops here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format

from gateway.pages.links import Link
from gateway.pages.rpc import Client, Rpc

MAX_COMBINED = 50  # as many as one intent verification covers


@dataclass(frozen=True)
class Signer:
    signer_id: str
    name: str
    kind: str  # PERSON | ORG
    id_type: str
    id: str
    mobile: str
    email: str


@dataclass(frozen=True)
class ContractState:
    contract_id: str
    title: str
    amount: str
    pending: bool  # the signer has neither signed nor declined it
    turn: bool  # it is the signer's turn in its signing order


@dataclass(frozen=True)
class SigningState:
    signer: Signer
    contracts: tuple[ContractState, ...]
    consented: bool  # the subject opened cloud signing before (any contract)

    @property
    def to_sign(self) -> tuple[ContractState, ...]:
        return tuple(c for c in self.contracts if c.pending)


@dataclass(frozen=True)
class Together:
    sign_mode: str  # E_SIGN | AGREEMENT
    contract_ids: list[str]  # the link's contract first
    template_id: str  # of the link's contract; empty for one made from a file


@dataclass(frozen=True)
class AppSettings:
    signing_page: dict[str, Any]  # proto3 JSON of SigningPageConfig
    intent_policy: dict[str, Any]  # proto3 JSON of IntentPolicy


def _sign_mode(value: int) -> str:
    from econtract.contract.v1 import contract_pb2 as pb

    return "AGREEMENT" if value == pb.Signer.AGREEMENT else "E_SIGN"


async def signing_state(rpc: Rpc, app_id: str, signer_id: str, contract_ids: list[str], client: Client) -> SigningState:
    from econtract.common.v1 import common_pb2
    from econtract.contract.v1 import contract_pb2 as pb

    reply = await rpc.call("contract", "GetSigningContext",
                           pb.GetSigningContextRequest(signer_id=signer_id, contract_ids=contract_ids),
                           pb.GetSigningContextResponse, client=client, app_id=app_id)
    signer = reply.signer
    return SigningState(
        signer=Signer(signer.signer_id, signer.name, common_pb2.SignerKind.Name(signer.kind), signer.subject.id_type,
                      signer.subject.id, signer.mobile, signer.email),
        contracts=tuple(
            ContractState(c.contract_id, c.title, c.amount, c.signer_status == pb.Signer.PENDING, c.signer_turn)
            for c in reply.contracts
        ),
        consented=reply.HasField("consent_time"),
    )


async def app_settings(rpc: Rpc, app_id: str, client: Client) -> AppSettings:
    from econtract.identity.v1 import identity_pb2

    reply = await rpc.call("identity", "GetApp", identity_pb2.GetAppRequest(app_id=app_id), identity_pb2.GetAppResponse,
                           client=client)
    return AppSettings(json_format.MessageToDict(reply.app.signing_page),
                       json_format.MessageToDict(reply.app.intent_policy))


async def template_page(rpc: Rpc, app_id: str, template_id: str, client: Client) -> dict[str, Any]:
    """The template's own signing-page override, proto3 JSON (empty: none, or no template)."""
    from econtract.template.v1 import template_pb2

    if not template_id:
        return {}
    reply = await rpc.call("template", "GetTemplate", template_pb2.GetTemplateRequest(template_id=template_id),
                           template_pb2.GetTemplateResponse, client=client, app_id=app_id)
    return json_format.MessageToDict(reply.signing_page) if reply.HasField("signing_page") else {}


async def signed_together(rpc: Rpc, link: Link, client: Client) -> Together:
    """The signer's sign mode, and the contracts signed on this page: the link's, then the
    other open ones of its group where the same person (same subject) signs the same way
    and it is their turn (combined signing, one intent verification for all)."""
    from econtract.contract.v1 import contract_pb2 as pb

    contract = await rpc.call("contract", "GetContract", pb.GetContractRequest(contract_id=link.contract_id),
                              pb.GetContractResponse, client=client, app_id=link.app_id)
    me = next(s for s in contract.signers if s.signer_id == link.signer_id)
    mode = _sign_mode(me.sign_mode)
    if not contract.group_id:
        return Together(mode, [link.contract_id], contract.template_id)
    listed = await rpc.call(
        "contract", "ListContracts",
        pb.ListContractsRequest(group_id=contract.group_id, status=pb.Contract.SIGNING, signer=me.subject,
                                page_size=MAX_COMBINED),
        pb.ListContractsResponse, client=client, app_id=link.app_id)
    others = [
        c.contract_id for c in reversed(listed.contracts)  # oldest first, as the business line made them
        if c.contract_id != link.contract_id and any(
            s.subject_id == me.subject_id and s.status == pb.Signer.PENDING and s.sign_mode == me.sign_mode
            for s in c.signers)
    ][: MAX_COMBINED - 1]
    if not others:
        return Together(mode, [link.contract_id], contract.template_id)
    try:
        state = await signing_state(rpc, link.app_id, link.signer_id, [link.contract_id, *others], client)
    except grpc.RpcError:
        return Together(mode, [link.contract_id], contract.template_id)  # one closed meanwhile: sign the link's own
    return Together(mode, [link.contract_id, *(c.contract_id for c in state.contracts[1:] if c.pending and c.turn)],
                    contract.template_id)
