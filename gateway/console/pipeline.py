"""What every console request goes through: its language, its session, the login, the
CSRF token of a form, the user's role — and the one error path.

A handler is ``async def handler(ctx: Ctx) -> Response``. When it (or a service it calls)
refuses, a form submission comes back to its page with the message and what was typed
(Post/Redirect/Get), and a page that cannot be shown becomes an error page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import grpc
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.errors import DomainError, invalid
from core.rpc.client import AsyncPeers
from core.settings import Settings
from core.tracing import current_trace_id
from gateway.console import roles
from gateway.console.config import ConsoleConfig
from gateway.console.display import console_user_id
from gateway.console.i18n import COOKIE as LANG_COOKIE, Translator, language_of
from gateway.console.pages import Pages
from gateway.console.problems import Problem, RoleDenied, describe
from gateway.console.rpc import ConsoleRpc
from gateway.console.sessions import COOKIE, Session, SessionStore
from gateway.console.throttle import LoginThrottle
from gateway.console.users import ACTIVE, User, Users

log = logging.getLogger(__name__)
PREFIX = "/console"
FORM_SLACK = 1024 * 1024  # room for the text fields around an uploaded file
SECRET_FIELDS = ("password", "csrf_token", "back")
REMEMBERED_LENGTH = 4000  # longer values are not worth keeping in the session to re-fill a form


@dataclass
class Parts:
    """What the console holds while the gateway runs (made in the gateway's lifespan)."""

    settings: Settings
    config: ConsoleConfig
    users: Users
    sessions: SessionStore
    throttle: LoginThrottle
    peers: AsyncPeers
    pages: Pages
    zone: ZoneInfo

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.startswith("https://")


def local_path(raw: str | None, default: str = PREFIX + "/") -> str:
    """``raw`` when it is a path inside the console, else ``default`` (no open redirects)."""
    if not raw or not raw.startswith(PREFIX + "/") or "//" in raw or "\\" in raw:
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return default
    return raw


@dataclass
class Ctx:
    request: Request
    parts: Parts
    t: Translator
    action: str
    session: Session | None = None
    user: User | None = None
    form: FormData | None = None
    rpc: ConsoleRpc | None = None
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    # -- reading the request ------------------------------------------------------------

    def text(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def texts(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str)] if self.form is not None else []

    def checked(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1")

    def number(self, name: str, default: int = 0) -> int:
        raw = self.text(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid(name, "must be a whole number") from None

    async def file(self, name: str, *, required: bool = True) -> tuple[str, bytes]:
        upload = self.form.get(name) if self.form is not None else None
        if not isinstance(upload, UploadFile) or not upload.filename:
            if required:
                raise invalid(name, "choose a file to upload")
            return "", b""
        data = await upload.read()
        if len(data) > self.parts.config.max_upload_bytes:
            raise invalid(name, f"is larger than {self.parts.config.max_upload_bytes} bytes")
        if required and not data:
            raise invalid(name, "the file is empty")
        return upload.filename, data

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else ""

    @property
    def referrer(self) -> str:
        """The console page the request came from, else the home page."""
        parts = urlsplit(self.request.headers.get("referer", ""))
        home = PREFIX + "/" if self.user is not None else PREFIX + "/login"
        return local_path(parts.path + ("?" + parts.query if parts.query else ""), home)

    @property
    def back(self) -> str:
        """The page a form came from: its ``back`` field, else the referrer."""
        return local_path(self.text("back"), self.referrer)

    @property
    def here(self) -> str:
        query = self.request.url.query
        return self.request.url.path + ("?" + query if query else "")

    # -- who is asking --------------------------------------------------------------------

    def can(self, scope: str) -> bool:
        return self.user is not None and roles.allows(self.user.role, scope)

    def require(self, scope: str) -> None:
        if not self.can(scope):
            raise RoleDenied(f"the role {self.user.role if self.user else '-'} lacks {scope!r}")

    async def run(self, fn: Callable, *args, **kwargs):
        """Database work off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def labels(self, caller_ids: set[str]) -> Callable[[str], str]:
        """``who(caller_id)``: a console user's name for ``console:usr_…``, an app id as it is."""
        ids = {u for u in map(console_user_id, caller_ids) if u}
        names = await self.run(self.parts.users.labels, ids)

        def who(caller_id: str) -> str:
            user_id = console_user_id(caller_id)
            if user_id is None:
                return caller_id
            return self.t("who.console", name=names.get(user_id, user_id))

        return who

    # -- answering ----------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **context) -> Response:
        flash = self.session.take_flash() if self.session is not None else None
        values = (flash or {}).get("values") or {}
        base = {
            "t": self.t,
            "user": self.user,
            "can": self.can,
            "csrf": self.session.csrf if self.session is not None else "",
            "here": self.here,
            "prefix": PREFIX,
            "flash": flash,
            "remembered": lambda key, default="": values.get(key, default),
            "query": self.query,
            "request_query": lambda **changes: urlencode({**self.request.query_params, **changes}),
        }
        return self.parts.pages.render(name, {**base, **context}, status)

    def redirect(self, path: str) -> Response:
        return RedirectResponse(path, status_code=303)

    def done(self, path: str, key: str, **params) -> Response:
        """After a change: say it worked, and show the page it belongs to."""
        if self.session is not None:
            self.session.put_flash("ok", self.t(key, **params))
        return self.redirect(path)

    def set_cookie(self, name: str, value: str, max_age: int | None = None) -> None:
        self.cookies.append((name, value, max_age))

    def failed(self, exc: DomainError | grpc.RpcError) -> Response:
        problem = describe(exc, self.t, self.action, current_trace_id())
        if problem.status >= 500 and problem.code not in ("UNIMPLEMENTED", "UNAVAILABLE", "DEADLINE_EXCEEDED"):
            log.warning("console: %s failed: %s", self.request.url.path, problem.code)
        if self.request.method == "POST" and self.session is not None:
            detail = "\n".join(x for x in (problem.detail, *problem.violations) if x)
            values = {
                k: v for k, v in (self.form or {}).items()
                if isinstance(v, str) and k not in SECRET_FIELDS and len(v) <= REMEMBERED_LENGTH
            }
            self.session.put_flash("error", problem.message, detail, values)
            return self.redirect(self.back)
        return self.render("error.html", status=problem.status, problem=problem)


class Internal(DomainError):
    code = grpc.StatusCode.INTERNAL


Handler = Callable[[Ctx], Awaitable[Response]]


def endpoint(console, handler: Handler, *, login: bool = True, scope: str | None = None, action: str = ""):
    """The Starlette endpoint of a console handler."""

    async def serve(request: Request) -> Response:
        parts: Parts = console.parts
        sid = request.cookies.get(COOKIE)
        ctx = Ctx(request, parts, Translator(language_of(request.cookies)), action or handler.__name__)
        ctx.session = await parts.sessions.load(sid)
        try:
            response = await _guarded(ctx, handler, login, scope, expired=bool(sid) and ctx.session is None)
        except (DomainError, grpc.RpcError) as exc:
            response = ctx.failed(exc)
        except Exception:
            # A bug: the person gets the trace id to quote, never the internals.
            log.exception("console: %s %s failed (trace %s)", request.method, request.url.path, current_trace_id())
            response = ctx.failed(Internal("unexpected error"))
        if ctx.session is not None and ctx.session.changed:
            await parts.sessions.save(ctx.session)
        if ctx.session is not None and ctx.session.sid != sid:
            _cookie(response, parts, COOKIE, ctx.session.sid, None, http_only=True)
        elif ctx.session is None and sid:
            response.delete_cookie(COOKIE, path=PREFIX)
        for name, value, max_age in ctx.cookies:
            _cookie(response, parts, name, value, max_age, http_only=name != LANG_COOKIE)
        return response

    serve.__name__ = handler.__name__
    return serve


async def _guarded(ctx: Ctx, handler: Handler, login: bool, scope: str | None, expired: bool) -> Response:
    request = ctx.request
    if login:
        ctx.user = await _current_user(ctx)
        if ctx.user is None:
            # After logging in, show the page again; a form is not replayed.
            target = ctx.referrer if request.method == "POST" else ctx.here
            flag = "&expired=1" if expired else ""
            return ctx.redirect(f"{PREFIX}/login?next={quote(local_path(target), safe='/')}{flag}")
        ctx.rpc = ConsoleRpc(ctx.parts.peers, ctx.user, ctx.client_ip, request.headers.get("user-agent", ""))
    if request.method == "POST":
        refused = await _read_form(ctx)
        if refused is not None:
            return refused
    if scope is not None:
        ctx.require(scope)
    return await handler(ctx)


async def _current_user(ctx: Ctx) -> User | None:
    if ctx.session is None or not ctx.session.user_id:
        return None
    user = await ctx.run(ctx.parts.users.get, ctx.session.user_id)
    if user is None or user.status != ACTIVE or user.credential_stamp != ctx.session.stamp:
        # Sessions of a disabled user, or from before a password change, end at their next request.
        await ctx.parts.sessions.drop(ctx.session)
        ctx.session = None
        return None
    return user


async def _read_form(ctx: Ctx) -> Response | None:
    """Parse the form and check its CSRF token; an answer when the form is refused."""
    declared = ctx.request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > ctx.parts.config.max_upload_bytes + FORM_SLACK:
        return ctx.render("error.html", status=413, problem=_plain(ctx, 413, "error.too_large"))
    try:
        ctx.form = await ctx.request.form(max_files=4, max_fields=500, max_part_size=256 * 1024)
    except HTTPException:
        return ctx.render("error.html", status=400, problem=_plain(ctx, 400, "error.bad_form"))
    token = ctx.form.get("csrf_token")
    if ctx.session is None or not ctx.session.csrf_matches(token if isinstance(token, str) else ""):
        return ctx.render("error.html", status=403, problem=_plain(ctx, 403, "error.csrf"))
    return None


def _plain(ctx: Ctx, status: int, key: str) -> Problem:
    return Problem(status, key, ctx.t(key), "")


def _cookie(response: Response, parts: Parts, name: str, value: str, max_age: int | None, *, http_only: bool) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, secure=parts.secure_cookies, httponly=http_only, samesite="strict"
    )
