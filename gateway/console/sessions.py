"""Console sessions in Redis, each with its CSRF token.

The cookie holds a random id; Redis keys hold only its SHA-256, so a copy of Redis gives
no one a live session. A session ends after ``idle`` seconds without a request or
``absolute`` seconds after it began, whichever comes first. Visitors who have not logged
in get an anonymous session too, so the login form is CSRF-protected like every other;
logging in replaces it with a new id (no session fixation).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field

COOKIE = "ec_console"
ANONYMOUS_IDLE = 3600


@dataclass
class Session:
    sid: str
    csrf: str
    created: float
    seen: float
    user_id: str = ""
    stamp: str = ""  # the user's credential stamp at login
    flash: dict | None = None
    changed: bool = field(default=False, repr=False)

    def take_flash(self) -> dict | None:
        flash, self.flash = self.flash, None
        if flash is not None:
            self.changed = True
        return flash

    def put_flash(self, kind: str, message: str, detail: str = "", values: dict | None = None) -> None:
        self.flash = {"kind": kind, "message": message, "detail": detail, "values": values or {}}
        self.changed = True

    def csrf_matches(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionStore:
    def __init__(self, redis, prefix: str, idle: int, absolute: int):
        self._redis = redis
        self._prefix = prefix + "console:session:"
        self.idle = idle
        self.absolute = absolute

    def _key(self, sid: str) -> str:
        return self._prefix + hashlib.sha256(sid.encode()).hexdigest()

    async def new(self, user_id: str = "", stamp: str = "") -> Session:
        now = time.time()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, user_id, stamp)
        await self.save(session)
        return session

    async def load(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        raw = await self._redis.get(self._key(sid))
        if raw is None:
            return None
        data = json.loads(raw)
        session = Session(sid=sid, **{k: data[k] for k in ("csrf", "created", "seen", "user_id", "stamp", "flash")})
        now = time.time()
        idle = self.idle if session.user_id else ANONYMOUS_IDLE
        if now - session.seen > idle or now - session.created > self.absolute:
            await self.drop(session)
            return None
        session.seen = now
        session.changed = True
        return session

    async def save(self, session: Session) -> None:
        idle = self.idle if session.user_id else ANONYMOUS_IDLE
        remaining = session.created + self.absolute - time.time()
        ttl = int(min(idle, remaining)) + 1
        if ttl <= 1:
            await self.drop(session)
            return
        body = {k: v for k, v in asdict(session).items() if k not in ("sid", "changed")}
        await self._redis.set(self._key(session.sid), json.dumps(body, ensure_ascii=False), ex=ttl)
        session.changed = False

    async def drop(self, session: Session) -> None:
        await self._redis.delete(self._key(session.sid))
