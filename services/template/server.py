"""Wiring of the template service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.template.v1 import template_pb2, template_pb2_grpc

    # RPCs not built yet answer UNIMPLEMENTED (the generated base class).
    template_pb2_grpc.add_TemplateServiceServicer_to_server(template_pb2_grpc.TemplateServiceServicer(), server)
    return [template_pb2.DESCRIPTOR.services_by_name["TemplateService"].full_name]
