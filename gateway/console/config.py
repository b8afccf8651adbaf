"""Typed configuration of the admin console, read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``CONSOLE_SESSION_IDLE_SECONDS`` | ``1800`` | a session ends after this long without a request |
| ``CONSOLE_SESSION_MAX_SECONDS`` | ``43200`` | a session ends this long after login, however active |
| ``CONSOLE_LOGIN_MAX_FAILURES`` | ``5`` | wrong passwords for one user name before its logins are locked |
| ``CONSOLE_LOGIN_MAX_FAILURES_PER_IP`` | ``20`` | wrong passwords from one client address before its logins are locked |
| ``CONSOLE_LOGIN_LOCK_SECONDS`` | ``900`` | how long failures are counted, and a lock lasts |
| ``CONSOLE_MAX_UPLOAD_BYTES`` | ``20971520`` | largest file (template .docx, seal image) an upload form accepts |
| ``CONSOLE_TIMEZONE`` | ``Asia/Shanghai`` | time zone in which pages show times |
| ``ECONTRACT_CONSOLE_ADMIN_PASSWORD`` | unset | dev mode: password of the ``admin`` user made at first start (else random, in ``var/console-admin.txt``) |
| ``IDENTITY_ID_TYPES`` | the identity service's default list | identifier types shown in the dictionaries page (the same variable the identity service reads) |
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.settings import SettingsError

DEFAULT_ID_TYPES = ("ID_CARD", "USCC", "USER_ID", "PIN", "MERCHANT_NO", "SHOP_ID", "PRINCIPAL_ID")
_ID_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")


@dataclass(frozen=True)
class ConsoleConfig:
    idle_seconds: int = 1800
    max_seconds: int = 43200
    max_failures: int = 5
    max_failures_per_ip: int = 20
    lock_seconds: int = 900
    max_upload_bytes: int = 20 * 1024 * 1024
    timezone: str = "Asia/Shanghai"
    id_types: tuple[str, ...] = DEFAULT_ID_TYPES
    dev_admin_password: str | None = field(default=None, repr=False)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not valid: expected a positive integer") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} is not valid: expected a positive integer")
    return value


def _id_types(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("IDENTITY_ID_TYPES", "")
    if not raw.strip():
        return DEFAULT_ID_TYPES
    types = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    bad = [t for t in types if not _ID_TYPE.match(t)]
    if bad:
        raise SettingsError(f"IDENTITY_ID_TYPES: {', '.join(bad)} are not upper-case names like MERCHANT_NO")
    return types


def load_console_config(env: Mapping[str, str] | None = None) -> ConsoleConfig:
    env = os.environ if env is None else env
    config = ConsoleConfig(
        idle_seconds=_int(env, "CONSOLE_SESSION_IDLE_SECONDS", 1800),
        max_seconds=_int(env, "CONSOLE_SESSION_MAX_SECONDS", 43200),
        max_failures=_int(env, "CONSOLE_LOGIN_MAX_FAILURES", 5),
        max_failures_per_ip=_int(env, "CONSOLE_LOGIN_MAX_FAILURES_PER_IP", 20),
        lock_seconds=_int(env, "CONSOLE_LOGIN_LOCK_SECONDS", 900),
        max_upload_bytes=_int(env, "CONSOLE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
        timezone=env.get("CONSOLE_TIMEZONE", "") or "Asia/Shanghai",
        id_types=_id_types(env),
        dev_admin_password=env.get("ECONTRACT_CONSOLE_ADMIN_PASSWORD") or None,
    )
    if config.dev_admin_password is not None and len(config.dev_admin_password) < 12:
        raise SettingsError("ECONTRACT_CONSOLE_ADMIN_PASSWORD must be at least 12 characters")
    if config.idle_seconds > config.max_seconds:
        raise SettingsError("CONSOLE_SESSION_IDLE_SECONDS must not exceed CONSOLE_SESSION_MAX_SECONDS")
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CONSOLE_TIMEZONE={config.timezone!r} is not a known time zone") from None
    return config
