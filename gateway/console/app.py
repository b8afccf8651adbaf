"""The console as a Starlette sub-application of the gateway, mounted under ``/console``.

``Console(settings, tracer_provider)`` only builds the routes; ``start`` (called in the
gateway's lifespan) opens the database, migrates it, makes the dev administrator, and
takes the gateway's channels and Redis client; ``stop`` closes what ``start`` opened.
"""
from __future__ import annotations

import asyncio
from typing import Mapping
from zoneinfo import ZoneInfo

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.rpc.client import AsyncPeers
from core.settings import Settings
from gateway.console import (
    anchor_pages,
    app_pages,
    auth_pages,
    certificate_pages,
    contract_pages,
    dictionary_pages,
    seal_pages,
    template_pages,
    user_pages,
)
from gateway.console.config import load_console_config
from gateway.console.headers import SecurityHeaders
from gateway.console.pages import STATIC, Pages
from gateway.console.pipeline import PREFIX, Parts, endpoint
from gateway.console.roles import ADMIN_SCOPE, CERTIFICATES_SCOPE
from gateway.console.sessions import SessionStore
from gateway.console.throttle import Limits, LoginThrottle
from gateway.console.users import Users, ensure_dev_admin

GET, POST = ["GET"], ["POST"]


class Console:
    def __init__(self, settings: Settings, tracer_provider: TracerProvider | None,
                 env: Mapping[str, str] | None = None):
        self.settings = settings
        self.config = load_console_config(env)
        self.tracer_provider = tracer_provider
        self.parts: Parts | None = None
        self._engine = None
        self.app = SecurityHeaders(
            Starlette(routes=self._routes()), static_prefix=PREFIX + "/static/"
        )

    async def start(self, peers: AsyncPeers, redis) -> None:
        from core.db import make_engine, make_sessions, migrate, trace_engine

        engine = make_engine(self.settings)
        self._engine = engine
        if self.tracer_provider is not None:
            trace_engine(engine, self.tracer_provider)
        if self.settings.auto_migrate:
            await asyncio.to_thread(migrate, self.settings, engine)
        users = Users(make_sessions(engine))
        await asyncio.to_thread(ensure_dev_admin, users, self.settings, self.config.dev_admin_password)
        config, prefix = self.config, self.settings.redis_prefix
        limits = Limits(config.max_failures, config.max_failures_per_ip, config.lock_seconds)
        self.parts = Parts(
            settings=self.settings,
            config=config,
            users=users,
            sessions=SessionStore(redis, prefix, config.idle_seconds, config.max_seconds),
            throttle=LoginThrottle(redis, prefix, limits),
            peers=peers,
            pages=Pages(ZoneInfo(config.timezone)),
            zone=ZoneInfo(config.timezone),
        )

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _routes(self) -> list:
        def page(path, handler, methods=GET, *, scope=None, login=True, action=""):
            return Route(path, endpoint(self, handler, scope=scope, login=login, action=action), methods=methods)

        t, c, s, a = template_pages, contract_pages, seal_pages, app_pages
        version = "/templates/{template_id}/versions/{version:int}"
        contract = "/contracts/{contract_id}"
        return [
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            page("/login", auth_pages.login_form, login=False),
            page("/login", auth_pages.login, POST, login=False, action="login"),
            page("/logout", auth_pages.logout, POST),
            page("/lang", auth_pages.choose_language, POST, login=False),
            page("/", t.home, scope="template:read"),
            page("/templates", t.list_templates, scope="template:read"),
            page("/templates", t.create_template, POST, scope="template:write", action="upload"),
            page("/templates/new", t.new_template, scope="template:write"),
            page("/templates/{template_id}", t.show_template, scope="template:read"),
            page("/templates/{template_id}/disable", t.disable_template, POST, scope="template:write"),
            page("/templates/{template_id}/signing-page", t.update_signing_page, POST, scope="template:write"),
            page("/templates/{template_id}/versions", t.add_version, POST, scope="template:write", action="upload"),
            page(version, t.review_version, scope="template:read"),
            page(version + "/approve", t.approve_version, POST, scope="template:review", action="review"),
            page(version + "/reject", t.reject_version, POST, scope="template:review", action="review"),
            page(version + "/preview", t.preview_version, scope="template:read", action="preview"),
            page(version + "/preview.html", t.preview_html, scope="template:read", action="preview"),
            page(version + "/docx", t.download_docx, scope="template:read"),
            page("/contracts", c.list_contracts, scope="contract:read", action="contracts"),
            page(contract, c.show_contract, scope="contract:read", action="contracts"),
            page(contract + "/document", c.download_document, scope="contract:read", action="contracts"),
            page(contract + "/revoke", c.revoke_contract, POST, scope="contract:write", action="contracts"),
            page("/seals", s.list_seals, scope="seal:read", action="seals"),
            page("/seals/generate", s.generate_seal, POST, scope="seal:write", action="seals"),
            page("/seals/upload", s.upload_seal, POST, scope="seal:write", action="seals"),
            page("/apps", a.list_apps, scope=ADMIN_SCOPE),
            page("/apps", a.create_app, POST, scope=ADMIN_SCOPE),
            page("/apps/{app_id}", a.show_app, scope=ADMIN_SCOPE),
            page("/apps/{app_id}/access", a.update_access, POST, scope=ADMIN_SCOPE),
            page("/apps/{app_id}/settings", a.update_settings, POST, scope=ADMIN_SCOPE),
            page("/apps/{app_id}/rotate", a.rotate_secret, POST, scope=ADMIN_SCOPE),
            page("/apps/{app_id}/anchors", anchor_pages.add_anchors, POST, scope=ADMIN_SCOPE, action="anchors"),
            page("/apps/{app_id}/anchors/remove", anchor_pages.remove_anchor, POST, scope=ADMIN_SCOPE,
                 action="anchors"),
            page("/certificates", certificate_pages.list_certificates, scope=CERTIFICATES_SCOPE,
                 action="certificates"),
            page("/certificates/{serial}/revoke", certificate_pages.revoke_certificate, POST, scope=ADMIN_SCOPE,
                 action="certificates"),
            page("/dictionaries", dictionary_pages.show_dictionaries, scope="template:read"),
            page("/dictionaries/groups", dictionary_pages.create_group, POST, scope="template:write"),
            page("/users", user_pages.list_users, scope=ADMIN_SCOPE),
            page("/users", user_pages.create_user, POST, scope=ADMIN_SCOPE),
            page("/users/{user_id}", user_pages.update_user, POST, scope=ADMIN_SCOPE),
            page("/users/{user_id}/password", user_pages.reset_password, POST, scope=ADMIN_SCOPE),
        ]
