"""What every service's gRPC server provides: reflection, and no internals in unexpected failures."""
import logging

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from google.rpc import code_pb2, status_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core.rpc.server import start_server
from core.settings import SERVICES
from tests.conftest import free_port

LEAK = "password=hunter2 at /srv/econtract/db"


@pytest.mark.parametrize("service", SERVICES)
def test_reflection_lists_the_service_and_describes_its_rpcs(mesh, service):
    full_name = f"econtract.{service}.v1.{service.capitalize()}Service"
    with grpc.insecure_channel(mesh.env[f"{service.upper()}_ADDR"]) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert set(database.get_services()) >= {full_name, "grpc.health.v1.Health",
                                                 "grpc.reflection.v1alpha.ServerReflection"}
        described = DescriptorPool(database).FindServiceByName(full_name)
        assert described.methods and all(m.input_type.name.endswith("Request") for m in described.methods)


def _broken(_request: bytes, _context) -> bytes:
    raise RuntimeError(f"could not connect: {LEAK}")


def _register(server: grpc.Server) -> list[str]:
    handler = grpc.unary_unary_rpc_method_handler(_broken)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Broken", {"Fail": handler})])
    return ["test.Broken"]


def test_an_unexpected_handler_error_is_a_generic_internal_status_with_the_trace_id(caplog):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    running = start_server(f"127.0.0.1:{free_port()}", _register, tracer_provider=provider, grace=1)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel, \
                pytest.raises(grpc.RpcError) as failed:
            channel.unary_unary("/test.Broken/Fail")(
                b"", timeout=10, metadata=[("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01")])
    finally:
        running.stop()
    error = failed.value
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == f"internal error (trace {trace_id})"
    rich = dict(error.trailing_metadata())["grpc-status-details-bin"]
    assert status_pb2.Status.FromString(rich) == status_pb2.Status(
        code=code_pb2.INTERNAL, message=f"internal error (trace {trace_id})")
    assert "hunter2" not in repr(error) and "hunter2" not in repr(error.trailing_metadata())
    # The operator gets the whole story once, in the log, findable by the trace id.
    logged = [r for r in caplog.records if r.name == "core.rpc.server" and r.levelno == logging.ERROR]
    assert len(logged) == 1 and trace_id in logged[0].getMessage()
    assert "hunter2" in str(logged[0].exc_info[1])
    assert [(s.name, format(s.context.trace_id, "032x")) for s in exporter.get_finished_spans()] == [
        ("/test.Broken/Fail", trace_id)]


def test_calls_beyond_the_concurrency_bound_are_refused_at_once():
    from concurrent.futures import ThreadPoolExecutor

    from tests.integration.slow_server import register

    running = start_server(f"127.0.0.1:{free_port()}", register, tracer_provider=None, workers=2,
                           max_concurrent=3, grace=1)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            sleep = channel.unary_unary("/test.Slow/Sleep")

            def call(_):
                try:
                    return sleep(b"1.5", timeout=30)
                except grpc.RpcError as error:
                    return error.code()

            with ThreadPoolExecutor(6) as callers:
                outcomes = list(callers.map(call, range(6)))
    finally:
        running.stop()
    # Two run, one waits for a thread, three are refused without waiting for anything.
    assert outcomes.count(b"done") == 3 and outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 3, outcomes
