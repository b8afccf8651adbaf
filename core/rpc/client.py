"""Calling other services: one channel per peer, a deadline on every call, bounded retries.

Only UNAVAILABLE is retried (the peer was not reached or is restarting), with jittered
backoff and a small bound, so a stopped service fails fast instead of hanging. A call that
is not idempotent is retried only when it carries an idempotency key.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

import grpc
import grpc.aio
from opentelemetry.instrumentation.grpc import aio_client_interceptors, client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.trace import TracerProvider
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from core.settings import Settings

_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Reconnect quickly after a peer restarts instead of the default backoff of up to 2 minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
ATTEMPTS = 3


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE


def _retry_policy(retry: bool) -> dict[str, Any]:
    return dict(
        retry=retry_if_exception(_unavailable),
        stop=stop_after_attempt(ATTEMPTS if retry else 1) | stop_after_delay(2.0),
        wait=wait_random_exponential(multiplier=0.05, max=0.5),
        reraise=True,
    )


def _metadata(metadata: Mapping[str, str] | None, idempotency_key: str | None) -> list[tuple[str, str]]:
    pairs = list((metadata or {}).items())
    if idempotency_key:
        pairs.append(("idempotency-key", idempotency_key))
    return pairs


class Peers:
    """Synchronous channels to the other services, for use inside a service."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider | None):
        self._settings = settings
        self._tracer_provider = tracer_provider
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()

    def channel(self, service: str) -> grpc.Channel:
        with self._lock:
            if service not in self._channels:
                channel = grpc.insecure_channel(self._settings.addresses[service], options=_OPTIONS)
                if self._tracer_provider is not None:
                    # OpenTelemetry's interceptor type needs its own intercept_channel.
                    channel = intercept_channel(channel, client_interceptor(tracer_provider=self._tracer_provider))
                self._channels[service] = channel
            return self._channels[service]

    def call(
        self,
        method: Callable,
        request,
        *,
        timeout: float | None = None,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        """Call a stub method with a deadline; retry UNAVAILABLE when that is safe."""
        policy = _retry_policy(idempotent or bool(idempotency_key))
        timeout = timeout or self._settings.call_timeout
        for attempt in Retrying(**policy):
            with attempt:
                return method(request, timeout=timeout, metadata=_metadata(metadata, idempotency_key))

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()


class AsyncPeers:
    """Asyncio channels to the services, for the gateway."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider | None):
        self._settings = settings
        self._tracer_provider = tracer_provider
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            interceptors = aio_client_interceptors(tracer_provider=self._tracer_provider) if self._tracer_provider else None
            self._channels[service] = grpc.aio.insecure_channel(
                self._settings.addresses[service], options=_OPTIONS, interceptors=interceptors
            )
        return self._channels[service]

    async def call(
        self,
        service: str,
        method_path: str,
        request,
        response_type,
        *,
        timeout: float | None = None,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        """Unary call by full method path (``/pkg.Service/Method``) with a deadline and safe retries."""
        stub = self.channel(service).unary_unary(
            method_path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_type.FromString,
        )
        policy = _retry_policy(idempotent or bool(idempotency_key))
        timeout = timeout or self._settings.call_timeout
        async for attempt in AsyncRetrying(**policy):
            with attempt:
                return await stub(request, timeout=timeout, metadata=_metadata(metadata, idempotency_key))

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
