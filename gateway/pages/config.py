"""Typed configuration of the signing pages, read from environment variables.

| variable | default | meaning |
|---|---|---|
| ``SIGN_PAGES_IDLE_SECONDS`` | ``1800`` | a page session ends after this long without a request |
| ``SIGN_PAGES_MAX_SECONDS`` | ``7200`` | a page session ends this long after the link was opened |
| ``SIGN_PAGES_DPI`` | ``110`` | resolution of the page images of a contract (36–300) |
| ``SIGN_PAGES_IMAGE_SECONDS`` | ``900`` | how long rendered page images stay cached in Redis |
| ``SIGN_PAGES_SIGN_TIMEOUT`` | ``90`` | deadline in seconds of a signature (PAdES and timestamp per document) or a render |
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.settings import SettingsError


@dataclass(frozen=True)
class PagesConfig:
    idle_seconds: int = 1800
    max_seconds: int = 7200
    dpi: int = 110
    image_seconds: int = 900
    slow_call_timeout: float = 90.0


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is not valid: expected a whole number from {low} to {high}")
    return value


def load_pages_config(env: Mapping[str, str] | None = None) -> PagesConfig:
    env = os.environ if env is None else env
    return PagesConfig(
        idle_seconds=_int(env, "SIGN_PAGES_IDLE_SECONDS", 1800, 60, 86400),
        max_seconds=_int(env, "SIGN_PAGES_MAX_SECONDS", 7200, 60, 7 * 86400),
        dpi=_int(env, "SIGN_PAGES_DPI", 110, 36, 300),
        image_seconds=_int(env, "SIGN_PAGES_IMAGE_SECONDS", 900, 10, 86400),
        slow_call_timeout=float(_int(env, "SIGN_PAGES_SIGN_TIMEOUT", 90, 5, 600)),
    )
