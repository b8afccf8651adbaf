"""Business-line authentication: HMAC request signatures, clock window, nonce replay guard.

The secret never leaves the identity service: the gateway sends it the canonical string
and the signature, and gets back the app and its scopes when they match.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from core.errors import PermissionDenied, Unauthenticated

CLOCK_WINDOW = 300
NONCE_TTL = 600
_NONCE = re.compile(r"^[A-Za-z0-9_\-.~]{8,64}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SignedRequest:
    app_id: str
    timestamp: str
    nonce: str
    signature: str


def canonical(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The string an app signs, exactly as API.md defines it."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path_with_query, timestamp, nonce, digest]).encode("utf-8")


def read_headers(headers) -> SignedRequest:
    """The signature headers, checked for presence and shape (the signature itself is checked later)."""
    values = {name: headers.get(name, "") for name in ("x-app-id", "x-timestamp", "x-nonce", "x-signature")}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise Unauthenticated("missing authentication headers: " + ", ".join(_title(m) for m in missing))
    if not _NONCE.match(values["x-nonce"]):
        raise Unauthenticated("X-Nonce must be 8 to 64 characters of letters, digits, '-', '_', '.' or '~'")
    if not _SIGNATURE.match(values["x-signature"]):
        raise Unauthenticated("X-Signature must be a lowercase hex HMAC-SHA256")
    return SignedRequest(values["x-app-id"][:64], values["x-timestamp"], values["x-nonce"], values["x-signature"])


def check_clock(timestamp: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    if not timestamp.isdigit():
        raise Unauthenticated("X-Timestamp must be unix seconds")
    if abs(int(timestamp) - now) > CLOCK_WINDOW:
        raise Unauthenticated(f"X-Timestamp is more than {CLOCK_WINDOW} s away from server time")


def check_scope(scopes: list[str] | tuple[str, ...], needed: str) -> None:
    if needed not in scopes and "admin" not in scopes:
        raise PermissionDenied(f"this app lacks the scope {needed!r}")


async def claim_nonce(redis, prefix: str, app_id: str, nonce: str) -> None:
    """Remember the nonce for the replay window; a second use within it is refused."""
    if not await redis.set(f"{prefix}nonce:{app_id}:{nonce}", b"1", nx=True, ex=NONCE_TTL):
        raise Unauthenticated("X-Nonce was already used (replayed request)")


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))
