"""A template's signing-page override as a console form, and back.

The override sets only some fields (proto3 ``optional``): an empty text box, or "as the
business line" in a switch, leaves a field unset so the business line's setting applies;
"on"/"off" and any typed value set it. The template service checks the values.
"""
from __future__ import annotations

from core.errors import invalid
from econtract.template.v1 import template_pb2 as pb
from gateway.console.pipeline import Ctx

SWITCHES = ("inherit", "on", "off")
REDIRECT_MODES = ("NONE", "IMMEDIATE", "DELAYED")
_FLAGS = ("show_reject", "forced_reading", "show_success_page")
_TEXTS = ("theme_color", "success_page", "redirect_url")
_NUMBERS = ("min_reading_seconds", "redirect_delay_seconds")


def page_override(ctx: Ctx) -> pb.SigningPageOverride:
    override = pb.SigningPageOverride()
    for name in _FLAGS:
        switch = ctx.text(f"page_{name}", "inherit") or "inherit"
        if switch not in SWITCHES:
            raise invalid(f"signingPage.{name}", "choose inherit, on or off")
        if switch != "inherit":
            setattr(override, name, switch == "on")
    for name in _TEXTS:
        if value := ctx.text(f"page_{name}"):
            setattr(override, name, value)
    for name in _NUMBERS:
        raw = ctx.text(f"page_{name}")
        if raw:
            if not raw.isdigit():
                raise invalid(f"signingPage.{name}", "must be a whole number of seconds")
            setattr(override, name, int(raw))
    mode = ctx.text("page_redirect_mode")
    if mode:
        if mode not in REDIRECT_MODES:
            raise invalid("signingPage.redirectMode", f"choose one of {', '.join(REDIRECT_MODES)}")
        override.redirect_mode = pb.SigningPageOverride.RedirectMode.Value(mode)
    return override


def page_override_values(override: pb.SigningPageOverride) -> dict[str, str]:
    """The form's values for a stored override (empty / "inherit" where it sets nothing)."""
    values = {name: ("on" if getattr(override, name) else "off") if override.HasField(name) else "inherit"
              for name in _FLAGS}
    values |= {name: str(getattr(override, name)) if override.HasField(name) else "" for name in _TEXTS + _NUMBERS}
    values["redirect_mode"] = (pb.SigningPageOverride.RedirectMode.Name(override.redirect_mode)
                               if override.HasField("redirect_mode") else "")
    return values
