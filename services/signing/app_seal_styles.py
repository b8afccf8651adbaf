"""The seal styles a business line chose for its signers, read from the identity service.

The outgoing half of the RPC layer: protobuf messages are built and read only here. An
app identity does not know, or one that chose nothing, gets the platform's styles.
"""
from __future__ import annotations

import grpc

from core.errors import Unavailable
from core.rpc.client import Peers
from services.signing.seal_library import SealStyle, SealStyles


class AppSealStyles:
    def __init__(self, peers: Peers):
        self._peers = peers

    def for_app(self, app_id: str) -> SealStyles:
        from econtract.identity.v1 import identity_pb2, identity_pb2_grpc

        if not app_id:
            return SealStyles()
        stub = identity_pb2_grpc.IdentityServiceStub(self._peers.channel("identity"))
        try:
            reply = self._peers.call(stub.GetApp, identity_pb2.GetAppRequest(app_id=app_id))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return SealStyles()
            raise Unavailable("cannot read the app's seal styles from the identity service") from exc
        chosen = reply.app.seal_styles
        defaults = SealStyles()
        return SealStyles(company=_style(chosen.company, defaults.company),
                          personal=_style(chosen.personal, defaults.personal))


def _style(name: str, fallback: SealStyle) -> SealStyle:
    try:
        return SealStyle(name) if name else fallback
    except ValueError:
        return fallback  # identity checks styles on write; an unknown one draws the platform's
