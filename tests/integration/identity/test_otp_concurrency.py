"""The OTP rules must hold when many requests hit the same challenge at once."""
import hashlib
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from services.identity.otp import (
    ChallengeLocked,
    ChallengeUsed,
    IntentChallenges,
    OtpSettings,
    SendLimited,
    WrongCode,
)

DOC = hashlib.sha256(b"contract pdf").hexdigest()
KEY = secrets.token_bytes(32)
N = 50


def make(redis_client, namespace, **overrides):
    return IntentChallenges(redis_client, KEY, OtpSettings(namespace=namespace, **overrides))


def start(challenges, recipient="13800000000"):
    return challenges.create(
        subject_id="sub_1", signer_id="sg_1", contract_ids=["ct_1"],
        document_hashes={"ct_1": DOC}, method="SMS", recipient=recipient,
    )


def all_at_once(calls: list[Callable[[], object]]) -> Counter:
    """Run every call in its own thread, released together; count outcomes by type."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            call()
            return "ok"
        except Exception as exc:  # the outcome is what we count
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return Counter(pool.map(run, calls))


def distinct_wrong_codes(code: str, n: int) -> list[str]:
    out = []
    candidate = int(code)
    while len(out) < n:
        candidate = (candidate + 7919) % 1_000_000
        if f"{candidate:06d}" != code:
            out.append(f"{candidate:06d}")
    return out


def test_fifty_parallel_wrong_guesses_count_at_most_five(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    cid = issued.challenge.id
    outcomes = all_at_once([lambda c=c: challenges.confirm(cid, c) for c in distinct_wrong_codes(issued.code, N)])
    assert outcomes == Counter({WrongCode.__name__: 4, ChallengeLocked.__name__: N - 4})
    state = challenges.get(cid)
    assert state.wrong_tries == 5
    assert state.state == "locked"
    try:
        challenges.confirm(cid, issued.code)
        raise AssertionError("the right code was accepted on a locked challenge")
    except ChallengeLocked:
        pass


def test_right_code_racing_wrong_ones_cannot_beat_the_limit(redis_client, namespace):
    for round_ in range(5):
        challenges = make(redis_client, f"{namespace}:{round_}")
        issued = start(challenges)
        cid = issued.challenge.id
        guesses = [*distinct_wrong_codes(issued.code, N - 1)]
        guesses.insert(round_ * 10, issued.code)
        calls = [lambda ch=challenges, cid=cid, c=c: ch.confirm(cid, c) for c in guesses]
        outcomes = all_at_once(calls)
        state = challenges.get(cid)
        assert state.wrong_tries <= 5
        assert outcomes["ok"] <= 1
        if outcomes["ok"]:
            # The right code won before the fifth wrong one; everything after saw it spent.
            assert state.state == "used" and state.wrong_tries < 5
            assert outcomes[WrongCode.__name__] == state.wrong_tries
        else:
            assert state.state == "locked" and state.wrong_tries == 5
        for key in redis_client.scan_iter(match=f"{namespace}:{round_}:*"):
            redis_client.delete(key)


def test_fifty_parallel_right_guesses_succeed_once(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    outcomes = all_at_once([lambda: challenges.confirm(issued.challenge.id, issued.code)] * N)
    assert outcomes == Counter({"ok": 1, ChallengeUsed.__name__: N - 1})


def test_parallel_resends_respect_the_cooldown(redis_client, namespace):
    challenges = make(redis_client, namespace, resend_cooldown_seconds=60)
    issued = start(challenges, recipient="13700000000")
    redis_client.delete(*redis_client.scan_iter(match=f"{namespace}:otp:cooldown:*"))  # let exactly one resend through
    outcomes = all_at_once([lambda: challenges.resend(issued.challenge.id)] * 20)
    assert outcomes == Counter({"ok": 1, SendLimited.__name__: 19})
    assert challenges.get(issued.challenge.id).sends == 2


def test_parallel_creates_respect_the_daily_cap(redis_client, namespace):
    challenges = make(redis_client, namespace, resend_cooldown_seconds=0, daily_cap_per_recipient=5)
    outcomes = all_at_once([lambda: start(challenges, recipient="13600000000")] * 30)
    assert outcomes == Counter({"ok": 5, SendLimited.__name__: 25})
