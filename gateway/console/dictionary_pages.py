"""Dictionaries: identifier types, and contract categories (the template groups)."""
from __future__ import annotations

from starlette.responses import Response

from econtract.template.v1 import template_pb2 as pb
from gateway.console.pipeline import PREFIX, Ctx


async def show_dictionaries(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call("template", "ListTemplateGroups", pb.ListTemplateGroupsRequest(page_size=200))
    return ctx.render("dictionaries.html", id_types=ctx.parts.config.id_types, groups=reply.groups)


async def create_group(ctx: Ctx) -> Response:
    request = pb.CreateTemplateGroupRequest(group_id=ctx.text("group_id"), name=ctx.text("name"),
                                            description=ctx.text("description"))
    await ctx.rpc.call("template", "CreateTemplateGroup", request, read=False)
    return ctx.done(f"{PREFIX}/dictionaries", "dictionaries.group_created", group=request.group_id)
