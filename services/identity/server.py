"""Wiring of the identity service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.masterkey import load_master_key
from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.identity.v1 import identity_pb2, identity_pb2_grpc
    from services.identity.api import IdentityApi
    from services.identity.apps import Apps

    api = IdentityApi(Apps(ctx.sessions, load_master_key(ctx.settings)))
    identity_pb2_grpc.add_IdentityServiceServicer_to_server(api, server)
    return [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name]
