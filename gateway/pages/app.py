"""The signing pages as Starlette sub-applications of the gateway: ``app`` under ``/sign``,
``static`` (CSS and JS) under ``/sign-static``.

``SigningPages(settings)`` only builds the routes; ``start`` (in the gateway's lifespan)
takes the gateway's channels and Redis client.
"""
from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from core.rpc.client import AsyncPeers
from core.settings import Settings
from gateway.pages.catalogue import DEFAULT_LANGUAGE
from gateway.pages.client_signing import ClientSigningPages
from gateway.pages.config import load_pages_config
from gateway.pages.documents import PageImages
from gateway.pages.handlers import Handlers
from gateway.pages.headers import SecurityHeaders
from gateway.pages.parts import Parts
from gateway.pages.problems import Problem
from gateway.pages.redaction import TokenRedaction
from gateway.pages.render import STATIC, Renderer
from gateway.pages.rpc import Rpc
from gateway.pages.sessions import SessionStore


class SigningPages:
    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None):
        self.settings = settings
        self.config = load_pages_config(env)  # fails fast on a bad variable
        self._parts: Parts | None = None
        self._handlers = handlers = Handlers(self.parts, Renderer())
        client = ClientSigningPages(self.parts, Renderer(), handlers)
        routes = [
            Route("/theme/{colour}.css", handlers.theme, methods=["GET"]),
            Route("/{token}", handlers.show, methods=["GET"]),
            Route("/{token}/client-sign", client.page, methods=["GET"]),
            Route("/{token}/client-sign/prepare", client.prepare, methods=["POST"]),
            Route("/{token}/client-sign/complete", client.complete, methods=["POST"]),
            Route("/{token}/pages/{contract_id}/{sha256}/{page:int}.png", handlers.image, methods=["GET"]),
            Route("/{token}/{action:path}", handlers.post, methods=["POST"]),
        ]
        handlers_by_status = {404: self._not_found, 405: self._not_found}
        self.app = TokenRedaction(SecurityHeaders(Starlette(routes=routes, exception_handlers=handlers_by_status)))
        self.static = SecurityHeaders(StaticFiles(directory=STATIC), static=True)

    def start(self, peers: AsyncPeers, redis) -> None:
        config, prefix = self.config, self.settings.redis_prefix
        rpc = Rpc(peers, config.slow_call_timeout)
        self._parts = Parts(
            config=config,
            rpc=rpc,
            sessions=SessionStore(redis, prefix, config.idle_seconds, config.max_seconds),
            images=PageImages(rpc, redis, prefix, config.dpi, config.image_seconds),
            public_url=self.settings.public_url,
        )

    def parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the signing pages are used before the gateway started them")
        return self._parts

    async def _not_found(self, _request: Request, exc: HTTPException) -> Response:
        return self._handlers.problem_page(Problem("error.not_found_page", exc.status_code), DEFAULT_LANGUAGE)
