"""Wiring of the contract service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.contract.v1 import contract_pb2, contract_pb2_grpc

    # RPCs not built yet answer UNIMPLEMENTED (the generated base class).
    contract_pb2_grpc.add_ContractServiceServicer_to_server(contract_pb2_grpc.ContractServiceServicer(), server)
    return [contract_pb2.DESCRIPTOR.services_by_name["ContractService"].full_name]
