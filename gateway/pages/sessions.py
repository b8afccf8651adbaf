"""Page sessions in Redis, one per opened link, each with its CSRF token.

The first visit spends the link token and opens a session; the cookie (HttpOnly, scoped
to the link's own path) holds a random id and Redis only its SHA-256, so a copy of Redis
opens nothing. It is SameSite=Strict, except for HEADLESS pages: those are framed by the
business line's own site, where a Strict or Lax cookie is never sent, so theirs is
SameSite=None; Secure; Partitioned (kept apart per embedding site, and accepted by browsers
on https and on http://localhost or 127.0.0.1). Forms are guarded by the session's CSRF
token either way, and the cookie only works under the secret link's path. A session also stores the SHA-256 of the link
token and is only honoured under that link's URL. The intent token lives here, server
side: the browser never holds anything that could sign without its session.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from gateway.pages.problems import PageRefusal

COOKIE = "ec_sign"
LOCK_SECONDS = 180  # longer than a combined signing of several documents takes


def session_cookie(sid: str, path: str, max_age: int, *, embedded: bool, secure: bool) -> str:
    """The Set-Cookie value of a page session (built here: the standard library's cookie
    morsels know no ``Partitioned`` before Python 3.14)."""
    attributes = [f"{COOKIE}={sid}", f"Max-Age={max_age}", f"Path={path}", "HttpOnly"]
    if embedded:
        attributes += ["Secure", "SameSite=None", "Partitioned"]
    else:
        attributes += ["Secure"] * secure + ["SameSite=Strict"]
    return "; ".join(attributes)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Challenge:
    challenge_id: str
    method: str
    recipient: str  # masked
    expires_at: float
    resend_at: float = 0.0
    face_url: str = ""


@dataclass
class PageSession:
    sid: str
    token_hash: str
    csrf: str
    created: float
    contract_id: str  # the link's contract
    signer_id: str
    app_id: str  # the business line owning the contract: the caller of every service call
    source: str  # PC | H5
    scene: str  # NORMAL | HEADLESS
    sign_mode: str  # E_SIGN | AGREEMENT (empty until prepared)
    contract_ids: list[str]  # the link's contract first, then others of its group; empty until prepared
    config: dict[str, Any]  # PageConfig.to_mapping()
    policy: dict[str, Any]  # the app's intent policy, proto3 JSON
    lang: str = "zh"
    redirect_url: str = ""  # the link's own, overriding the business line's
    consented: bool = False
    challenge: Challenge | None = None
    intent_token: str = field(default="", repr=False)
    intent_expires: float = 0.0
    intent_methods: list[str] = field(default_factory=list)  # the methods intent_token covers
    intent_missing: list[str] = field(default_factory=list)  # methods still required before it can sign
    read_started: float | None = None
    outcome: str = ""  # SIGNED | REJECTED once finished

    def csrf_matches(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())

    def has_intent(self, now: float) -> bool:
        return bool(self.intent_token) and now < self.intent_expires and not self.intent_missing

    def forget_intent(self) -> None:
        self.challenge, self.intent_token, self.intent_expires = None, "", 0.0
        self.intent_methods, self.intent_missing = [], []

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> PageSession:
        data = json.loads(text)
        challenge = data.pop("challenge")
        return cls(**data, challenge=Challenge(**challenge) if challenge else None)


class SessionStore:
    def __init__(self, redis, prefix: str, idle: int, absolute: int):
        self._redis = redis
        self._prefix = prefix + "sign:session:"
        self.idle = idle
        self.absolute = absolute

    def _key(self, sid: str) -> str:
        return self._prefix + digest(sid)

    def new_ids(self) -> tuple[str, str]:
        return secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    async def find(self, sid: str | None, token: str) -> PageSession | None:
        """The session of this cookie, if it belongs to this link and has not run out."""
        if not sid:
            return None
        raw = await self._redis.get(self._key(sid))
        if raw is None:
            return None
        session = PageSession.from_json(raw)
        if not hmac.compare_digest(session.token_hash, digest(token)) or time.time() - session.created > self.absolute:
            return None
        return session

    async def save(self, session: PageSession) -> None:
        left = self.absolute - (time.time() - session.created)
        ttl = int(min(self.idle, left))
        if ttl > 0:
            await self._redis.set(self._key(session.sid), session.to_json(), ex=ttl)

    @asynccontextmanager
    async def lock(self, session: PageSession) -> AsyncIterator[None]:
        """One action at a time per session: a double click must not sign twice."""
        key = self._key(session.sid) + ":lock"
        if not await self._redis.set(key, "1", nx=True, ex=LOCK_SECONDS):
            raise PageRefusal("session.busy", grpc.StatusCode.ABORTED, http=409)
        try:
            yield
        finally:
            await self._redis.delete(key)
