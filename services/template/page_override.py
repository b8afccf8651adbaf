"""A template's own signing-page settings, laid over its business line's by the pages.

Held in proto3-JSON form (``SigningPageOverride``: ``themeColor``, ``showReject``, ...):
only the fields the override sets are present, so "hide reject" (``showReject: false``)
differs from "say nothing about reject" (no key). Checked strictly here, on the way in;
the pages sanitise again on the way out, as they do for the app's settings.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core.errors import FieldViolation

MAX_READING = 600
MAX_DELAY = 60
MAX_TEXT = 2000
_COLOUR = re.compile(r"^#?[0-9a-fA-F]{6}$")
_RANGES = {"minReadingSeconds": MAX_READING, "redirectDelaySeconds": MAX_DELAY}


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return len(url) <= MAX_TEXT and parts.scheme in ("http", "https") and bool(parts.netloc)


def override_violations(override: Mapping[str, Any]) -> list[FieldViolation]:
    problems = []
    if "themeColor" in override and not _COLOUR.match(override["themeColor"]):
        problems.append(FieldViolation("signingPage.themeColor", "must be a colour as #rrggbb"))
    for name, high in _RANGES.items():
        if name in override and not 0 <= override[name] <= high:
            problems.append(FieldViolation(f"signingPage.{name}", f"must be from 0 to {high}"))
    if len(override.get("successPage", "")) > MAX_TEXT:
        problems.append(FieldViolation("signingPage.successPage", f"must be at most {MAX_TEXT} characters"))
    if override.get("redirectUrl") and not _web_url(override["redirectUrl"]):
        problems.append(FieldViolation("signingPage.redirectUrl", "must be an http or https URL"))
    return problems


def override_to_json(override: Mapping[str, Any]) -> str | None:
    """The stored form: ``None`` (no override) for an empty one."""
    return json.dumps(dict(override), ensure_ascii=False, sort_keys=True) if override else None


def override_from_json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}
