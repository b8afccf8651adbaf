"""Business lines (apps): list, create, access, signing-page and intent settings, webhook URL,
secret rotation (the new secret is shown once), trust anchors, and the webhook delivery log."""
from __future__ import annotations

from urllib.parse import quote

from google.protobuf import field_mask_pb2
from starlette.responses import Response

from core.errors import invalid
from core.origins import is_origin
from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2
from econtract.identity.v1 import identity_pb2 as pb
from gateway.console.anchor_pages import anchors_of
from gateway.console.display import enum_name
from gateway.console.pipeline import PREFIX, Ctx
from gateway.console.roles import api_scopes

METHODS = ("SMS", "EMAIL", "FACE")
REDIRECT_MODES = ("NONE", "IMMEDIATE", "DELAYED")
# A new business line may do what business lines normally do; reviewing and the dev outbox are granted on purpose.
UNCHECKED_SCOPES = ("template:review", "dev:outbox")
DELIVERIES_PAGE = 50


def _app_id(ctx: Ctx) -> str:
    return ctx.request.path_params["app_id"]


def _scopes(ctx: Ctx) -> list[str]:
    known = set(api_scopes())
    chosen = [s for s in ctx.texts("scope") if s in known]
    if not chosen:
        raise invalid("scopes", "choose at least one scope")
    return chosen


async def list_apps(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call("identity", "ListApps", pb.ListAppsRequest(page_size=50, page_token=ctx.query("page")))
    return ctx.render("apps.html", apps=reply.apps, next_page=reply.next_page_token, scopes=api_scopes(),
                      unchecked=UNCHECKED_SCOPES, enum_name=enum_name)


async def create_app(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call("identity", "CreateApp", pb.CreateAppRequest(name=ctx.text("name"), scopes=_scopes(ctx)),
                               read=False)
    return ctx.render("secret.html", app=reply.app, secret=reply.app_secret, created=True)


async def show_app(ctx: Ctx) -> Response:
    reply = await ctx.rpc.call("identity", "GetApp", pb.GetAppRequest(app_id=_app_id(ctx)))
    request = contract_pb2.ListWebhookDeliveriesRequest(app_id=reply.app.app_id, page_size=DELIVERIES_PAGE,
                                                        page_token=ctx.query("page"))
    deliveries = await ctx.rpc.call("contract", "ListWebhookDeliveries", request)
    return ctx.render("app.html", app=reply.app, scopes=api_scopes(), methods=METHODS, redirect_modes=REDIRECT_MODES,
                      anchors=anchors_of(reply.app.trust_anchors), deliveries=deliveries.deliveries,
                      next_page=deliveries.next_page_token, delivery_state=_delivery_state,
                      enum_name=enum_name, method_names=_method_names,
                      redirect_options=[(m, ctx.t.enum("redirect", m)) for m in REDIRECT_MODES])


def _method_names(methods) -> list[str]:
    return [common_pb2.IntentMethod.Name(m) for m in methods]


def _delivery_state(delivery: contract_pb2.WebhookDelivery) -> str:
    """``PENDING``, ``DELIVERED``, ``FAILED`` or ``SKIPPED``."""
    return contract_pb2.WebhookDelivery.State.Name(delivery.state).removeprefix("STATE_")


async def update_access(ctx: Ctx) -> Response:
    status = ctx.text("status")
    if status not in ("ACTIVE", "DISABLED"):
        raise invalid("status", "choose ACTIVE or DISABLED")
    app = pb.App(app_id=_app_id(ctx), name=ctx.text("name"), scopes=_scopes(ctx), status=pb.App.Status.Value(status))
    await _update(ctx, app, ["name", "scopes", "status"])
    return ctx.done(f"{PREFIX}/apps/{quote(app.app_id)}", "apps.saved")


async def update_settings(ctx: Ctx) -> Response:
    mode = ctx.text("redirect_mode")
    if mode not in REDIRECT_MODES:
        raise invalid("redirectMode", f"choose one of {', '.join(REDIRECT_MODES)}")
    app = pb.App(
        app_id=_app_id(ctx),
        webhook_url=ctx.text("webhook_url"),
        signing_page=pb.SigningPageConfig(
            theme_color=ctx.text("theme_color"),
            show_reject=ctx.checked("show_reject"),
            forced_reading=ctx.checked("forced_reading"),
            min_reading_seconds=ctx.number("min_reading_seconds"),
            success_page=ctx.text("success_page"),
            redirect_url=ctx.text("redirect_url"),
            redirect_mode=pb.SigningPageConfig.RedirectMode.Value(mode),
            redirect_delay_seconds=ctx.number("redirect_delay_seconds"),
            show_success_page=ctx.checked("show_success_page"),
            frame_ancestors=_frame_ancestors(ctx),
        ),
        intent_policy=pb.IntentPolicy(
            allowed_methods=[common_pb2.IntentMethod.Value(m) for m in ctx.texts("allowed_method") if m in METHODS],
            required_methods=[common_pb2.IntentMethod.Value(m) for m in ctx.texts("required_method") if m in METHODS],
            face_above_amount=ctx.text("face_above_amount"),
            required_real_name_level=ctx.text("required_real_name_level"),
            face_for_orgs=ctx.checked("face_for_orgs"),
        ),
    )
    await _update(ctx, app, ["webhook_url", "signing_page", "intent_policy"])
    return ctx.done(f"{PREFIX}/apps/{quote(app.app_id)}", "apps.saved")


def _frame_ancestors(ctx: Ctx) -> list[str]:
    """The embedding origins typed one a line, each ``scheme://host[:port]``."""
    origins = [line.strip().rstrip("/") for line in ctx.text("frame_ancestors").splitlines() if line.strip()]
    for value in origins:
        if not is_origin(value):
            raise invalid("signingPage.frameAncestors", "each line must be an origin such as https://shop.example")
    return origins


async def _update(ctx: Ctx, app: pb.App, paths: list[str]) -> None:
    request = pb.UpdateAppRequest(app=app, update_mask=field_mask_pb2.FieldMask(paths=paths))
    await ctx.rpc.call("identity", "UpdateApp", request, read=False)


async def rotate_secret(ctx: Ctx) -> Response:
    grace = ctx.number("grace_seconds")
    if grace < 0:
        raise invalid("graceSeconds", "must not be negative")
    reply = await ctx.rpc.call(
        "identity", "RotateAppSecret", pb.RotateAppSecretRequest(app_id=_app_id(ctx), grace_seconds=grace), read=False
    )
    return ctx.render("secret.html", app=reply.app, secret=reply.app_secret, created=False)
