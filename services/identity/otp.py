"""Intent verification challenges with one-time codes (SMS, e-mail), kept in Redis.

Rules: a 6-digit code from ``secrets``; stored only as HMAC-SHA256 under a server key (a
plain hash of 10^6 possible codes is reversed offline in milliseconds); valid for 5 minutes
by default (``IDENTITY_OTP_TTL_SECONDS``); 5 wrong tries per challenge, then it is locked for
good — a later right code is refused too; a code works once; resending replaces the code
(the old one stops working) but does not reset the tries; a new challenge for the same
signer and recipient retires the one before it (its code stops working too); a recipient
gets at most one code per cooldown (60 s by default) and a daily cap of codes (the day ends
at local midnight, UTC+8 by default).

Every read-modify-write runs inside one Lua script, so concurrent requests on any number
of replicas cannot interleave: 50 simultaneous wrong guesses are counted one by one and
the sixth onwards find the challenge locked; a right code racing wrong ones either wins
before the limit or is refused after it.

Errors (``core.errors``): wrong code → INVALID_ARGUMENT with the tries left; locked →
FAILED_PRECONDITION (the caller's request is fine, the challenge's state forbids it; a new
challenge is the fix — PERMISSION_DENIED would wrongly suggest the caller lacks a right);
already confirmed → FAILED_PRECONDITION; expired or unknown → NOT_FOUND (an expired
challenge is deleted by Redis, so the two are indistinguishable); cooldown or daily cap →
RESOURCE_EXHAUSTED with the seconds to wait.

Redis keys, under the configurable namespace ``ns``:

* ``{ns}:otp:ch:{challengeId}`` — hash: subject_id, signer_id, app_id, contract_ids and
  document_hashes (JSON), method, recipient, signer_kind, amount, created_ms, expires_ms, code_mac (hex HMAC of
  the current code, emptied once used), attempts (wrong tries), sends, state (active, used,
  locked, replaced). TTL = code lifetime, renewed on resend; a used, locked or replaced
  challenge stays until then, so a late request gets a precise error.
* ``{ns}:otp:latest:{s}:{r}`` — the id of the newest challenge of signer ``s`` (an HMAC of
  the signer id) for recipient ``r``, TTL = code lifetime.
* ``{ns}:otp:cooldown:{r}`` — present while the recipient must wait, TTL = cooldown.
* ``{ns}:otp:daily:{r}:{YYYYMMDD}`` — codes sent to the recipient that local day, expires
  after the day ends.

``{r}`` is an HMAC of the normalised recipient, so key listings do not expose mobiles or
e-mail addresses. The keys of one operation are not hash-tagged together: this targets a
single Redis (or a primary with replicas), not Redis Cluster.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from redis import Redis

from core.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, ResourceExhausted, invalid
from services.identity.masking import mask_email, mask_mobile
from services.identity.policy import IntentMethod
from services.identity.realname import normalise_mobile

CODE_DIGITS = 6
_CHALLENGE_ID_RE = re.compile(r"ch_[A-Za-z0-9_-]{16,64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# Starts (create) or re-sends (resend) a challenge, after the recipient's rate limits.
# KEYS: challenge, cooldown, daily counter, the signer's latest challenge for the recipient.
# ARGV: mode, code mac, ttl ms, cooldown ms, daily cap, daily counter ttl ms, expires ms,
#       challenge key prefix, challenge id, then field/value pairs of a new challenge.
_SEND_LUA = """
local mode = ARGV[1]
if mode == 'resend' then
  local state = redis.call('HGET', KEYS[1], 'state')
  if not state then return {'missing'} end
  if state ~= 'active' then return {state} end
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists'}
end
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return {'cooldown', wait} end
local sent = tonumber(redis.call('GET', KEYS[3]) or '0')
if sent >= tonumber(ARGV[5]) then return {'daily'} end
local cooldown = tonumber(ARGV[4])
if cooldown > 0 then redis.call('SET', KEYS[2], '1', 'PX', cooldown) end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[6]) end
if mode == 'create' then
  local previous = redis.call('GET', KEYS[4])
  if previous and redis.call('HGET', ARGV[8] .. previous, 'state') == 'active' then
    redis.call('HSET', ARGV[8] .. previous, 'state', 'replaced', 'code_mac', '')
  end
  for i = 10, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  redis.call('HSET', KEYS[1], 'state', 'active', 'attempts', 0, 'sends', 1)
else
  redis.call('HINCRBY', KEYS[1], 'sends', 1)
end
redis.call('HSET', KEYS[1], 'code_mac', ARGV[2], 'expires_ms', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[4], ARGV[9], 'PX', ARGV[3])
return {'ok'}
"""

# Checks one guess. KEYS: challenge. ARGV: mac of the guess, wrong tries allowed.
# The attempt counter only grows here, one guess at a time, so it cannot pass the limit.
_VERIFY_LUA = """
local data = redis.call('HMGET', KEYS[1], 'state', 'code_mac', 'attempts')
if not data[1] then return {'missing'} end
if data[1] ~= 'active' then return {data[1]} end
local limit = tonumber(ARGV[2])
if tonumber(data[3]) >= limit then
  redis.call('HSET', KEYS[1], 'state', 'locked')
  return {'locked'}
end
if data[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'used', 'code_mac', '')
  return {'ok'}
end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts >= limit then
  redis.call('HSET', KEYS[1], 'state', 'locked')
  return {'locked_now'}
end
return {'wrong', limit - attempts}
"""


class WrongCode(InvalidArgument):
    def __init__(self, tries_left: int):
        super().__init__(
            f"code: wrong code; {tries_left} tries left",
            [FieldViolation("code", f"wrong code; {tries_left} tries left")],
        )
        self.tries_left = tries_left


class ChallengeLocked(FailedPrecondition):
    pass


class ChallengeUsed(FailedPrecondition):
    pass


class ChallengeReplaced(FailedPrecondition):
    pass


class ChallengeNotFound(NotFound):
    pass


class SendLimited(ResourceExhausted):
    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class OtpSettings:
    namespace: str = "econtract:identity"
    code_ttl_seconds: float = 300
    max_wrong_tries: int = 5
    resend_cooldown_seconds: float = 60
    daily_cap_per_recipient: int = 10
    day_utc_offset_hours: int = 8  # the daily cap resets at midnight of this offset

    def __post_init__(self) -> None:
        if not self.namespace or any(c.isspace() for c in self.namespace):
            raise ValueError("otp namespace must be a non-empty string without spaces")
        if self.code_ttl_seconds <= 0 or self.max_wrong_tries < 1 or self.daily_cap_per_recipient < 1:
            raise ValueError("otp code lifetime, wrong tries and daily cap must be positive")
        if self.resend_cooldown_seconds < 0 or not -12 <= self.day_utc_offset_hours <= 14:
            raise ValueError("otp cooldown must be >= 0 and the day offset a real UTC offset")


@dataclass(frozen=True)
class Challenge:
    id: str
    subject_id: str
    signer_id: str
    contract_ids: tuple[str, ...]
    document_hashes: Mapping[str, tuple[str, ...]]  # contract id → its documents' SHA-256
    method: IntentMethod
    recipient: str = field(repr=False)
    app_id: str  # the business line that started it, for the token's evidence
    expires_at: dt.datetime
    state: str  # active, used or locked
    wrong_tries: int
    sends: int
    resend_at: dt.datetime  # earliest time the recipient can be sent another code
    signer_kind: str = ""  # PERSON or ORG, for the policy at signing
    amount: str = ""  # the largest contract amount in yuan; empty when unknown

    @property
    def masked_recipient(self) -> str:
        return mask_email(self.recipient) if self.method is IntentMethod.EMAIL else mask_mobile(self.recipient)


@dataclass(frozen=True)
class IssuedCode:
    """A challenge and its fresh code, which exists only here: send it, then drop it."""

    challenge: Challenge
    code: str = field(repr=False)


def normalise_recipient(method: IntentMethod, recipient: str) -> str:
    if method is IntentMethod.SMS:
        mobile = normalise_mobile(recipient)
        if mobile is None:
            raise invalid("recipient", "not a mainland China mobile number")
        return mobile
    if method is IntentMethod.EMAIL:
        email = recipient.strip().lower()
        if not _EMAIL_RE.fullmatch(email):
            raise invalid("recipient", "not an e-mail address")
        return email
    raise invalid("method", f"{method} challenges do not use one-time codes")


class IntentChallenges:
    """One-time-code challenges. ``code_key`` is the server secret (>= 32 bytes) keying
    the code and recipient HMACs; rotating it invalidates outstanding challenges."""

    def __init__(
        self,
        redis: Redis,
        code_key: bytes,
        settings: OtpSettings | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if len(code_key) < 32:
            raise ValueError("otp code_key must be at least 32 bytes")
        self._redis = redis
        self._key = code_key
        self._settings = settings or OtpSettings()
        self._clock = clock

    # Registered on first use (redis-py loads them with SCRIPT LOAD on a NOSCRIPT miss).
    @cached_property
    def _send_script(self) -> Any:
        return self._redis.register_script(_SEND_LUA)

    @cached_property
    def _verify_script(self) -> Any:
        return self._redis.register_script(_VERIFY_LUA)

    def create(
        self,
        *,
        subject_id: str,
        signer_id: str,
        contract_ids: Sequence[str],
        document_hashes: Mapping[str, str | Sequence[str]],
        method: IntentMethod | str,
        recipient: str,
        app_id: str = "",
        signer_kind: str = "",
        amount: str = "",
    ) -> IssuedCode:
        """Start a challenge and return its first code; raises SendLimited when the recipient must wait."""
        method = _method(method)
        recipient = normalise_recipient(method, recipient)
        contracts, hashes = _bindings(contract_ids, document_hashes)
        if not subject_id or not signer_id:
            raise invalid("signerId" if not signer_id else "subjectId", "must not be empty")
        challenge_id = "ch_" + secrets.token_urlsafe(18)
        fields = {
            "subject_id": subject_id,
            "signer_id": signer_id,
            "contract_ids": json.dumps(list(contracts)),
            "document_hashes": json.dumps({c: list(h) for c, h in hashes.items()}),
            "method": method.value,
            "recipient": recipient,
            "app_id": app_id,
            "signer_kind": signer_kind,
            "amount": amount,
            "created_ms": str(int(self._clock() * 1000)),
        }
        extra = [item for pair in fields.items() for item in pair]
        code = self._send("create", challenge_id, recipient, extra, signer_id)
        return IssuedCode(self.get(challenge_id), code)

    def resend(self, challenge_id: str) -> IssuedCode:
        """Replace the challenge's code with a new one (the old code stops working)."""
        current = self.get(challenge_id)
        code = self._send("resend", challenge_id, current.recipient, [], current.signer_id)
        return IssuedCode(self.get(challenge_id), code)

    def confirm(self, challenge_id: str, code: str) -> Challenge:
        """Check a code; on success the challenge is spent and returned for token issuance."""
        key = self._challenge_key(challenge_id)
        guess = code.strip()
        if not (len(guess) == CODE_DIGITS and guess.isascii() and guess.isdigit()):
            # Not counted: a malformed guess cannot be right, so it gives an attacker nothing.
            raise invalid("code", f"must be {CODE_DIGITS} digits")
        result = self._verify_script(keys=[key], args=[self._code_mac(challenge_id, guess), self._settings.max_wrong_tries])
        outcome = _text(result[0])
        if outcome == "ok":
            return self.get(challenge_id)
        if outcome == "wrong":
            raise WrongCode(int(result[1]))
        if outcome == "locked_now":
            limit = self._settings.max_wrong_tries
            raise ChallengeLocked(
                f"wrong code; challenge {challenge_id} is now locked after {limit} wrong tries, start a new one"
            )
        raise self._state_error(challenge_id, outcome)

    def get(self, challenge_id: str) -> Challenge:
        raw = self._redis.hgetall(self._challenge_key(challenge_id))
        if not raw:
            raise ChallengeNotFound(f"challenge {challenge_id} does not exist or has expired")
        data = {_text(k): _text(v) for k, v in raw.items()}
        now = self._clock()
        r = self._recipient_tag(data["recipient"])
        pipe = self._redis.pipeline(transaction=False)
        pipe.pttl(self._key_for("cooldown", r))
        pipe.get(self._key_for("daily", r, self._local_day(now)))
        cooldown_ms, sent_today = pipe.execute()
        if int(sent_today or 0) >= self._settings.daily_cap_per_recipient:
            wait = self._seconds_to_local_midnight(now)
        else:
            wait = max(0, cooldown_ms) / 1000
        return Challenge(
            id=challenge_id,
            subject_id=data["subject_id"],
            signer_id=data["signer_id"],
            contract_ids=tuple(json.loads(data["contract_ids"])),
            document_hashes={c: tuple(h) for c, h in json.loads(data["document_hashes"]).items()},
            method=IntentMethod(data["method"]),
            recipient=data["recipient"],
            app_id=data.get("app_id", ""),
            signer_kind=data.get("signer_kind", ""),
            amount=data.get("amount", ""),
            expires_at=dt.datetime.fromtimestamp(int(data["expires_ms"]) / 1000, dt.UTC),
            state=data["state"],
            wrong_tries=int(data["attempts"]),
            sends=int(data["sends"]),
            resend_at=dt.datetime.fromtimestamp(now + wait, dt.UTC),
        )

    def _send(self, mode: str, challenge_id: str, recipient: str, extra: list[str], signer_id: str) -> str:
        s = self._settings
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        now = self._clock()
        ttl_ms = max(1, int(s.code_ttl_seconds * 1000))
        until_midnight = self._seconds_to_local_midnight(now)
        r = self._recipient_tag(recipient)
        keys = [self._challenge_key(challenge_id), self._key_for("cooldown", r), self._key_for("daily", r, self._local_day(now)),
                self._key_for("latest", self._signer_tag(signer_id), r)]
        result = self._send_script(
            keys=keys,
            args=[
                mode,
                self._code_mac(challenge_id, code),
                ttl_ms,
                int(s.resend_cooldown_seconds * 1000),
                s.daily_cap_per_recipient,
                int((until_midnight + 3600) * 1000),
                int(now * 1000) + ttl_ms,
                self._key_for("ch", ""),
                challenge_id,
                *extra,
            ],
        )
        outcome = _text(result[0])
        if outcome == "ok":
            return code
        if outcome == "cooldown":
            wait = max(1, -(-int(result[1]) // 1000))
            raise SendLimited(f"a code was sent to this recipient moments ago; retry in {wait} s", wait)
        if outcome == "daily":
            wait = max(1, int(until_midnight))
            raise SendLimited(
                f"this recipient has had {s.daily_cap_per_recipient} codes today, the daily limit; retry in {wait} s", wait
            )
        if outcome == "exists":  # 144 random bits collided: practically never
            raise FailedPrecondition("challenge id collision; retry")
        raise self._state_error(challenge_id, outcome)

    def _state_error(self, challenge_id: str, outcome: str) -> Exception:
        if outcome == "locked":
            return ChallengeLocked(
                f"challenge {challenge_id} is locked after {self._settings.max_wrong_tries} wrong tries; start a new one"
            )
        if outcome == "used":
            return ChallengeUsed(f"challenge {challenge_id} was already confirmed; a code works once")
        if outcome == "replaced":
            return ChallengeReplaced(
                f"challenge {challenge_id} was replaced by a newer code sent to the same recipient; use the latest code"
            )
        return ChallengeNotFound(f"challenge {challenge_id} does not exist or has expired")

    def _challenge_key(self, challenge_id: str) -> str:
        if not _CHALLENGE_ID_RE.fullmatch(challenge_id):
            raise ChallengeNotFound(f"challenge {challenge_id[:80]!r} does not exist")
        return self._key_for("ch", challenge_id)

    def _key_for(self, *parts: str) -> str:
        return ":".join((self._settings.namespace, "otp", *parts))

    def _code_mac(self, challenge_id: str, code: str) -> str:
        # Bound to the challenge id, so a stored MAC means nothing for another challenge.
        return hmac.new(self._key, f"otp-code\0{challenge_id}\0{code}".encode(), hashlib.sha256).hexdigest()

    def _signer_tag(self, signer_id: str) -> str:
        return hmac.new(self._key, f"otp-signer\0{signer_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def _recipient_tag(self, recipient: str) -> str:
        return hmac.new(self._key, f"otp-recipient\0{recipient}".encode(), hashlib.sha256).hexdigest()[:32]

    def _local_day(self, now: float) -> str:
        tz = dt.timezone(dt.timedelta(hours=self._settings.day_utc_offset_hours))
        return dt.datetime.fromtimestamp(now, tz).strftime("%Y%m%d")

    def _seconds_to_local_midnight(self, now: float) -> float:
        tz = dt.timezone(dt.timedelta(hours=self._settings.day_utc_offset_hours))
        local = dt.datetime.fromtimestamp(now, tz)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tz)
        return (midnight - local).total_seconds()


def _method(method: IntentMethod | str) -> IntentMethod:
    try:
        return IntentMethod(method)
    except ValueError:
        raise invalid("method", f"must be SMS or EMAIL, got {method!r}") from None


def _bindings(
    contract_ids: Sequence[str], document_hashes: Mapping[str, str | Sequence[str]]
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Validate that every contract has its document hashes, and nothing else does."""
    if isinstance(contract_ids, str) or not contract_ids:
        raise invalid("contractIds", "at least one contract id is required")
    contracts = tuple(contract_ids)
    if len(set(contracts)) != len(contracts) or any(not c for c in contracts):
        raise invalid("contractIds", "contract ids must be non-empty and distinct")
    if set(document_hashes) != set(contracts):
        raise invalid("documentHashes", "must give the document hashes of exactly the contracts in contractIds")
    hashes: dict[str, tuple[str, ...]] = {}
    for contract in contracts:
        given = document_hashes[contract]
        values = (given,) if isinstance(given, str) else tuple(given)
        values = tuple(v.lower() for v in values)
        if not values or not all(_SHA256_RE.fullmatch(v) for v in values):
            raise invalid("documentHashes", f"contract {contract}: need one or more lowercase hex SHA-256 values")
        hashes[contract] = values
    return contracts, hashes


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
