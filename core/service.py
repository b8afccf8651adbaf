"""Running one service as a process: settings, tracing, storage, the gRPC server, graceful stop."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from core import db
from core.blobs import BlobStore
from core.rpc.client import Peers
from core.rpc.server import RunningServer, run_until_signalled, start_server
from core.settings import Settings, load
from core.tracing import make_tracer_provider

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    """What a service's handlers may use; each part is made on first use, never at import."""

    settings: Settings
    tracer_provider: TracerProvider | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @cached_property
    def engine(self):
        engine = db.make_engine(self.settings)
        if self.tracer_provider is not None:
            db.trace_engine(engine, self.tracer_provider)
        self._closers.append(engine.dispose)
        return engine

    @cached_property
    def sessions(self):
        return db.make_sessions(self.engine)

    @cached_property
    def redis(self):
        from core.redis import make_redis

        if self.tracer_provider is not None:
            from opentelemetry.instrumentation.redis import RedisInstrumentor

            instrumentor = RedisInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=self.tracer_provider)
        client = make_redis(self.settings)
        self._closers.append(client.close)
        return client

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    @cached_property
    def peers(self) -> Peers:
        peers = Peers(self.settings, self.tracer_provider)
        self._closers.append(peers.close)
        return peers

    def on_close(self, close: Callable[[], None]) -> None:
        """Run ``close`` when the service stops (after in-flight calls finished)."""
        self._closers.append(close)

    def migrate(self) -> None:
        db.migrate(self.settings, self.engine)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()


Register = Callable[[grpc.Server, ServiceContext], Iterable[str]]


def start(ctx: ServiceContext, register: Register) -> RunningServer:
    """Migrate, then start serving (used by ``serve`` and by in-process tests)."""
    if ctx.settings.auto_migrate:
        ctx.migrate()
    return start_server(
        ctx.settings.address,
        lambda server: register(server, ctx),
        tracer_provider=ctx.tracer_provider,
        workers=ctx.settings.rpc_workers,
        max_concurrent=ctx.settings.rpc_max_concurrent,
        grace=ctx.settings.grace_seconds,
    )


def serve(component: str, register: Register) -> None:
    """Entry point of ``econtract serve <component>``: run until SIGTERM, then drain."""
    settings = load(component)
    provider = make_tracer_provider(settings)
    trace.set_tracer_provider(provider)
    ctx = ServiceContext(settings, provider)
    running = start(ctx, register)
    log.info("%s serving on %s", component, settings.address)
    try:
        run_until_signalled(running)
    finally:
        ctx.close()
        provider.shutdown()
    log.info("%s stopped", component)
