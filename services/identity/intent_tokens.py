"""Intent tokens: short-lived proof that a signer confirmed intent for given documents.

Format (compact, URL-safe, no padding)::

    <keyId> "." base64url(claims JSON) "." base64url(HMAC-SHA256(key[keyId], "<keyId>.<claims>"))

The key id comes first so the signature is checked before the claims are parsed, and so
keys can rotate: new tokens use the active key, older keys still verify until removed.
Claims: ``v`` (1), ``jti`` (token id), ``sub`` (subject id), ``sgn`` (signer id), ``docs``
(contract id → the SHA-256 of each of its documents, main document first), ``mth`` (the
intent method confirmed last), ``mths`` (every method confirmed for this signing, when a
policy needs several; tokens without it carry ``mth`` alone), ``iat`` and ``exp`` (unix
seconds), ``knd`` (signer kind) and ``amt`` (largest contract amount, absent when unknown)
for checking the policy at signing, and for the evidence record (``IntentClaims`` in
common.proto) ``chl`` (challenge id), ``app`` (app id), ``rcp`` (masked recipient),
``frf`` (face provider reference), ``fps`` (subject id of the person who passed the face
check for an organisation) and ``fpb`` (how that person was recognised, see
``FacePersonBasis`` in intents.py), each omitted when empty.

A token is accepted once per contract: ``consume`` records (token id, contract id) with
Redis ``SET NX`` under ``{ns}:intent:used:{jti}:{contractId}``, kept until the token would
have expired anyway. A combined-signing token thus signs each of its contracts exactly once.

Refusals, each with its own message: malformed, bad signature, unknown key →
INVALID_ARGUMENT (not a token of ours); expired, already used for this contract →
FAILED_PRECONDITION (a new intent verification is the fix); another signer, a contract or
a document the token does not cover → PERMISSION_DENIED (a valid token, not for this).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from redis import Redis

from core.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied, invalid
from services.identity.policy import IntentMethod

_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_MAX_TOKEN_CHARS = 16_384
_USE_MARGIN_SECONDS = 60
_OPTIONAL = {"chl": "challenge_id", "app": "app_id", "rcp": "recipient", "frf": "face_reference",
             "fps": "face_person_id", "fpb": "face_person_basis", "knd": "signer_kind", "amt": "amount"}


class TokenInvalid(InvalidArgument):
    def __init__(self, description: str):
        super().__init__(f"intentToken: {description}", [FieldViolation("intentToken", description)])


class TokenExpired(FailedPrecondition):
    pass


class TokenAlreadyUsed(FailedPrecondition):
    pass


class TokenNotBound(PermissionDenied):
    pass


@dataclass(frozen=True)
class IntentClaims:
    subject_id: str
    signer_id: str
    documents: Mapping[str, tuple[str, ...]]  # contract id → documents' SHA-256 (lowercase hex)
    method: IntentMethod
    challenge_id: str = ""
    app_id: str = ""
    recipient: str = ""  # masked, e.g. 138****0000; empty for FACE
    face_reference: str = ""
    face_person_id: str = ""  # for an organisation: the person whose face was checked
    face_person_basis: str = ""  # how that person was recognised (agent, representative by ID number or name)
    methods: tuple[IntentMethod, ...] = ()  # every confirmed method; empty = just ``method``
    signer_kind: str = ""  # PERSON or ORG; empty in tokens from before several methods
    amount: str = ""  # the largest contract amount in yuan; empty when unknown
    token_id: str = ""  # set by issue
    issued_at: int = 0
    expires_at: int = 0

    @property
    def all_methods(self) -> tuple[IntentMethod, ...]:
        return self.methods or (self.method,)

    @property
    def contract_ids(self) -> tuple[str, ...]:
        return tuple(self.documents)

    @property
    def expire_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires_at, dt.UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64_RE.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class IntentTokens:
    """Issues, verifies and consumes intent tokens.

    ``keys`` maps key ids to secrets (>= 32 bytes each); ``active_key_id`` signs new tokens.
    ``redis`` is needed only by ``consume``.
    """

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active_key_id: str,
        redis: Redis | None = None,
        namespace: str = "econtract:identity",
        max_ttl_seconds: int = 900,
    ):
        if active_key_id not in keys:
            raise ValueError(f"active intent-token key {active_key_id!r} is not among the keys")
        for kid, secret in keys.items():
            if not _KID_RE.fullmatch(kid) or len(secret) < 32:
                raise ValueError(f"intent-token key {kid!r}: id must be 1-32 of [A-Za-z0-9_-], secret >= 32 bytes")
        self._keys = dict(keys)
        self._active = active_key_id
        self._redis = redis
        self._namespace = namespace
        self._max_ttl = max_ttl_seconds

    def issue(self, claims: IntentClaims, ttl_seconds: int, now: float | None = None) -> tuple[str, IntentClaims]:
        """Sign ``claims`` for ``ttl_seconds``; returns the token and the claims as issued."""
        if not 0 < ttl_seconds <= self._max_ttl:
            raise ValueError(f"intent-token ttl must be within 1..{self._max_ttl} s")
        if not claims.subject_id or not claims.signer_id or not claims.documents:
            raise ValueError("intent-token claims need a subject, a signer and at least one contract")
        for contract, hashes in claims.documents.items():
            if not contract or not hashes or not all(_SHA256_RE.fullmatch(h) for h in hashes):
                raise ValueError(f"contract {contract!r}: need one or more lowercase hex SHA-256 values")
        issued_at = int(time.time() if now is None else now)
        issued = replace(
            claims,
            documents={c: tuple(h) for c, h in claims.documents.items()},
            method=IntentMethod(claims.method),
            methods=tuple(sorted({IntentMethod(m) for m in (*claims.methods, claims.method)})),
            token_id="it_" + secrets.token_urlsafe(16),
            issued_at=issued_at,
            expires_at=issued_at + ttl_seconds,
        )
        body: dict[str, Any] = {
            "v": 1,
            "jti": issued.token_id,
            "sub": issued.subject_id,
            "sgn": issued.signer_id,
            "docs": {c: list(h) for c, h in issued.documents.items()},
            "mth": issued.method.value,
            "mths": [m.value for m in issued.methods],
            "iat": issued.issued_at,
            "exp": issued.expires_at,
        }
        for name, value in _OPTIONAL.items():
            if getattr(issued, value):
                body[name] = getattr(issued, value)
        signed = self._active + "." + _b64(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        return signed + "." + _b64(self._mac(self._active, signed)), issued

    def verify(self, token: str, now: float | None = None) -> IntentClaims:
        """Check signature and expiry; return the claims."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
            raise TokenInvalid("malformed intent token")
        kid, payload, signature = token.split(".")
        if not _KID_RE.fullmatch(kid):
            raise TokenInvalid("malformed intent token")
        if kid not in self._keys:
            raise TokenInvalid(f"intent token was signed with an unknown key {kid!r}")
        try:
            given = _unb64(signature)
        except (ValueError, binascii.Error):
            raise TokenInvalid("malformed intent token") from None
        if not hmac.compare_digest(given, self._mac(kid, f"{kid}.{payload}")):
            raise TokenInvalid("intent token signature is invalid")
        claims = _parse_claims(payload)
        current = time.time() if now is None else now
        if current >= claims.expires_at:
            raise TokenExpired(f"intent token expired at {claims.expire_time.isoformat()}; verify intent again")
        return claims

    def consume(
        self,
        token: str,
        signer_id: str,
        contract_id: str,
        document_sha256: str | Sequence[str],
        now: float | None = None,
        before_use: Callable[[IntentClaims], None] | None = None,
    ) -> IntentClaims:
        """Accept the token for signing one contract, once per contract.

        ``document_sha256`` lists every document of the contract as it is now (one string
        for a single document); it must be exactly the set the token was confirmed for, so
        a document changed, added or dropped since the intent was confirmed is refused.
        ``before_use`` may refuse a token bound to this signing before it is marked used.
        """
        if self._redis is None:
            raise RuntimeError("IntentTokens.consume needs a Redis client")
        current = time.time() if now is None else now
        claims = self.verify(token, current)
        if claims.signer_id != signer_id:
            raise TokenNotBound("intent token was issued to another signer")
        if contract_id not in claims.documents:
            raise TokenNotBound(f"intent token does not cover contract {contract_id}")
        presented = (document_sha256,) if isinstance(document_sha256, str) else tuple(document_sha256)
        if not presented:
            raise invalid("documentSha256", "at least one document hash is required")
        if sorted(h.lower() for h in presented) != sorted(claims.documents[contract_id]):
            raise TokenNotBound(
                f"intent token was confirmed for other document content of contract {contract_id} (document hash mismatch)"
            )
        if before_use is not None:
            before_use(claims)
        ttl = int(claims.expires_at - current) + _USE_MARGIN_SECONDS
        key = f"{self._namespace}:intent:used:{claims.token_id}:{contract_id}"
        if not self._redis.set(key, str(int(current)), nx=True, ex=ttl):
            raise TokenAlreadyUsed(f"intent token was already used for contract {contract_id}")
        return claims

    def _mac(self, kid: str, signed: str) -> bytes:
        return hmac.new(self._keys[kid], b"econtract-intent-token\0" + signed.encode(), hashlib.sha256).digest()


def _parse_claims(payload: str) -> IntentClaims:
    # Only reached with a valid signature, so a failure here means our own bug or a key leak.
    try:
        body: Any = json.loads(_unb64(payload))
        docs = body["docs"]
        if body["v"] != 1 or not isinstance(docs, dict):
            raise ValueError("unsupported version")
        claims = IntentClaims(
            subject_id=str(body["sub"]),
            signer_id=str(body["sgn"]),
            documents={str(c): tuple(str(h) for h in hashes) for c, hashes in docs.items()},
            method=IntentMethod(body["mth"]),
            methods=tuple(IntentMethod(m) for m in body.get("mths") or [body["mth"]]),
            **{value: str(body.get(name, "")) for name, value in _OPTIONAL.items()},
            token_id=str(body["jti"]),
            issued_at=int(body["iat"]),
            expires_at=int(body["exp"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise TokenInvalid("malformed intent token") from None
    return claims
