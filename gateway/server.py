"""Running the gateway as a process (uvicorn), with a graceful stop on SIGTERM."""
from __future__ import annotations

import logging

import uvicorn
from opentelemetry import trace

from core.settings import load
from core.tracing import make_tracer_provider
from gateway.app import create_app

log = logging.getLogger(__name__)


def serve() -> None:
    settings = load("gateway")
    provider = make_tracer_provider(settings)
    trace.set_tracer_provider(provider)
    host, _, port = settings.address.rpartition(":")
    config = uvicorn.Config(
        create_app(settings, provider),
        host=host,
        port=int(port),
        log_level="info",
        access_log=False,  # request lines would carry signatures and ids; traces carry what matters
        timeout_graceful_shutdown=int(settings.grace_seconds),
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        provider.shutdown()
