"""Wiring of the contract service: configuration, domain objects, servicer, and the
background thread (webhook deliveries, expiry, B-LTA retries)."""
from __future__ import annotations

from functools import cached_property

import grpc

from core.service import ServiceContext
from services.contract.config import ContractConfig, load_config


class ContractParts:
    """The service's domain objects, each made on first use (nothing connects at start-up)."""

    def __init__(self, ctx: ServiceContext, config: ContractConfig):
        self.ctx = ctx
        self.config = config

    @cached_property
    def identity(self):
        from services.contract.identity_client import Identity

        return Identity(self.ctx.peers)

    @cached_property
    def signing(self):
        from services.contract.signing_client import Signing

        return Signing(self.ctx.peers)

    @cached_property
    def creation(self):
        from services.contract.create import Creation
        from services.contract.filegen_client import Filegen
        from services.contract.template_client import Templates

        return Creation(self.ctx.sessions, Templates(self.ctx.peers), Filegen(self.ctx.peers), self.identity, self.ctx.blobs)

    @cached_property
    def lifecycle(self):
        from services.contract.lifecycle import Lifecycle

        return Lifecycle(self.ctx.sessions, self.identity, self.signing)

    @cached_property
    def queries(self):
        from services.contract.queries import Queries

        return Queries(self.ctx.sessions, self.ctx.blobs, self.identity)

    @cached_property
    def sign_urls(self):
        from services.contract.sign_urls import SignUrls

        return SignUrls(self.ctx.sessions, self.ctx.settings.public_url, self.config.sign_url_ttl)

    @cached_property
    def signing_contexts(self):
        from services.contract.signing_context import SigningContexts

        return SigningContexts(self.ctx.sessions)

    @cached_property
    def deliveries(self):
        from services.contract.webhooks import Deliveries

        provider = self.ctx.tracer_provider
        tracer = provider.get_tracer("econtract.contract.webhooks") if provider is not None else None
        return Deliveries(self.ctx.sessions, self.identity, self.config, tracer=tracer)


def register_with(server: grpc.Server, ctx: ServiceContext, config: ContractConfig) -> list[str]:
    """Add the servicer to ``server`` and start the background thread (tests pass their own ``config``)."""
    from econtract.contract.v1 import contract_pb2, contract_pb2_grpc
    from services.contract.api import ContractApi
    from services.contract.worker import BackgroundWork

    parts = ContractParts(ctx, config)
    contract_pb2_grpc.add_ContractServiceServicer_to_server(ContractApi(parts), server)
    # Made now so that they close after the thread stops (closers run newest first).
    _ = (ctx.sessions, ctx.peers)
    work = BackgroundWork(parts.deliveries, parts.lifecycle, config)
    work.start()
    ctx.on_close(work.stop)
    return [contract_pb2.DESCRIPTOR.services_by_name["ContractService"].full_name]


def register(server: grpc.Server, ctx: ServiceContext) -> list[str]:
    return register_with(server, ctx, load_config(dev=ctx.settings.dev))  # fails fast on a bad variable
