"""Login throttling: too many wrong passwords for one user name, or from one address, lock
further attempts for a while (whatever the password), so passwords cannot be guessed online.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.errors import ResourceExhausted


@dataclass(frozen=True)
class Limits:
    per_user: int
    per_ip: int
    window: int  # seconds failures are counted, and a lock lasts


class LoginLocked(ResourceExhausted):
    explained = True  # the page says how long to wait, in the reader's language

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, redis, prefix: str, limits: Limits):
        self._redis = redis
        self._prefix = prefix + "console:login-failures:"
        self._limits = limits

    def _keys(self, name: str, ip: str) -> tuple[str, str]:
        # Names are hashed so odd input never shapes a key.
        user = hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]
        return self._prefix + "user:" + user, self._prefix + "ip:" + ip

    async def check(self, name: str, ip: str) -> None:
        user_key, ip_key = self._keys(name, ip)
        counts = await self._redis.mget(user_key, ip_key)
        user_count, ip_count = (int(c or 0) for c in counts)
        if user_count >= self._limits.per_user or ip_count >= self._limits.per_ip:
            ttls = [await self._redis.ttl(k) for k in (user_key, ip_key)]
            raise LoginLocked(max(max(ttls), 1))

    async def failed(self, name: str, ip: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in self._keys(name, ip):
                pipe.incr(key)
                pipe.expire(key, self._limits.window, nx=True)
            await pipe.execute()

    async def succeeded(self, name: str, ip: str) -> None:
        await self._redis.delete(self._keys(name, ip)[0])
