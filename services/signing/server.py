"""Wiring of the signing service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.signing.v1 import signing_pb2, signing_pb2_grpc

    # RPCs not built yet answer UNIMPLEMENTED (the generated base class).
    signing_pb2_grpc.add_SigningServiceServicer_to_server(signing_pb2_grpc.SigningServiceServicer(), server)
    return [signing_pb2.DESCRIPTOR.services_by_name["SigningService"].full_name]
