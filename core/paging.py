"""Cursor pagination shared by the services: opaque page tokens bound to the list (and filters) they came from."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from core.errors import invalid

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """0 means the default; more than the maximum is capped, not refused."""
    if requested < 0:
        raise invalid("pageSize", "must not be negative")
    return min(requested or default, maximum)


def scope(*filters: Any) -> str:
    """A short digest of a list's filters: a token only continues the list it came from."""
    return hashlib.sha256(json.dumps(filters, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def encode(position: dict[str, Any], list_scope: str) -> str:
    raw = json.dumps({"p": position, "s": list_scope}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(token: str, list_scope: str) -> dict[str, Any] | None:
    """The position a token continues from; None for the first page."""
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position, token_scope = decoded["p"], decoded["s"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise invalid("pageToken", "is not a token returned by this list") from None
    if not isinstance(position, dict) or token_scope != list_scope:
        raise invalid("pageToken", "was returned for other filters; start again from the first page")
    return position
