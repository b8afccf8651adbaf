"""The gateway's ASGI application: signed REST calls transcoded to gRPC, health, OpenAPI."""
from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from redis import exceptions as redis_errors
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.routing import Route as HttpRoute

from core.errors import DomainError, InvalidArgument, NotFound
from core.rpc.client import AsyncPeers
from core.settings import Settings
from core.tracing import current_trace_id, instrument_redis
from gateway import auth
from core.rpc.status import internal_status, plain_status, to_status
from gateway.console.app import Console
from gateway.pages.app import SigningPages
from gateway.errors import domain_error_response, rpc_error_response, status_response
from gateway.idempotency import Idempotency, StoredResponse, fingerprint
from gateway.ratelimit import Rate, RateLimited, RateLimiter, rate_from_env
from gateway.health import check_all
from gateway.openapi import build_openapi
from gateway.pki import pki_routes
from gateway.routes import Route, RouteTable, build_routes
from gateway.transcode import build_request, to_json

log = logging.getLogger(__name__)
MAX_BODY = 32 * 1024 * 1024
AUTHENTICATE = "/econtract.identity.v1.IdentityService/AuthenticateApp"


@dataclass(frozen=True)
class Caller:
    app_id: str
    scopes: tuple[str, ...]


class Gateway:
    """What one gateway process holds: routes, channels to the services, a Redis client."""

    def __init__(self, settings: Settings, peers: AsyncPeers, redis, rate: Rate):
        self.settings = settings
        self.peers = peers
        self.redis = redis
        self.routes = RouteTable(build_routes())
        self.limiter = RateLimiter(redis, settings.redis_prefix, rate)
        self.idempotency = Idempotency(redis, settings.redis_prefix)
        self._openapi: bytes | None = None

    async def authenticate(self, request: Request, raw_body: bytes) -> Caller:
        from econtract.identity.v1 import identity_pb2

        signed = auth.read_headers(request.headers)
        auth.check_clock(signed.timestamp)
        canonical = auth.canonical(request.method, _path_with_query(request), signed.timestamp, signed.nonce, raw_body)
        reply = await self.peers.call(
            "identity",
            AUTHENTICATE,
            identity_pb2.AuthenticateAppRequest(app_id=signed.app_id, canonical=canonical, signature=signed.signature),
            identity_pb2.AuthenticateAppResponse,
        )
        # Only a correctly signed request may spend a nonce, so strangers cannot burn them.
        await auth.claim_nonce(self.redis, self.settings.redis_prefix, signed.app_id, signed.nonce)
        return Caller(reply.app_id, tuple(reply.scopes))

    async def handle(self, request: Request) -> Response:
        found = self.routes.find(request.method, request.url.path)
        if found is None:
            if self.routes.allows_path(request.url.path):
                return domain_error_response(InvalidArgument(f"{request.method} is not allowed on {request.url.path}"))
            return domain_error_response(NotFound(f"no route for {request.method} {request.url.path}"))
        route, bound = found
        try:
            return await self._handle(route, bound, request)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            # Nonces, rate limits and idempotency records live in Redis: without it no
            # signed call can be checked, so the caller should retry later.
            log.warning("Redis unavailable for %s %s (trace %s): %s", route.verb, route.template,
                        current_trace_id(), type(exc).__name__)
            return status_response(plain_status(grpc.StatusCode.UNAVAILABLE, "service temporarily unavailable"))
        except Exception:  # noqa: BLE001 - the boundary that must not answer a bare 500 or leak internals
            trace_id = current_trace_id()
            log.exception("unexpected error in %s %s (trace %s)", route.verb, route.template, trace_id)
            return status_response(internal_status(trace_id))

    async def _handle(self, route: Route, bound: dict[str, str], request: Request) -> Response:
        try:
            raw_body = await _read_body(request)
            caller = None
            if not route.access.public:
                caller = await self.authenticate(request, raw_body)
                await self.limiter.check(caller.app_id, int(time.time() * 1000))
                auth.check_scope(caller.scopes, route.access.scope)
            key = request.headers.get("idempotency-key") if request.method == "POST" and caller else None
            if not key:
                return await self._call(route, bound, request, raw_body, caller, None)
            request_hash = fingerprint(request.method, _path_with_query(request), raw_body)
            stored = await self.idempotency.begin(caller.app_id, key, request_hash)
            if stored is not None:
                return Response(stored.body, status_code=stored.status, media_type=stored.media_type,
                                headers={"Idempotent-Replayed": "true"})
        except RateLimited as exc:
            return status_response(to_status(exc), headers={"Retry-After": str(exc.retry_after)})
        except DomainError as exc:
            return domain_error_response(exc)
        except grpc.RpcError as exc:
            return rpc_error_response(exc, current_trace_id())
        try:
            response = await self._call(route, bound, request, raw_body, caller, key)
        except BaseException:
            await self.idempotency.abandon(caller.app_id, key)
            raise
        await self.idempotency.finish(
            caller.app_id, key, request_hash, StoredResponse(response.status_code, bytes(response.body), response.media_type)
        )
        return response

    async def _call(self, route: Route, bound: dict[str, str], request: Request, raw_body: bytes,
                    caller: Caller | None, idempotency_key: str | None) -> Response:
        """Transcode, call the service, and answer: every outcome is a Response."""
        try:
            message = build_request(route, bound, request.url.query, raw_body)
            reply = await self.peers.call(
                route.service,
                route.grpc_path,
                message,
                route.response_type,
                # A write may render or sign behind the service it calls, with deadlines of its
                # own (filegen 60 s, signing 30 s): the gateway must not give up first.
                timeout=None if route.verb == "GET" else self.settings.write_timeout,
                idempotent=route.verb == "GET",
                idempotency_key=idempotency_key,
                metadata=_forwarded(request, caller),
            )
        except DomainError as exc:
            return domain_error_response(exc)
        except grpc.RpcError as exc:
            return rpc_error_response(exc, current_trace_id())
        return _reply(route, reply, request)

    async def healthz(self, _request: Request) -> Response:
        report = await check_all(self.peers)
        return JSONResponse(report, status_code=200 if report["status"] == "SERVING" else 503)

    async def openapi(self, _request: Request) -> Response:
        if self._openapi is None:
            self._openapi = json.dumps(build_openapi(self.routes.routes), ensure_ascii=False).encode()
        return Response(self._openapi, media_type="application/json")


def _path_with_query(request: Request) -> str:
    """The path and query exactly as sent (what the app signed), not as decoded."""
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return path + ("?" + query if query else "")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidArgument(f"request body is larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidArgument(f"request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _forwarded(request: Request, caller: Caller | None) -> dict[str, str]:
    """Who is calling, for the services' authorisation and audit trail."""
    metadata = {"x-client-ip": request.client.host if request.client else ""}
    agent = request.headers.get("user-agent")
    if agent:
        metadata["x-user-agent"] = agent[:512]
    if caller is not None:
        metadata["x-app-id"] = caller.app_id
        metadata["x-app-scopes"] = ",".join(caller.scopes)
    return metadata


def _reply(route: Route, reply, request: Request) -> Response:
    if request.query_params.get("alt") == "media":
        fields = reply.DESCRIPTOR.fields_by_name
        if "data" in fields and "content_type" in fields:
            return Response(reply.data, media_type=reply.content_type or "application/octet-stream")
    if route.response_body:
        reply = getattr(reply, route.response_body)
    return Response(to_json(reply), media_type="application/json")


class TraceparentMiddleware:
    """Adds the request's W3C ``traceparent`` to every response, so a caller can quote it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_trace(message):
            if message["type"] == "http.response.start":
                carrier: dict[str, str] = {}
                inject(carrier)
                if "traceparent" in carrier:
                    message.setdefault("headers", [])
                    message["headers"] = list(message["headers"]) + [(b"traceparent", carrier["traceparent"].encode())]
            await send(message)

        await self.app(scope, receive, send_with_trace)


class InternalErrors:
    """The last line behind every route of the gateway's own app: an exception none of them
    turned into an answer becomes the generic INTERNAL Status with the trace id, logged once
    with its traceback, instead of a bare 500. (Inside Starlette's outermost error middleware,
    which would otherwise answer first.) The path is not logged: signing links carry tokens."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:  # noqa: BLE001 - the boundary that must not answer a bare 500 or leak internals
            if started:  # too late to answer; the server closes the connection and logs it
                raise
            trace_id = current_trace_id()
            log.exception("unexpected error answering %s (trace %s)", scope.get("method"), trace_id)
            await status_response(internal_status(trace_id))(scope, receive, send)


class FreshTraceContext:
    """Starts every request from an empty trace context, so only its ``traceparent`` header
    can give it a parent. Once uvicorn pauses reading a large body, it resumes reading from
    inside that request's task, and asyncio runs the connection's later reads, and the
    requests they start, in a copy of that task's context: without this, every later call
    on the connection became a child of the upload."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = otel_context.attach(otel_context.Context())
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def create_app(settings: Settings, tracer_provider: TracerProvider | None, redis=None, rate: Rate | None = None) -> object:
    """The ASGI app; channels and Redis are opened in the lifespan, not at import."""
    rate = rate or rate_from_env()
    from core.redis import make_async_redis

    state: dict[str, Gateway] = {}
    console = Console(settings, tracer_provider)
    pages = SigningPages(settings)

    @asynccontextmanager
    async def lifespan(_app):
        peers = AsyncPeers(settings, tracer_provider)
        if tracer_provider is not None:
            instrument_redis(tracer_provider)  # nonces, rate limits, idempotency, page sessions
        client = redis if redis is not None else make_async_redis(settings)
        state["gateway"] = Gateway(settings, peers, client, rate)
        await console.start(peers, client)
        pages.start(peers, client)
        try:
            yield
        finally:
            console.stop()
            await peers.close()
            if redis is None:
                await client.aclose()

    async def dispatch(request: Request) -> Response:
        return await state["gateway"].handle(request)

    async def healthz(request: Request) -> Response:
        return await state["gateway"].healthz(request)

    async def openapi(request: Request) -> Response:
        return await state["gateway"].openapi(request)

    app = Starlette(
        routes=[
            HttpRoute("/healthz", healthz, methods=["GET"]),
            HttpRoute("/openapi.json", openapi, methods=["GET"]),
            *pki_routes(lambda: state["gateway"].peers),  # public: relying parties fetch these unsigned
            HttpRoute("/v1/{rest:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Mount("/console", app=console.app),
            Mount("/sign", app=pages.app),  # signing pages: the link token is the authority
            Mount("/sign-static", app=pages.static),
        ],
        lifespan=lifespan,
        middleware=[Middleware(InternalErrors)],
    )
    inner = TraceparentMiddleware(app)
    if tracer_provider is None:
        return inner
    return FreshTraceContext(OpenTelemetryMiddleware(inner, tracer_provider=tracer_provider,
                                                     exclude_spans=["receive", "send"],
                                                     server_request_hook=_mask_query))


def _mask_query(span, scope) -> None:
    """Query strings carry mobiles, emails and ids (e.g. ``?recipient=``): keep the names, hide the values."""
    raw = scope.get("query_string", b"").decode("latin-1")
    if not raw or not span.is_recording():
        return
    masked = "&".join(part.split("=", 1)[0] + "=***" for part in raw.split("&") if part)
    target = f"{scope.get('path', '')}?{masked}"
    url = f"{scope.get('scheme', 'http')}://{_host(scope)}{target}"
    # Both the old and the stable HTTP semantic conventions' names.
    span.set_attributes({"url.query": masked, "http.target": target, "http.url": url, "url.full": url})


def _host(scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return value.decode("latin-1")
    return ""
