"""What a signer does on the pages, as calls to the services: open cloud signing, sign
with a seal or handwriting, agree by checkbox, decline. None of these is retried: each
changes a contract, and the contract service refuses a repeat anyway."""
from __future__ import annotations

import base64
from dataclasses import dataclass

from gateway.pages.rpc import Client, Rpc
from gateway.pages.signing_state import Signer

MAX_SEALS = 20


@dataclass(frozen=True)
class Seal:
    seal_id: str
    name: str
    image_base64: str  # PNG, shown as a data: URL
    is_default: bool


async def seals(rpc: Rpc, app_id: str, signer: Signer, client: Client) -> list[Seal]:
    from econtract.common.v1 import common_pb2
    from econtract.signing.v1 import signing_pb2

    request = signing_pb2.ListSealsRequest(subject=common_pb2.SubjectRef(id_type=signer.id_type, id=signer.id),
                                           page_size=MAX_SEALS)
    reply = await rpc.call("signing", "ListSeals", request, signing_pb2.ListSealsResponse, client=client, app_id=app_id)
    return [Seal(s.seal_id, s.name, base64.b64encode(s.image).decode("ascii"), s.is_default) for s in reply.seals]


async def consent(rpc: Rpc, app_id: str, signer_id: str, contract_ids: list[str], text: str, client: Client) -> None:
    from econtract.contract.v1 import contract_pb2 as pb

    request = pb.RecordSigningConsentRequest(signer_id=signer_id, contract_ids=contract_ids, text=text)
    await rpc.call("contract", "RecordSigningConsent", request, pb.RecordSigningConsentResponse, client=client,
                   app_id=app_id, idempotent=False)


async def sign(rpc: Rpc, app_id: str, contract_id: str, signer_id: str, intent_token: str, client: Client, *,
               seal_id: str = "", handwriting: bytes = b"") -> None:
    """Neither ``seal_id`` nor ``handwriting``: the subject's default seal."""
    from econtract.contract.v1 import contract_pb2 as pb

    request = pb.SignContractRequest(contract_id=contract_id, signer_id=signer_id, intent_token=intent_token)
    if handwriting:
        request.handwriting_image = handwriting
    elif seal_id:
        request.seal_id = seal_id
    await rpc.call("contract", "SignContract", request, pb.SignContractResponse, client=client, app_id=app_id,
                   slow=True, idempotent=False)


async def agree(rpc: Rpc, app_id: str, contract_id: str, signer_id: str, client: Client, *, reading_seconds: int,
                checkbox_text: str, page_url: str) -> None:
    from econtract.common.v1 import common_pb2
    from econtract.contract.v1 import contract_pb2 as pb

    evidence = common_pb2.ClientEvidence(ip=client.ip, user_agent=client.user_agent[:512], checkbox_text=checkbox_text,
                                         page_url=page_url)
    request = pb.AgreeContractRequest(contract_id=contract_id, signer_id=signer_id, reading_seconds=reading_seconds,
                                      client_evidence=evidence)
    await rpc.call("contract", "AgreeContract", request, pb.AgreeContractResponse, client=client, app_id=app_id,
                   slow=True, idempotent=False)


async def reject(rpc: Rpc, app_id: str, contract_id: str, signer_id: str, reason: str, client: Client) -> None:
    from econtract.contract.v1 import contract_pb2 as pb

    request = pb.RejectContractRequest(contract_id=contract_id, signer_id=signer_id, reason=reason)
    await rpc.call("contract", "RejectContract", request, pb.RejectContractResponse, client=client, app_id=app_id,
                   idempotent=False)
