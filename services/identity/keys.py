"""The identity service's own secrets (HMAC keys), wrapped by the master key.

Each named secret is 32 random bytes made on first use and stored in ``secret_keys`` as
master-key ciphertext bound to its name, so every replica uses the same key, a database
dump alone reveals nothing, and changing the master key means re-wrapping these rows,
not recomputing every identifier hash (as a key computed from the master key would).
"""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timezone

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.masterkey import MasterKey
from services.identity.store import SecretKeyRow

# Names of the secrets, one per use: a key never serves two purposes.
SUBJECT_LOOKUP = "subject-id-lookup"
OTP_CODES = "otp-codes"
INTENT_TOKENS = "intent-tokens-k1"


class ServiceKeys:
    def __init__(self, sessions: sessionmaker, master_key: MasterKey):
        self._sessions = sessions
        self._master = master_key
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes:
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._load_or_create(name)
            return self._cache[name]

    def _load_or_create(self, name: str) -> bytes:
        context = b"identity-secret:" + name.encode()
        with self._sessions() as session:
            row = session.get(SecretKeyRow, name)
            if row is not None:
                return self._master.decrypt(row.ciphertext, context)
        secret = secrets.token_bytes(32)
        try:
            with self._sessions.begin() as session:
                session.add(SecretKeyRow(name=name, ciphertext=self._master.encrypt(secret, context),
                                         created_at=datetime.now(timezone.utc)))
        except IntegrityError:
            # Another replica made it first: use theirs.
            with self._sessions() as session:
                row = session.get(SecretKeyRow, name)
                if row is None:
                    raise RuntimeError(f"secret {name} was neither created nor found")
                return self._master.decrypt(row.ciphertext, context)
        return secret
