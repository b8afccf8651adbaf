"""Intent verification from the page: identity sends the code (or prepares the face
check) and, once confirmed, issues the intent token the page keeps in its session."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.pages.rpc import Client, Rpc
from gateway.pages.sessions import Challenge


@dataclass(frozen=True)
class IntentToken:
    token: str
    expires_at: float
    methods: tuple[str, ...] = ()  # every method the token covers
    missing: tuple[str, ...] = ()  # methods the business line still requires, confirmed in turn


def _seconds(message, field: str) -> float:
    """A timestamp field as Unix seconds (0 when unset)."""
    return getattr(message, field).ToNanoseconds() / 1e9 if message.HasField(field) else 0.0


async def start(rpc: Rpc, app_id: str, signer_id: str, contract_ids: list[str], method: str, client: Client, *,
                face_person: tuple[str, str] | None = None) -> Challenge:
    """Start a challenge; ``face_person`` (ID number, name) is who takes an organisation's face check."""
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2

    request = identity_pb2.CreateIntentRequest(signer_id=signer_id, contract_ids=contract_ids,
                                               method=common_pb2.IntentMethod.Value(method))
    if face_person is not None:
        request.face_person.id_number, request.face_person.name = face_person
    reply = await rpc.call("identity", "CreateIntent", request, identity_pb2.CreateIntentResponse, client=client,
                           app_id=app_id, idempotent=False)
    return Challenge(reply.challenge_id, method, reply.recipient, _seconds(reply, "expire_time"),
                     _seconds(reply, "resend_time"), reply.face_url)


async def resend(rpc: Rpc, app_id: str, challenge: Challenge, client: Client) -> Challenge:
    from econtract.identity.v1 import identity_pb2

    request = identity_pb2.ResendIntentRequest(challenge_id=challenge.challenge_id)
    reply = await rpc.call("identity", "ResendIntent", request, identity_pb2.ResendIntentResponse, client=client,
                           app_id=app_id, idempotent=False)
    return Challenge(challenge.challenge_id, challenge.method, reply.recipient or challenge.recipient,
                     _seconds(reply, "expire_time"), _seconds(reply, "resend_time"))


async def confirm(rpc: Rpc, app_id: str, challenge: Challenge, client: Client, *, code: str = "",
                  face: bytes = b"", prior: str = "") -> IntentToken:
    """Confirm the challenge; ``prior`` is the token of this signing's earlier confirmations."""
    from econtract.common.v1 import common_pb2
    from econtract.identity.v1 import identity_pb2

    request = identity_pb2.ConfirmIntentRequest(challenge_id=challenge.challenge_id, code=code, face_result=face,
                                                intent_token=prior)
    reply = await rpc.call("identity", "ConfirmIntent", request, identity_pb2.ConfirmIntentResponse, client=client,
                           app_id=app_id, idempotent=False)
    names = common_pb2.IntentMethod.Name
    return IntentToken(reply.intent_token, _seconds(reply, "expire_time"), tuple(names(m) for m in reply.methods),
                       tuple(names(m) for m in reply.missing_methods))
