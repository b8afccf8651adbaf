"""Wiring of the filegen service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.filegen.v1 import filegen_pb2, filegen_pb2_grpc

    # RPCs not built yet answer UNIMPLEMENTED (the generated base class).
    filegen_pb2_grpc.add_FilegenServiceServicer_to_server(filegen_pb2_grpc.FilegenServiceServicer(), server)
    return [filegen_pb2.DESCRIPTOR.services_by_name["FilegenService"].full_name]
