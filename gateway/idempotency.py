"""``Idempotency-Key`` on POST: the same key and body return the first response again.

A record is claimed before the call (so two concurrent requests with one key cannot both
run) and completed with the response afterwards. Server-side failures (5xx) release the
claim, so the caller's retry can run for real.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from core.errors import Aborted, AlreadyExists, InvalidArgument

TTL = 24 * 3600
PENDING_TTL = 120
MAX_KEY = 128


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    media_type: str


def fingerprint(method: str, path_with_query: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path_with_query.encode(), body])).hexdigest()


class Idempotency:
    def __init__(self, redis, prefix: str):
        self._redis = redis
        self._prefix = prefix

    def _key(self, app_id: str, key: str) -> str:
        return f"{self._prefix}idem:{app_id}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def begin(self, app_id: str, key: str, request_hash: str) -> StoredResponse | None:
        """The stored response to replay, or None after claiming the key for this request."""
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise InvalidArgument(f"Idempotency-Key must be 1 to {MAX_KEY} printable characters")
        redis_key = self._key(app_id, key)
        claim = json.dumps({"hash": request_hash, "state": "pending"})
        if await self._redis.set(redis_key, claim, nx=True, ex=PENDING_TTL):
            return None
        raw = await self._redis.get(redis_key)
        if raw is None:  # expired between the two calls: claim again
            return await self.begin(app_id, key, request_hash)
        record = json.loads(raw)
        if record["hash"] != request_hash:
            raise AlreadyExists("this Idempotency-Key was used with a different request")
        if record["state"] == "pending":
            raise Aborted("a request with this Idempotency-Key is still in progress; retry shortly")
        return StoredResponse(record["status"], base64.b64decode(record["body"]), record["media_type"])

    async def finish(self, app_id: str, key: str, request_hash: str, response: StoredResponse) -> None:
        redis_key = self._key(app_id, key)
        if response.status >= 500:
            await self._redis.delete(redis_key)
            return
        record = {"hash": request_hash, "state": "done", "status": response.status,
                  "body": base64.b64encode(response.body).decode(), "media_type": response.media_type}
        await self._redis.set(redis_key, json.dumps(record), ex=TTL)

    async def abandon(self, app_id: str, key: str) -> None:
        await self._redis.delete(self._key(app_id, key))
