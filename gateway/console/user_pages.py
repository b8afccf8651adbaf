"""Console users and their roles (administrators only); new passwords are shown once."""
from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from gateway.console.passwords import random_password
from gateway.console.pipeline import PREFIX, Ctx
from gateway.console.roles import ROLES


async def list_users(ctx: Ctx) -> Response:
    users = await ctx.run(ctx.parts.users.list)
    return ctx.render("users.html", users=users, roles=ROLES, role_options=[(r, ctx.t.enum("role", r)) for r in ROLES])


async def create_user(ctx: Ctx) -> Response:
    password = ctx.form.get("password")
    created = await ctx.run(
        ctx.parts.users.create, ctx.text("name"), ctx.text("role"),
        password if isinstance(password, str) and password else None, ctx.text("display_name"),
    )
    return ctx.render("user_password.html", shown=created.user, password=created.password if created.generated else "")


async def update_user(ctx: Ctx) -> Response:
    user_id = ctx.request.path_params["user_id"]
    updated = await ctx.run(ctx.parts.users.update, user_id, acting=ctx.user, role=ctx.text("role") or None,
                            status=ctx.text("status") or None)
    return ctx.done(f"{PREFIX}/users#{quote(updated.user_id)}", "users.saved", name=updated.name)


async def reset_password(ctx: Ctx) -> Response:
    password = random_password()
    updated = await ctx.run(ctx.parts.users.update, ctx.request.path_params["user_id"], acting=ctx.user,
                            password=password)
    return ctx.render("user_password.html", shown=updated, password=password)
