"""Intent challenges confirmed by a face check instead of a one-time code, kept in Redis.

A FACE challenge binds the same things as a code challenge (subject, signer, contracts and
their document hashes, app) for ``ttl_seconds``. Each confirmation attempt is counted
before the face provider is asked, inside a Lua script, so concurrent attempts cannot
exceed ``max_tries``; a passed check spends the challenge atomically, so two passing
checks racing each other yield one token.

Key: ``{ns}:face:ch:{challengeId}`` — hash: subject_id, signer_id, app_id, signer_kind,
amount, person_subject_id (for an organisation, the legal representative or agent facing the
camera) and person_basis (how that person was recognised), contract_ids and document_hashes (JSON), expires_ms, attempts, state (active, used,
locked).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from redis import Redis

from core.errors import FailedPrecondition
from services.identity.otp import ChallengeLocked, ChallengeNotFound, ChallengeUsed

_CHALLENGE_ID_RE = re.compile(r"ch_[A-Za-z0-9_-]{16,64}")

# KEYS: challenge. ARGV: allowed tries. Counts one attempt, or says why none is allowed.
_BEGIN_LUA = """
local data = redis.call('HMGET', KEYS[1], 'state', 'attempts')
if not data[1] then return {'missing'} end
if data[1] ~= 'active' then return {data[1]} end
if tonumber(data[2]) >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'locked')
  return {'locked'}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'ok', tonumber(ARGV[1]) - attempts}
"""

# KEYS: challenge. ARGV: 'pass' or 'fail', allowed tries. Ends one attempt.
_FINISH_LUA = """
local data = redis.call('HMGET', KEYS[1], 'state', 'attempts')
if not data[1] then return {'missing'} end
if data[1] ~= 'active' then return {data[1]} end
if ARGV[1] == 'pass' then
  redis.call('HSET', KEYS[1], 'state', 'used')
  return {'ok'}
end
if tonumber(data[2]) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'locked')
  return {'locked'}
end
return {'failed'}
"""


@dataclass(frozen=True)
class FaceChallenge:
    id: str
    subject_id: str
    signer_id: str
    contract_ids: tuple[str, ...]
    document_hashes: Mapping[str, tuple[str, ...]]
    app_id: str
    expires_at: dt.datetime
    state: str
    attempts: int
    signer_kind: str = ""  # PERSON or ORG, for the policy at signing
    amount: str = ""  # the largest contract amount in yuan; empty when unknown
    person_subject_id: str = ""  # for an organisation: the person whose face is checked
    person_basis: str = ""  # how that person was recognised as one who may sign for it


@dataclass(frozen=True)
class FaceAttempt:
    """The outcome of one confirmation: ``passed`` spent the challenge; otherwise
    ``tries_left`` tells how many remain (0: the challenge is now locked)."""

    challenge: FaceChallenge
    passed: bool
    tries_left: int


class FaceChallenges:
    def __init__(self, redis: Redis, namespace: str, ttl_seconds: float = 300, max_tries: int = 3,
                 clock: Callable[[], float] = time.time):
        if ttl_seconds <= 0 or max_tries < 1:
            raise ValueError("face challenge lifetime and tries must be positive")
        self._redis = redis
        self._namespace = namespace
        self._ttl_ms = int(ttl_seconds * 1000)
        self._max_tries = max_tries
        self._clock = clock

    @cached_property
    def _begin_script(self) -> Any:
        return self._redis.register_script(_BEGIN_LUA)

    @cached_property
    def _finish_script(self) -> Any:
        return self._redis.register_script(_FINISH_LUA)

    def create(self, *, subject_id: str, signer_id: str, contract_ids: Sequence[str],
               document_hashes: Mapping[str, Sequence[str]], app_id: str = "", signer_kind: str = "",
               amount: str = "", person_subject_id: str = "", person_basis: str = "") -> FaceChallenge:
        challenge_id = "ch_" + secrets.token_urlsafe(18)
        key = self._key(challenge_id)
        fields = {
            "subject_id": subject_id,
            "signer_id": signer_id,
            "app_id": app_id,
            "signer_kind": signer_kind,
            "amount": amount,
            "person_subject_id": person_subject_id,
            "person_basis": person_basis,
            "contract_ids": json.dumps(list(contract_ids)),
            "document_hashes": json.dumps({c: list(h) for c, h in document_hashes.items()}),
            "expires_ms": str(int(self._clock() * 1000) + self._ttl_ms),
            "attempts": "0",
            "state": "active",
        }
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, self._ttl_ms)
        pipe.execute()
        return self.get(challenge_id)

    def exists(self, challenge_id: str) -> bool:
        return bool(_CHALLENGE_ID_RE.fullmatch(challenge_id)) and bool(self._redis.exists(self._key(challenge_id)))

    def get(self, challenge_id: str) -> FaceChallenge:
        raw = self._redis.hgetall(self._key(challenge_id)) if _CHALLENGE_ID_RE.fullmatch(challenge_id) else {}
        if not raw:
            raise ChallengeNotFound(f"challenge {challenge_id[:80]} does not exist or has expired")
        data = {_text(k): _text(v) for k, v in raw.items()}
        return FaceChallenge(
            id=challenge_id,
            subject_id=data["subject_id"],
            signer_id=data["signer_id"],
            contract_ids=tuple(json.loads(data["contract_ids"])),
            document_hashes={c: tuple(h) for c, h in json.loads(data["document_hashes"]).items()},
            app_id=data["app_id"],
            expires_at=dt.datetime.fromtimestamp(int(data["expires_ms"]) / 1000, dt.UTC),
            state=data["state"],
            attempts=int(data["attempts"]),
            signer_kind=data.get("signer_kind", ""),
            amount=data.get("amount", ""),
            person_subject_id=data.get("person_subject_id", ""),
            person_basis=data.get("person_basis", ""),
        )

    def attempt(self, challenge_id: str, check: Callable[[FaceChallenge], bool]) -> FaceAttempt:
        """Count an attempt, run ``check`` (the face provider), and spend the challenge when it passes."""
        challenge = self.get(challenge_id)
        key = self._key(challenge_id)
        begun = self._begin_script(keys=[key], args=[self._max_tries])
        if _text(begun[0]) != "ok":
            raise self._state_error(challenge_id, _text(begun[0]))
        tries_left = int(begun[1])
        passed = check(challenge)
        finished = _text(self._finish_script(keys=[key], args=["pass" if passed else "fail", self._max_tries])[0])
        if finished == "ok":
            return FaceAttempt(challenge, True, tries_left)
        if finished in ("failed", "locked") and not passed:
            return FaceAttempt(challenge, False, 0 if finished == "locked" else tries_left)
        raise self._state_error(challenge_id, finished)

    def _state_error(self, challenge_id: str, outcome: str) -> FailedPrecondition | ChallengeNotFound:
        if outcome == "locked":
            return ChallengeLocked(f"challenge {challenge_id} is locked after {self._max_tries} failed face checks; start a new one")
        if outcome == "used":
            return ChallengeUsed(f"challenge {challenge_id} was already confirmed")
        return ChallengeNotFound(f"challenge {challenge_id} does not exist or has expired")

    def _key(self, challenge_id: str) -> str:
        return f"{self._namespace}:face:ch:{challenge_id}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
