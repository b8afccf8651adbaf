"""Typed configuration of the contract service, read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``CONTRACT_WEBHOOK_ALLOW_PRIVATE`` | ``true`` in dev mode, else ``false`` | deliver webhooks to loopback, private and link-local addresses |
| ``CONTRACT_WEBHOOK_TIMEOUT`` | ``10`` | seconds to connect and get an answer from a webhook URL |
| ``CONTRACT_WEBHOOK_POLL_SECONDS`` | ``1`` | how often the delivery loop looks for due events |
| ``CONTRACT_WEBHOOK_BACKOFF_SECONDS`` | ``10`` | wait before the first retry; doubles per attempt, plus jitter |
| ``CONTRACT_WEBHOOK_BACKOFF_MAX_SECONDS`` | ``3600`` | longest wait between two attempts |
| ``CONTRACT_WEBHOOK_GIVE_UP_HOURS`` | ``48`` | after this long without a 2xx an event is marked FAILED |
| ``CONTRACT_SIGN_URL_TTL`` | ``86400`` | seconds a signing-page link stays valid (never past the contract's expiry) |
| ``CONTRACT_SWEEP_SECONDS`` | ``5`` | how often overdue contracts are expired and missing B-LTA timestamps retried |

A bad value fails at start-up with a ``SettingsError`` naming the variable.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.settings import SettingsError


@dataclass(frozen=True)
class ContractConfig:
    webhook_allow_private: bool = False
    webhook_timeout: float = 10.0
    webhook_poll_seconds: float = 1.0
    webhook_backoff_seconds: float = 10.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_give_up_hours: float = 48.0
    sign_url_ttl: int = 86400
    sweep_seconds: float = 5.0
    # Events a delivery loop claims at once, and how long its claim lasts past the timeout.
    webhook_batch: int = 20
    webhook_lease_margin: float = 30.0


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be positive")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} must be true or false")


def load_config(env: Mapping[str, str] | None = None, *, dev: bool) -> ContractConfig:
    """The contract service's configuration from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    config = ContractConfig(
        webhook_allow_private=_flag(env, "CONTRACT_WEBHOOK_ALLOW_PRIVATE", dev),
        webhook_timeout=_number(env, "CONTRACT_WEBHOOK_TIMEOUT", 10.0),
        webhook_poll_seconds=_number(env, "CONTRACT_WEBHOOK_POLL_SECONDS", 1.0),
        webhook_backoff_seconds=_number(env, "CONTRACT_WEBHOOK_BACKOFF_SECONDS", 10.0),
        webhook_backoff_max_seconds=_number(env, "CONTRACT_WEBHOOK_BACKOFF_MAX_SECONDS", 3600.0),
        webhook_give_up_hours=_number(env, "CONTRACT_WEBHOOK_GIVE_UP_HOURS", 48.0),
        sign_url_ttl=int(_number(env, "CONTRACT_SIGN_URL_TTL", 86400)),
        sweep_seconds=_number(env, "CONTRACT_SWEEP_SECONDS", 5.0),
    )
    if config.webhook_backoff_max_seconds < config.webhook_backoff_seconds:
        raise SettingsError("CONTRACT_WEBHOOK_BACKOFF_MAX_SECONDS must not be below CONTRACT_WEBHOOK_BACKOFF_SECONDS")
    return config
