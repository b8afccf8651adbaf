"""The revocation counter the signing replicas share, in Redis (``pki.RevocationEpoch``).

Each replica caches the CRLs and OCSP answers it builds; a revocation on one replica
increments this counter, and every replica reads it (one GET) before serving a cached
answer, so none serves an answer built before the revocation. When Redis cannot be read
the cache is bypassed (answers are rebuilt from the registry), never trusted blindly.
"""
from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)


class RedisRevocationEpoch:
    def __init__(self, client: redis.Redis, key: str):
        self._redis = client
        self._key = key

    def current(self) -> str | None:
        try:
            value = self._redis.get(self._key)
        except redis.RedisError as exc:
            log.warning("revocation epoch unreadable (%s): status answers are rebuilt, not cached", type(exc).__name__)
            return None
        return value.decode() if value is not None else "0"

    def advance(self) -> None:
        try:
            self._redis.incr(self._key)
        except redis.RedisError as exc:
            # The revocation itself is recorded; the others see it once their cache runs out.
            log.error("revocation epoch not advanced (%s): other replicas may serve cached status for up to "
                      "SIGNING_STATUS_CACHE_SECONDS", type(exc).__name__)
