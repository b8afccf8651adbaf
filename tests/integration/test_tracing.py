"""One REST call, one trace: gateway → services, correctly nested (in-memory exporter)."""
import base64
import os
import time

import httpx
from opentelemetry.trace import SpanKind

SERVICES = ("template", "contract", "signing", "identity", "filegen")


def _spans_of(mesh, trace_id: int, root_name: str):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        spans = [s for s in mesh.exporter.get_finished_spans() if s.context.trace_id == trace_id]
        if any(s.parent is None and s.name.startswith(root_name) for s in spans):
            return spans
        time.sleep(0.05)
    seen = [(s.name, s.kind.name, s.parent is not None and s.parent.is_remote, s.parent is None) for s in spans]
    raise AssertionError(f"the gateway's span never finished; spans of the trace: {seen}")


def test_health_fan_out_is_one_trace_across_all_services(mesh):
    reply = httpx.get(mesh.base_url + "/healthz")
    assert reply.status_code == 200
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    spans = _spans_of(mesh, trace_id, "GET /healthz")
    by_id = {s.context.span_id: s for s in spans}
    root = next(s for s in spans if s.parent is None)
    assert root.kind == SpanKind.SERVER

    servers = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "/grpc.health.v1.Health/Check"]
    assert len(servers) == len(SERVICES)
    for server in servers:
        client = by_id[server.parent.span_id]  # each service span hangs under a gateway client span
        assert client.kind == SpanKind.CLIENT
        assert client.parent.span_id == root.context.span_id
    assert len({server.parent.span_id for server in servers}) == len(SERVICES)  # one call per service


def test_signed_call_traces_authentication_and_the_handler(mesh, client):
    reply = client.get("/v1/apps/self")
    assert reply.status_code == 200
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    spans = _spans_of(mesh, trace_id, "GET /v1")
    names = [s.name for s in spans if s.kind == SpanKind.SERVER]
    assert "/econtract.identity.v1.IdentityService/AuthenticateApp" in names
    assert "/econtract.identity.v1.IdentityService/GetSelfApp" in names
    # the database work of the handler is part of the same trace, under the service span
    handler = next(s for s in spans if s.name.endswith("GetSelfApp") and s.kind == SpanKind.SERVER)
    children = [s for s in spans if s.parent is not None and s.parent.span_id == handler.context.span_id]
    assert any("SELECT" in s.name for s in children)


def test_query_values_never_reach_a_trace(mesh, client):
    reply = client.get("/v1/dev/outbox?recipient=13800138000")
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    spans = _spans_of(mesh, trace_id, "GET /v1")
    text = repr([dict(s.attributes or {}) for s in spans])
    assert "13800138000" not in text and "recipient=***" in text


def test_a_call_after_a_large_upload_on_the_same_connection_starts_its_own_trace(mesh, client):
    # A body beyond uvicorn's read buffer pauses reading; it resumes inside that request's
    # task, and asyncio then runs the connection's later reads in that task's context.
    client.post("/v1/seals", {"subject": {"idType": "USER_ID", "id": "big"}, "name": "big",
                              "image": base64.b64encode(os.urandom(3_000_000)).decode()})
    reply = client.get("/v1/apps/self")
    trace_id = int(reply.headers["traceparent"].split("-")[1], 16)
    deadline = time.monotonic() + 15
    while not (mine := [s for s in mesh.exporter.get_finished_spans()
                        if s.context.trace_id == trace_id and s.name.startswith("GET /v1/apps")]):
        assert time.monotonic() < deadline, "the GET's span never finished"
        time.sleep(0.05)
    assert mine[0].parent is None and mine[0].kind == SpanKind.SERVER
