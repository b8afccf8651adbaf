"""Password hashes: scrypt with a per-user salt, compared in constant time.

The stored form names its parameters (``scrypt$n$r$p$salt$hash``), so they can be raised
later without invalidating existing hashes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from core.errors import invalid

N, R, P = 2**15, 8, 1
KEY_BYTES = 32
SALT_BYTES = 16
MIN_LENGTH = 12
MAX_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password[:MAX_LENGTH], base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(expected))


# A hash of nothing anyone knows: unknown user names cost as much time as known ones.
DECOY = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise invalid("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise invalid("password", f"must be at most {MAX_LENGTH} characters")


def random_password() -> str:
    return secrets.token_urlsafe(18)
