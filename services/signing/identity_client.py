"""The signing service's one call to identity: the outside CAs an app trusts.

The outgoing half of the RPC layer: protobuf messages are built and read only here. An
app that identity does not know has no anchors (verification then trusts the platform
roots alone); identity being down is UNAVAILABLE, not a silently narrower trust.
"""
from __future__ import annotations

import grpc
from cryptography import x509

from core.errors import Unavailable
from core.rpc.client import Peers


class AppTrustAnchors:
    def __init__(self, peers: Peers):
        self._peers = peers

    def for_app(self, app_id: str) -> list[x509.Certificate]:
        from econtract.identity.v1 import identity_pb2, identity_pb2_grpc

        if not app_id:
            return []
        stub = identity_pb2_grpc.IdentityServiceStub(self._peers.channel("identity"))
        try:
            reply = self._peers.call(stub.GetApp, identity_pb2.GetAppRequest(app_id=app_id))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise Unavailable("cannot read the app's trust anchors from the identity service") from exc
        anchors: list[x509.Certificate] = []
        for pem in reply.app.trust_anchors:
            try:
                anchors.extend(x509.load_pem_x509_certificates(pem.encode()))
            except ValueError:
                continue  # identity checks anchors on write; an unreadable one trusts nothing
        return anchors
