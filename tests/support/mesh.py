"""The whole mesh in one process: five services and the gateway on real ports, for integration tests."""
from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.rpc.server import RunningServer
from core.service import ServiceContext, start
from core.settings import SERVICES, load
from gateway.app import create_app


@dataclass
class Mesh:
    env: dict[str, str]
    exporter: InMemorySpanExporter
    provider: TracerProvider
    servers: dict[str, RunningServer] = field(default_factory=dict)
    contexts: dict[str, ServiceContext] = field(default_factory=dict)
    gateway: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return "http://" + self.env["GATEWAY_ADDR"]

    def settings(self, component: str):
        return load(component, self.env)

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.should_exit = True
            self.thread.join(10)
        for running in self.servers.values():
            running.stop()
        for ctx in self.contexts.values():
            ctx.close()


def start_mesh(env: dict[str, str]) -> Mesh:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    mesh = Mesh(env, exporter, provider)
    for name in SERVICES:
        ctx = ServiceContext(load(name, env), provider)
        register = importlib.import_module(f"services.{name}.server").register
        mesh.contexts[name] = ctx
        mesh.servers[name] = start(ctx, register)
    try:
        mesh.gateway, mesh.thread = start_gateway(load("gateway", env), provider)
    except RuntimeError:
        mesh.stop()
        raise
    return mesh


def start_gateway(settings, provider, **options) -> tuple[uvicorn.Server, threading.Thread]:
    """A gateway on ``settings.address`` in a background thread, once it accepts connections."""
    host, _, port = settings.address.rpartition(":")
    config = uvicorn.Config(create_app(settings, provider, **options), host=host, port=int(port),
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process gateway did not start")
        time.sleep(0.05)
    return server, thread
