"""Cursor pagination: opaque page tokens bound to the filters of the list they came from."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.errors import invalid

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_token: str


def page_size(requested: int) -> int:
    """0 means the default; larger than the maximum is capped, not refused."""
    if requested < 0:
        raise invalid("pageSize", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def filters_scope(*filters: Any) -> str:
    """A short digest of a list's filters; a token only continues the list it came from."""
    return hashlib.sha256(json.dumps(filters, ensure_ascii=False).encode()).hexdigest()[:16]


def encode_token(position: dict[str, Any], scope: str) -> str:
    raw = json.dumps({"p": position, "s": scope}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str, scope: str) -> dict[str, Any] | None:
    """The position a token continues from; None for the first page."""
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position, token_scope = decoded["p"], decoded["s"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise invalid("pageToken", "is not a token returned by this list") from None
    if not isinstance(position, dict) or token_scope != scope:
        raise invalid("pageToken", "was returned for other filters; start again from the first page")
    return position
