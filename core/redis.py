"""Redis clients from ``REDIS_URL``, with keys under the configured namespace."""
from __future__ import annotations

import redis
import redis.asyncio

from core.settings import Settings


def make_redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def make_async_redis(settings: Settings) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)


def key(settings: Settings, *parts: str) -> str:
    return settings.redis_prefix + ":".join(parts)
