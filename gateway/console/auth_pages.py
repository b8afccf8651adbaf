"""Logging in and out, and choosing the language."""
from __future__ import annotations

from starlette.responses import Response

from core.errors import Unauthenticated
from gateway.console.i18n import COOKIE as LANG_COOKIE, LANGUAGES
from gateway.console.pipeline import PREFIX, Ctx, local_path

LANG_COOKIE_AGE = 365 * 24 * 3600


class WrongCredentials(Unauthenticated):
    explained = True  # one message for a wrong name and a wrong password: no hint which


async def login_form(ctx: Ctx) -> Response:
    if ctx.session is not None and ctx.session.user_id:
        return ctx.redirect(local_path(ctx.query("next")))
    if ctx.session is None:
        ctx.session = await ctx.parts.sessions.new()
    return ctx.render("login.html", next=local_path(ctx.query("next")), expired=ctx.query("expired") == "1")


async def login(ctx: Ctx) -> Response:
    name = ctx.text("name")[:64]
    password = ctx.form.get("password")
    password = password if isinstance(password, str) else ""
    throttle = ctx.parts.throttle
    await throttle.check(name, ctx.client_ip)
    user = await ctx.run(ctx.parts.users.authenticate, name, password) if name and password else None
    if user is None:
        await throttle.failed(name, ctx.client_ip)
        raise WrongCredentials("wrong user name or password")
    await throttle.succeeded(name, ctx.client_ip)
    # A new id at login: whoever knew the anonymous session's id learns nothing.
    await ctx.parts.sessions.drop(ctx.session)
    ctx.session = await ctx.parts.sessions.new(user.user_id, user.credential_stamp)
    return ctx.redirect(local_path(ctx.text("next")))


async def logout(ctx: Ctx) -> Response:
    await ctx.parts.sessions.drop(ctx.session)
    ctx.session = None
    return ctx.redirect(f"{PREFIX}/login")


async def choose_language(ctx: Ctx) -> Response:
    lang = ctx.text("lang")
    if lang in LANGUAGES:
        ctx.set_cookie(LANG_COOKIE, lang, LANG_COOKIE_AGE)
    return ctx.redirect(local_path(ctx.text("back")))
