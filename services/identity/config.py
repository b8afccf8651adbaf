"""Typed configuration of the identity service, read from environment variables.

Everything has a working local default: no variable set means format-only real-name
checks, the dev outbox for codes in dev mode, and no delivery at all otherwise (so
CreateIntent refuses rather than dropping a code). A bad value fails at start-up with a
``SettingsError`` naming the variable.

| variable | default | meaning |
|---|---|---|
| ``IDENTITY_ID_TYPES`` | ``ID_CARD,USCC,USER_ID,PIN,MERCHANT_NO,SHOP_ID,PRINCIPAL_ID`` | identifier systems subjects may be known by (must keep ``ID_CARD`` and ``USCC``) |
| ``IDENTITY_REALNAME_PROVIDERS`` | empty | names of HTTP real-name providers, comma separated |
| ``IDENTITY_REALNAME_<NAME>_URL`` / ``_APP_KEY`` / ``_APP_SECRET`` | required per provider | where that provider lives and our credentials |
| ``IDENTITY_REALNAME_<NAME>_TIMEOUT`` | ``5`` | seconds to wait for its answer |
| ``IDENTITY_REALNAME_DEFAULT`` | ``format_only`` | provider of apps that have no ``real_name_provider`` setting |
| ``IDENTITY_SMS_URL`` / ``_APP_KEY`` / ``_APP_SECRET`` | unset | HTTP SMS gateway for SMS codes |
| ``IDENTITY_SMTP_HOST`` | unset | SMTP server for e-mail codes (with ``IDENTITY_SMTP_FROM``) |
| ``IDENTITY_SMTP_PORT`` | ``587`` (``465`` with ``ssl``) | SMTP port |
| ``IDENTITY_SMTP_SECURITY`` | ``starttls`` | ``starttls``, ``ssl`` or ``none`` |
| ``IDENTITY_SMTP_FROM`` | required with the host | sender address |
| ``IDENTITY_SMTP_USERNAME`` / ``_PASSWORD`` | unset | SMTP login (both or neither) |
| ``IDENTITY_SMTP_TIMEOUT`` | ``10`` | seconds per SMTP step |
| ``IDENTITY_INTENT_TOKEN_TTL`` | ``600`` | seconds an intent token stays valid (at most 900) |
| ``IDENTITY_OTP_TTL_SECONDS`` | ``300`` | seconds a one-time code (and a face challenge) stays valid (whole seconds, at most 3600) |
| ``IDENTITY_OTP_RESEND_COOLDOWN_SECONDS`` | ``60`` | seconds before a recipient can be sent another code (at most 3600) |

Provider URLs must be https; plain http is accepted in dev mode only (local stand-ins).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.settings import SettingsError
from services.identity.provider_http import ProviderEndpoint

DEFAULT_ID_TYPES = ("ID_CARD", "USCC", "USER_ID", "PIN", "MERCHANT_NO", "SHOP_ID", "PRINCIPAL_ID")
# Real-name verification records subjects by these two, so they cannot be configured away.
REQUIRED_ID_TYPES = ("ID_CARD", "USCC")
FORMAT_ONLY = "format_only"
MAX_TOKEN_TTL = 900
MAX_OTP_TTL = 3600

_ID_TYPE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
_PROVIDER_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    from_address: str
    security: Literal["starttls", "ssl", "none"]
    username: str | None
    password: str | None = field(repr=False)
    timeout: float


@dataclass(frozen=True)
class IdentityConfig:
    id_types: tuple[str, ...] = DEFAULT_ID_TYPES
    realname_providers: Mapping[str, ProviderEndpoint] = field(default_factory=dict, repr=False)
    realname_default: str = FORMAT_ONLY
    sms: ProviderEndpoint | None = field(default=None, repr=False)
    smtp: SmtpConfig | None = None
    intent_token_ttl: int = 600
    otp_ttl_seconds: int = 300
    otp_resend_cooldown_seconds: float = 60


def _get(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _number(env: Mapping[str, str], name: str, default: float, *, upper: float | None = None) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0 or (upper is not None and value > upper):
        limit = f" and at most {upper:g}" if upper is not None else ""
        raise SettingsError(f"{name}={raw!r} must be positive{limit}")
    return value


def _whole_seconds(env: Mapping[str, str], name: str, default: int, *, upper: int) -> int:
    value = _number(env, name, default, upper=upper)
    if value != int(value):
        raise SettingsError(f"{name}={_get(env, name)!r} must be a whole number of seconds")
    return int(value)


def _endpoint(env: Mapping[str, str], prefix: str, *, dev: bool) -> ProviderEndpoint:
    values = {part: _get(env, f"{prefix}_{part}") for part in ("URL", "APP_KEY", "APP_SECRET")}
    missing = [f"{prefix}_{part}" for part, value in values.items() if not value]
    if missing:
        raise SettingsError(f"{', '.join(missing)} must be set (with {prefix}_URL)")
    try:
        return ProviderEndpoint(
            base_url=values["URL"],
            app_key=values["APP_KEY"],
            app_secret=values["APP_SECRET"],
            read_timeout=_number(env, f"{prefix}_TIMEOUT", 5.0),
            allow_insecure_http=dev,
        )
    except ValueError as exc:
        raise SettingsError(f"{prefix}_URL: {exc}") from None


def _any_set(env: Mapping[str, str], prefix: str) -> bool:
    # Half a configuration is an error, not "not configured": codes would silently go nowhere.
    return any(_get(env, f"{prefix}_{part}") for part in ("URL", "APP_KEY", "APP_SECRET"))


def _id_types(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _get(env, "IDENTITY_ID_TYPES")
    if not raw:
        return DEFAULT_ID_TYPES
    types = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    bad = [t for t in types if not _ID_TYPE_RE.fullmatch(t)]
    if bad:
        raise SettingsError(f"IDENTITY_ID_TYPES: {', '.join(bad)} are not upper-case names like MERCHANT_NO")
    missing = [t for t in REQUIRED_ID_TYPES if t not in types]
    if missing:
        raise SettingsError(f"IDENTITY_ID_TYPES must include {', '.join(missing)} (real-name verification uses them)")
    return types


def _realname(env: Mapping[str, str], *, dev: bool) -> tuple[dict[str, ProviderEndpoint], str]:
    names = [n.strip() for n in _get(env, "IDENTITY_REALNAME_PROVIDERS").split(",") if n.strip()]
    providers: dict[str, ProviderEndpoint] = {}
    for name in names:
        if not _PROVIDER_NAME_RE.fullmatch(name) or name == FORMAT_ONLY:
            raise SettingsError(
                f"IDENTITY_REALNAME_PROVIDERS: {name!r} must be a lower-case name like acme (and not {FORMAT_ONLY})"
            )
        providers[name] = _endpoint(env, f"IDENTITY_REALNAME_{name.upper()}", dev=dev)
    default = _get(env, "IDENTITY_REALNAME_DEFAULT") or FORMAT_ONLY
    if default != FORMAT_ONLY and default not in providers:
        known = ", ".join([FORMAT_ONLY, *providers])
        raise SettingsError(f"IDENTITY_REALNAME_DEFAULT={default!r} is not a configured provider (known: {known})")
    return providers, default


def _smtp(env: Mapping[str, str]) -> SmtpConfig | None:
    host = _get(env, "IDENTITY_SMTP_HOST")
    if not host:
        return None
    security = _get(env, "IDENTITY_SMTP_SECURITY") or "starttls"
    if security not in ("starttls", "ssl", "none"):
        raise SettingsError(f"IDENTITY_SMTP_SECURITY={security!r} must be starttls, ssl or none")
    port = int(_number(env, "IDENTITY_SMTP_PORT", 465 if security == "ssl" else 587, upper=65535))
    sender = _get(env, "IDENTITY_SMTP_FROM")
    if "@" not in sender:
        raise SettingsError("IDENTITY_SMTP_FROM must be set to the sender's e-mail address when IDENTITY_SMTP_HOST is set")
    username = _get(env, "IDENTITY_SMTP_USERNAME") or None
    password = env.get("IDENTITY_SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise SettingsError("IDENTITY_SMTP_USERNAME and IDENTITY_SMTP_PASSWORD go together")
    timeout = _number(env, "IDENTITY_SMTP_TIMEOUT", 10.0)
    return SmtpConfig(host, port, sender, security, username, password, timeout)  # type: ignore[arg-type]


def load_config(env: Mapping[str, str] | None = None, *, dev: bool) -> IdentityConfig:
    """The identity service's configuration from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    providers, default = _realname(env, dev=dev)
    return IdentityConfig(
        id_types=_id_types(env),
        realname_providers=providers,
        realname_default=default,
        sms=_endpoint(env, "IDENTITY_SMS", dev=dev) if _any_set(env, "IDENTITY_SMS") else None,
        smtp=_smtp(env),
        intent_token_ttl=int(_number(env, "IDENTITY_INTENT_TOKEN_TTL", 600, upper=MAX_TOKEN_TTL)),
        otp_ttl_seconds=_whole_seconds(env, "IDENTITY_OTP_TTL_SECONDS", 300, upper=MAX_OTP_TTL),
        otp_resend_cooldown_seconds=_number(env, "IDENTITY_OTP_RESEND_COOLDOWN_SECONDS", 60, upper=MAX_OTP_TTL),
    )
