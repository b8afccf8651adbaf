"""Any exception no gateway route turned into an answer is the generic INTERNAL Status."""
import asyncio
import logging

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from gateway.app import InternalErrors, TraceparentMiddleware

LEAK = "password=hunter2 at /srv/econtract/db"


async def _broken(_request):
    raise RuntimeError(f"could not connect: {LEAK}")


async def _get(path: str) -> httpx.Response:
    app = Starlette(routes=[Route("/broken", _broken)], middleware=[Middleware(InternalErrors)])
    # Wrapped as create_app wraps the real one, so a trace id exists and is sent back.
    traced = OpenTelemetryMiddleware(TraceparentMiddleware(app), tracer_provider=TracerProvider())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=traced), base_url="http://gateway") as client:
        return await client.get(path)


def test_an_unhandled_exception_is_the_internal_status_with_the_trace_id(caplog):
    reply = asyncio.run(_get("/broken"))
    assert reply.status_code == 500
    trace_id = reply.headers["traceparent"].split("-")[1]
    assert reply.json() == {"code": 13, "message": f"internal error (trace {trace_id})", "details": []}
    assert "hunter2" not in reply.text
    logged = [r for r in caplog.records if r.name == "gateway.app" and r.levelno == logging.ERROR]
    assert len(logged) == 1 and trace_id in logged[0].getMessage() and "/broken" not in logged[0].getMessage()
    assert "hunter2" in str(logged[0].exc_info[1])
