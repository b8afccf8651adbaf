"""Wiring of the template service: its servicer on a gRPC server."""
from __future__ import annotations

import grpc

from core.service import ServiceContext


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    from econtract.template.v1 import template_pb2, template_pb2_grpc
    from services.template.api import TemplateApi
    from services.template.catalog import Catalog
    from services.template.filegen_client import Filegen
    from services.template.preview import Previews
    from services.template.redline import Redlines
    from services.template.review import Review
    from services.template.vetting import Vetting

    filegen = Filegen(ctx.peers)
    catalog = Catalog(ctx.sessions, ctx.blobs, Vetting(filegen))
    api = TemplateApi(catalog, Review(ctx.sessions), Redlines(catalog), Previews(catalog, filegen))
    template_pb2_grpc.add_TemplateServiceServicer_to_server(api, server)
    return [template_pb2.DESCRIPTOR.services_by_name["TemplateService"].full_name]
