"""Templates: search, upload, versions, legal review with the redline, previews."""
from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from core.errors import NotFound
from econtract.template.v1 import template_pb2 as pb
from gateway.console.display import enum_name, png_data_uri
from gateway.console.forms import signer_roles
from gateway.console.page_override import REDIRECT_MODES, SWITCHES, page_override, page_override_values
from gateway.console.pipeline import PREFIX, Ctx

PREVIEW_TIMEOUT = 120.0  # LibreOffice renders the pages
REVIEW_STATUSES = ("PENDING_REVIEW", "APPROVED", "REJECTED")
TEMPLATE_STATUSES = ("ACTIVE", "DISABLED")
NEW_SIGNER_ROWS = 3
# Preview HTML comes from filegen (sanitised); framed by the console, it still may run nothing.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox",
    "X-Frame-Options": "SAMEORIGIN",
}


def _template_id(ctx: Ctx) -> str:
    return ctx.request.path_params["template_id"]


def _version(ctx: Ctx) -> int:
    return ctx.request.path_params["version"]


async def _groups(ctx: Ctx) -> list:
    reply = await ctx.rpc.call("template", "ListTemplateGroups", pb.ListTemplateGroupsRequest(page_size=200))
    return list(reply.groups)


async def home(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call(
        "template", "ListTemplates",
        pb.ListTemplatesRequest(review_status=pb.TemplateVersion.PENDING_REVIEW, page_size=20),
    )
    who = await ctx.labels({t.creator for t in reply.templates})
    return ctx.render("home.html", pending=reply.templates, who=who, enum_name=enum_name)


async def list_templates(ctx: Ctx) -> Response:
    request = pb.ListTemplatesRequest(
        name_query=ctx.query("q"), group=ctx.query("group"), page_size=20, page_token=ctx.query("page")
    )
    if ctx.query("review") in REVIEW_STATUSES:
        request.review_status = pb.TemplateVersion.Status.Value(ctx.query("review"))
    if ctx.query("status") in TEMPLATE_STATUSES:
        request.status = pb.Template.Status.Value(ctx.query("status"))
    reply = await ctx.rpc.call("template", "ListTemplates", request)
    who = await ctx.labels({t.creator for t in reply.templates})
    return ctx.render(
        "templates.html", templates=reply.templates, next_page=reply.next_page_token, groups=await _groups(ctx),
        who=who, enum_name=enum_name, review_statuses=REVIEW_STATUSES, template_statuses=TEMPLATE_STATUSES,
    )


async def new_template(ctx: Ctx) -> Response:
    groups = [(g.group_id, g.name or g.group_id) for g in await _groups(ctx)]
    return ctx.render("template_new.html", groups_options=groups, rows=range(NEW_SIGNER_ROWS))


async def create_template(ctx: Ctx) -> Response:
    _, docx = await ctx.file("docx")
    reply = await ctx.rpc.call(
        "template", "CreateTemplate",
        pb.CreateTemplateRequest(
            name=ctx.text("name"), group=ctx.text("group"), description=ctx.text("description"),
            docx=docx, signers=signer_roles(ctx),
        ),
        read=False,
    )
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template_id)}/versions/{reply.version}",
                    "templates.uploaded", version=reply.version)


async def show_template(ctx: Ctx) -> Response:
    template = await ctx.rpc.call("template", "GetTemplate", pb.GetTemplateRequest(template_id=_template_id(ctx)))
    who = await ctx.labels({template.creator, *(v.uploader for v in template.versions),
                            *(v.reviewer for v in template.versions)})
    return ctx.render("template.html", template=template, versions=list(reversed(template.versions)), who=who,
                      enum_name=enum_name, page=page_override_values(template.signing_page),
                      switches=[(v, ctx.t(f"templates.page_{v}")) for v in SWITCHES],
                      redirect_options=[(m, ctx.t.enum("redirect", m)) for m in REDIRECT_MODES])


async def update_signing_page(ctx: Ctx) -> Response:
    """Replace the template's signing-page override; every field left empty is the business line's."""
    request = pb.UpdateTemplateSigningPageRequest(template_id=_template_id(ctx), signing_page=page_override(ctx))
    reply = await ctx.rpc.call("template", "UpdateTemplateSigningPage", request, read=False)
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template.template_id)}", "templates.page_saved")


async def add_version(ctx: Ctx) -> Response:
    _, docx = await ctx.file("docx")
    reply = await ctx.rpc.call(
        "template", "CreateTemplateVersion",
        pb.CreateTemplateVersionRequest(
            template_id=_template_id(ctx), docx=docx, change_note=ctx.text("change_note"),
            signers=signer_roles(ctx),
        ),
        read=False,
    )
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template_id)}/versions/{reply.version}",
                    "templates.uploaded", version=reply.version)


async def review_version(ctx: Ctx) -> Response:
    template_id, number = _template_id(ctx), _version(ctx)
    template = await ctx.rpc.call("template", "GetTemplate", pb.GetTemplateRequest(template_id=template_id))
    found = [v for v in template.versions if v.version == number]
    if not found:
        raise NotFound(f"template {template_id} has no version {number}")
    version = found[0]
    redline = await ctx.rpc.call(
        "template", "GetTemplateVersionRedline",
        pb.GetTemplateVersionRedlineRequest(template_id=template_id, version=number),
    )
    who = await ctx.labels({version.uploader, version.reviewer})
    return ctx.render("version.html", template=template, version=version, redline=redline, who=who,
                      enum_name=enum_name, pending=version.status == pb.TemplateVersion.PENDING_REVIEW)


async def approve_version(ctx: Ctx) -> Response:
    request = pb.ApproveTemplateVersionRequest(template_id=_template_id(ctx), version=_version(ctx),
                                               comment=ctx.text("comment"))
    reply = await ctx.rpc.call("template", "ApproveTemplateVersion", request, read=False)
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template_id)}/versions/{reply.version}",
                    "review.approved", version=reply.version)


async def reject_version(ctx: Ctx) -> Response:
    request = pb.RejectTemplateVersionRequest(template_id=_template_id(ctx), version=_version(ctx),
                                              comment=ctx.text("comment"))
    reply = await ctx.rpc.call("template", "RejectTemplateVersion", request, read=False)
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template_id)}/versions/{reply.version}",
                    "review.rejected", version=reply.version)


async def preview_version(ctx: Ctx) -> Response:
    template_id, number = _template_id(ctx), _version(ctx)
    shape = "html" if ctx.query("format") == "html" else "png"
    theme = "dark" if ctx.query("theme") == "dark" else "light"
    pages = []
    if shape == "png":
        reply = await ctx.rpc.call(
            "template", "PreviewTemplate",
            pb.PreviewTemplateRequest(template_id=template_id, version=number, format=pb.PreviewTemplateRequest.PNG,
                                      use_sample_data=True),
            timeout=PREVIEW_TIMEOUT,
        )
        pages = [{"number": p.page, "src": png_data_uri(p.png), "width": p.width, "height": p.height}
                 for p in reply.pages]
    return ctx.render("preview.html", template_id=template_id, number=number, shape=shape, theme=theme, pages=pages)


async def preview_html(ctx: Ctx) -> Response:
    theme = pb.PreviewTemplateRequest.DARK if ctx.query("theme") == "dark" else pb.PreviewTemplateRequest.LIGHT
    reply = await ctx.rpc.call(
        "template", "PreviewTemplate",
        pb.PreviewTemplateRequest(template_id=_template_id(ctx), version=_version(ctx),
                                  format=pb.PreviewTemplateRequest.HTML, theme=theme, use_sample_data=True),
        timeout=PREVIEW_TIMEOUT,
    )
    return Response(reply.data, media_type="text/html; charset=utf-8", headers=PREVIEW_HEADERS)


async def download_docx(ctx: Ctx) -> Response:
    template_id, number = _template_id(ctx), _version(ctx)
    reply = await ctx.rpc.call(
        "template", "GetTemplateVersion",
        pb.GetTemplateVersionRequest(template_id=template_id, version=number, include_docx=True),
    )
    name = f"{reply.version.template_id}-v{reply.version.version}.docx"  # the service's ids, not the raw path
    return Response(
        reply.docx,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def disable_template(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call(
        "template", "DisableTemplate",
        pb.DisableTemplateRequest(template_id=_template_id(ctx), reason=ctx.text("reason")), read=False,
    )
    return ctx.done(f"{PREFIX}/templates/{quote(reply.template_id)}", "templates.disabled")
