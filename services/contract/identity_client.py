"""The contract service's calls to identity: subjects, intent tokens, app settings and
the webhook signature under an app's secret.

The outgoing half of the RPC layer: protobuf is built and read only here. Intent claims
travel on to the signing service untouched, as the serialized message (``raw``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from core.errors import NotFound
from core.rpc.client import Peers
from services.contract.model import SubjectRef
from services.contract.peer_errors import peer_error


@dataclass(frozen=True)
class IntentClaims:
    """What a consumed intent token proves (kept as evidence; ``raw`` goes to signing)."""

    token_id: str
    challenge_id: str
    signer_id: str
    subject_id: str
    method: str
    recipient: str  # masked
    raw: bytes = field(repr=False)
    methods: tuple[str, ...] = ()  # every method confirmed into the token, ``method`` last
    face_person_id: str = ""  # for an organisation's face check: the person who took it
    face_person_basis: str = ""  # how that person was recognised (agent, legal representative by ID number or name)

    @property
    def all_methods(self) -> tuple[str, ...]:
        return self.methods or (self.method,)


class Identity:
    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.identity.v1 import identity_pb2_grpc

        return identity_pb2_grpc.IdentityServiceStub(self._peers.channel("identity"))

    def upsert_subject(self, kind: str, name: str, subject: SubjectRef) -> str:
        """The platform id of the subject known by ``subject`` (created when new)."""
        from econtract.common.v1 import common_pb2
        from econtract.identity.v1 import identity_pb2

        request = identity_pb2.UpsertSubjectRequest(
            kind=common_pb2.SignerKind.Value(kind),
            name=name,
            identifiers=[common_pb2.SubjectRef(id_type=subject.id_type, id=subject.id)],
        )
        try:
            # Idempotent: the same identifiers always land on the same subject.
            reply = self._peers.call(self._stub().UpsertSubject, request)
        except grpc.RpcError as exc:
            raise peer_error(exc, "identity", "recording the signer's subject") from None
        return reply.subject.subject_id

    def resolve_subject(self, subject: SubjectRef) -> str | None:
        """The platform id of the subject known by ``subject``, None when unknown."""
        from econtract.common.v1 import common_pb2
        from econtract.identity.v1 import identity_pb2

        request = identity_pb2.ResolveSubjectRequest(subject=common_pb2.SubjectRef(id_type=subject.id_type, id=subject.id))
        try:
            reply = self._peers.call(self._stub().ResolveSubject, request)
        except grpc.RpcError as exc:
            error = peer_error(exc, "identity", "resolving the signer filter")
            if isinstance(error, NotFound) or exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                return None
            raise error from None
        return reply.subject.subject_id or None

    def consume_intent(self, token: str, signer_id: str, contract_id: str, hashes: Sequence[str]) -> IntentClaims:
        """Accept the intent token for this contract's current documents (once per contract)."""
        from econtract.common.v1 import common_pb2
        from econtract.identity.v1 import identity_pb2

        request = identity_pb2.ConsumeIntentTokenRequest(
            intent_token=token, signer_id=signer_id, contract_id=contract_id, document_sha256=list(hashes)
        )
        try:
            # Not retried: a consumed token cannot be consumed again.
            reply = self._peers.call(self._stub().ConsumeIntentToken, request, idempotent=False)
        except grpc.RpcError as exc:
            raise peer_error(exc, "identity", "checking the intent token", rename=lambda f: "intentToken") from None
        claims = reply.claims
        return IntentClaims(
            token_id=claims.token_id,
            challenge_id=claims.challenge_id,
            signer_id=claims.signer_id,
            subject_id=claims.subject_id,
            method=claims.DESCRIPTOR.fields_by_name["method"].enum_type.values_by_number[claims.method].name,
            recipient=claims.recipient,
            raw=claims.SerializeToString(),
            methods=tuple(common_pb2.IntentMethod.Name(m) for m in reply.methods),
            face_person_id=reply.face_person_subject_id,
            face_person_basis=reply.face_person_basis,
        )

    def sign_app_message(self, app_id: str, message: bytes) -> str:
        """Lowercase hex HMAC-SHA256 of ``message`` under the app's secret."""
        from econtract.identity.v1 import identity_pb2

        try:
            reply = self._peers.call(
                self._stub().SignAppMessage, identity_pb2.SignAppMessageRequest(app_id=app_id, message=message)
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, "identity", "signing the webhook body") from None
        return reply.signature

    def webhook_url(self, app_id: str) -> str:
        """The app's webhook URL (empty when it has none)."""
        from econtract.identity.v1 import identity_pb2

        try:
            reply = self._peers.call(self._stub().GetApp, identity_pb2.GetAppRequest(app_id=app_id))
        except grpc.RpcError as exc:
            raise peer_error(exc, "identity", "reading the app's webhook URL") from None
        return reply.app.webhook_url
