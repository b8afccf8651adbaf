"""The gRPC server every service runs: interceptors, health, reflection, graceful stop."""
from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import server_interceptor
from opentelemetry.sdk.trace import TracerProvider

from core.errors import DomainError
from core.rpc.status import internal_status, to_status
from core.tracing import current_trace_id

log = logging.getLogger(__name__)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns domain errors into rich statuses; anything unexpected becomes a generic INTERNAL."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method

        def guarded(request, context):
            try:
                return inner(request, context)
            except DomainError as exc:
                context.abort_with_status(rpc_status.to_status(to_status(exc)))
            except Exception as exc:  # noqa: BLE001 - the boundary that must not leak internals
                if _is_abort(exc, context):
                    raise
                trace_id = current_trace_id()
                log.exception("unexpected error in %s (trace %s)", method, trace_id)
                context.abort_with_status(rpc_status.to_status(internal_status(trace_id)))

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _is_abort(exc: Exception, context) -> bool:
    # context.abort() raises a bare Exception after setting the code; let it through.
    code = getattr(context, "code", lambda: None)()
    return code is not None and code != grpc.StatusCode.OK


@dataclass
class RunningServer:
    """A started server and what its graceful stop needs."""

    server: grpc.Server
    health: health.HealthServicer
    port: int
    grace: float
    stopped: threading.Event

    def stop(self) -> None:
        """Report NOT_SERVING, let in-flight calls finish (up to ``grace``), then stop."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(self.grace).wait()


def start_server(
    address: str,
    register: Callable[[grpc.Server], Iterable[str]],
    *,
    tracer_provider: TracerProvider | None,
    workers: int = 16,
    max_concurrent: int | None = None,
    grace: float = 20.0,
) -> RunningServer:
    """Build and start a server; ``register`` adds servicers and returns their full service names.

    Beyond ``max_concurrent`` calls in progress or waiting for a thread, gRPC refuses new
    ones with RESOURCE_EXHAUSTED at once: an overloaded service answers, it never lets a
    queue grow until every caller's deadline has passed.
    """
    interceptors = [ErrorInterceptor()]
    if tracer_provider is not None:
        interceptors.insert(0, server_interceptor(tracer_provider=tracer_provider))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        maximum_concurrent_rpcs=max_concurrent,
        options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                 ("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    names = list(register(server))
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        names + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}")
    server.start()
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, health_servicer, port, grace, threading.Event())


def run_until_signalled(running: RunningServer) -> None:
    """Block until SIGTERM/SIGINT, then stop gracefully."""
    done = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: draining in-flight calls", signal.Signals(signum).name)
        threading.Thread(target=lambda: (running.stop(), done.set()), daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not done.wait(0.5):
        pass
