"""Per-app rate limits in Redis (GCRA: a smooth rate with a burst, one key per app).

GCRA keeps a single "theoretical arrival time" per app, so the check is one atomic script
and the answer includes exactly how long to wait (the Retry-After of a 429).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import ResourceExhausted

# KEYS[1] = the app's key; ARGV = emission interval (ms), burst tolerance (ms), now (ms)
_GCRA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return allow_at - now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + 1000))
return 0
"""


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs per_second > 0 and burst >= 1")


def rate_from_env(env=None) -> Rate:
    """``GATEWAY_RATE_LIMIT`` requests per second per app (default 100), ``GATEWAY_RATE_BURST`` (default 200)."""
    import os

    from core.settings import SettingsError

    env = os.environ if env is None else env
    try:
        return Rate(float(env.get("GATEWAY_RATE_LIMIT", "100")), int(env.get("GATEWAY_RATE_BURST", "200")))
    except ValueError as exc:
        raise SettingsError(f"GATEWAY_RATE_LIMIT / GATEWAY_RATE_BURST: {exc}") from None


class RateLimiter:
    def __init__(self, redis, prefix: str, default: Rate):
        self._redis = redis
        self._prefix = prefix
        self.default = default
        self._script = None

    async def check(self, app_id: str, now_ms: int, rate: Rate | None = None) -> None:
        """Count one request of ``app_id``; ResourceExhausted with the wait when over the limit."""
        rate = rate or self.default
        if self._script is None:
            self._script = self._redis.register_script(_GCRA)
        interval = 1000.0 / rate.per_second
        wait_ms = await self._script(
            keys=[f"{self._prefix}ratelimit:{app_id}"], args=[interval, interval * (rate.burst - 1), now_ms]
        )
        if float(wait_ms) > 0:
            raise RateLimited(math.ceil(float(wait_ms) / 1000))


class RateLimited(ResourceExhausted):
    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded; retry after {retry_after} s")
        self.retry_after = max(1, retry_after)
