"""The master key that encrypts secrets at rest (app secrets, CA keys).

Production passes it in ``ECONTRACT_MASTER_KEY`` (base64 of 32 bytes) or a file;
dev mode creates a random one under ``var/`` on first use so that ``make up`` just works.
"""
from __future__ import annotations

import base64
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.settings import Settings, SettingsError

_NONCE = 12


class MasterKey:
    """AES-256-GCM with the platform master key; ``context`` binds a ciphertext to its use."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise SettingsError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:  # never show key material
        return "MasterKey(***)"

    def encrypt(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, blob: bytes, context: bytes) -> bytes:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context)


def load_master_key(settings: Settings) -> MasterKey:
    raw = os.environ.get("ECONTRACT_MASTER_KEY")
    if raw:
        try:
            return MasterKey(base64.b64decode(raw, validate=True))
        except ValueError:
            raise SettingsError("ECONTRACT_MASTER_KEY must be base64 of 32 bytes") from None
    path = settings.master_key_file
    if path.exists():
        return MasterKey(base64.b64decode(path.read_bytes().strip()))
    if not settings.dev:
        raise SettingsError(f"no master key: set ECONTRACT_MASTER_KEY or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # O_EXCL: when several dev processes start at once, exactly one writes the key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return MasterKey(base64.b64decode(path.read_bytes().strip()))
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(key))
    return MasterKey(key)
