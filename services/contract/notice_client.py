"""The contract service's call to identity's senders: a notice to a signer by SMS or email.

The outgoing half of the RPC layer: protobuf is built and read only here.
"""
from __future__ import annotations

import grpc

from core.rpc.client import Peers
from services.contract.peer_errors import peer_error


class NoticeSender:
    def __init__(self, peers: Peers):
        self._peers = peers

    def send(self, channel: str, recipient: str, subject: str, body: str, notice_id: str) -> str:
        """Hand the notice to identity's sender for ``channel`` (SMS or EMAIL); the message id."""
        from econtract.identity.v1 import identity_pb2, identity_pb2_grpc

        channels = {"SMS": identity_pb2.NOTICE_CHANNEL_SMS, "EMAIL": identity_pb2.NOTICE_CHANNEL_EMAIL}
        request = identity_pb2.SendNoticeRequest(channel=channels[channel], recipient=recipient, subject=subject,
                                                  body=body, notice_id=notice_id)
        stub = identity_pb2_grpc.IdentityServiceStub(self._peers.channel("identity"))
        try:
            # The notice id rides along as the message id, so a retried SMS can be dropped as a duplicate.
            reply = self._peers.call(stub.SendNotice, request, idempotent=False, idempotency_key=notice_id)
        except grpc.RpcError as exc:
            raise peer_error(exc, "identity", f"sending notice {notice_id}") from None
        return reply.message_id
