import datetime as dt
import hashlib
import secrets
import time

import pytest

from core.errors import InvalidArgument, NotFound
from services.identity.otp import (
    ChallengeLocked,
    ChallengeNotFound,
    ChallengeUsed,
    IntentChallenges,
    OtpSettings,
    SendLimited,
    WrongCode,
)
from services.identity.policy import IntentMethod

DOC = hashlib.sha256(b"contract pdf").hexdigest()
KEY = secrets.token_bytes(32)


def make(redis_client, namespace, **overrides):
    return IntentChallenges(redis_client, KEY, OtpSettings(namespace=namespace, **overrides))


def start(challenges, recipient="13800000000", method=IntentMethod.SMS):
    return challenges.create(
        subject_id="sub_1",
        signer_id="sg_1",
        contract_ids=["ct_1"],
        document_hashes={"ct_1": DOC},
        method=method,
        recipient=recipient,
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_correct_code_works_once(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    assert issued.challenge.id.startswith("ch_")
    assert len(issued.code) == 6 and issued.code.isdigit()
    confirmed = challenges.confirm(issued.challenge.id, issued.code)
    assert confirmed.signer_id == "sg_1"
    assert confirmed.contract_ids == ("ct_1",)
    assert confirmed.document_hashes == {"ct_1": (DOC,)}
    assert confirmed.method is IntentMethod.SMS
    assert confirmed.state == "used"
    with pytest.raises(ChallengeUsed, match="already confirmed"):
        challenges.confirm(issued.challenge.id, issued.code)


def test_code_is_stored_only_as_a_keyed_hash(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    stored = redis_client.hgetall(f"{namespace}:otp:ch:{issued.challenge.id}")
    values = [v.decode() for v in stored.values()]
    assert not any(issued.code in v for v in values)
    mac = stored[b"code_mac"].decode()
    assert len(mac) == 64
    assert mac != hashlib.sha256(issued.code.encode()).hexdigest()
    # Recipients appear only as HMAC tags in key names.
    keys = [k.decode() for k in redis_client.scan_iter(match=f"{namespace}:*")]
    assert keys and not any("13800000000" in k for k in keys)


def test_five_wrong_tries_lock_even_the_right_code(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    left = []
    for _ in range(4):
        with pytest.raises(WrongCode) as err:
            challenges.confirm(issued.challenge.id, wrong(issued.code))
        left.append(err.value.tries_left)
        assert err.value.violations[0].field == "code"
    assert left == [4, 3, 2, 1]
    with pytest.raises(ChallengeLocked, match="now locked after 5 wrong tries"):
        challenges.confirm(issued.challenge.id, wrong(issued.code))
    with pytest.raises(ChallengeLocked, match="is locked"):
        challenges.confirm(issued.challenge.id, issued.code)
    assert challenges.get(issued.challenge.id).wrong_tries == 5


def test_malformed_codes_are_refused_without_counting(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    for bad in ["", "12345", "1234567", "12a456", "１２３４５６"]:
        with pytest.raises(InvalidArgument, match="must be 6 digits"):
            challenges.confirm(issued.challenge.id, bad)
    assert challenges.get(issued.challenge.id).wrong_tries == 0
    assert challenges.confirm(issued.challenge.id, f" {issued.code} ").state == "used"


def test_expiry(redis_client, namespace):
    challenges = make(redis_client, namespace, code_ttl_seconds=0.4)
    issued = start(challenges)
    time.sleep(0.6)
    with pytest.raises(ChallengeNotFound, match="does not exist or has expired"):
        challenges.confirm(issued.challenge.id, issued.code)


def test_unknown_and_malformed_ids_are_not_found(redis_client, namespace):
    challenges = make(redis_client, namespace)
    with pytest.raises(NotFound):
        challenges.confirm("ch_" + "A" * 24, "123456")
    with pytest.raises(NotFound):
        challenges.confirm("ch_*", "123456")
    with pytest.raises(NotFound):
        challenges.resend("ch_" + "A" * 24)


def test_resend_invalidates_the_previous_code_and_keeps_the_tries(redis_client, namespace):
    challenges = make(redis_client, namespace, resend_cooldown_seconds=0)
    first = start(challenges)
    second = challenges.resend(first.challenge.id)
    while second.code == first.code:  # one in a million
        second = challenges.resend(first.challenge.id)
    assert second.challenge.sends >= 2
    with pytest.raises(WrongCode) as err:
        challenges.confirm(first.challenge.id, first.code)
    assert err.value.tries_left == 4
    assert challenges.confirm(first.challenge.id, second.code).state == "used"


def test_resend_renews_the_lifetime(redis_client, namespace):
    challenges = make(redis_client, namespace, code_ttl_seconds=0.8, resend_cooldown_seconds=0)
    first = start(challenges)
    time.sleep(0.5)
    second = challenges.resend(first.challenge.id)
    time.sleep(0.5)  # past the first code's lifetime, within the second's
    assert challenges.confirm(first.challenge.id, second.code).state == "used"


def test_resend_of_locked_or_used_challenge_is_refused(redis_client, namespace):
    challenges = make(redis_client, namespace, resend_cooldown_seconds=0, max_wrong_tries=1)
    locked = start(challenges)
    with pytest.raises(ChallengeLocked):
        challenges.confirm(locked.challenge.id, wrong(locked.code))
    with pytest.raises(ChallengeLocked):
        challenges.resend(locked.challenge.id)
    used = start(challenges)
    challenges.confirm(used.challenge.id, used.code)
    with pytest.raises(ChallengeUsed):
        challenges.resend(used.challenge.id)


def test_resend_cooldown_per_recipient(redis_client, namespace):
    challenges = make(redis_client, namespace)
    issued = start(challenges)
    with pytest.raises(SendLimited) as err:
        challenges.resend(issued.challenge.id)
    assert 59 <= err.value.retry_after_seconds <= 60
    resend_in = (issued.challenge.resend_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 58 <= resend_in <= 60
    assert f"retry in {err.value.retry_after_seconds} s" in err.value.message
    # A new challenge does not get round the cooldown of the same recipient ...
    with pytest.raises(SendLimited):
        start(challenges)
    # ... the same recipient written differently neither ...
    with pytest.raises(SendLimited):
        start(challenges, recipient="+86 138-0000-0000")
    # ... but another recipient is not affected.
    start(challenges, recipient="13900000000")
    # The refused resend did not replace the code.
    assert challenges.confirm(issued.challenge.id, issued.code).state == "used"


def test_daily_cap_per_recipient(redis_client, namespace):
    challenges = make(redis_client, namespace, resend_cooldown_seconds=0, daily_cap_per_recipient=3)
    issued = start(challenges, recipient="Li@Example.com", method=IntentMethod.EMAIL)
    challenges.resend(issued.challenge.id)
    assert challenges.get(issued.challenge.id).resend_at <= dt.datetime.now(dt.UTC)  # no cooldown configured
    challenges.resend(issued.challenge.id)
    with pytest.raises(SendLimited, match="daily limit") as err:
        challenges.resend(issued.challenge.id)
    assert 0 < err.value.retry_after_seconds <= 86_400
    wait = (challenges.get(issued.challenge.id).resend_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert abs(wait - err.value.retry_after_seconds) < 5
    with pytest.raises(SendLimited, match="daily limit"):
        start(challenges, recipient="li@example.com", method=IntentMethod.EMAIL)
    start(challenges, recipient="other@example.com", method=IntentMethod.EMAIL)


def test_input_is_validated(redis_client, namespace):
    challenges = make(redis_client, namespace)
    with pytest.raises(InvalidArgument, match="recipient"):
        start(challenges, recipient="12345")
    with pytest.raises(InvalidArgument, match="recipient"):
        start(challenges, recipient="not-an-email", method=IntentMethod.EMAIL)
    with pytest.raises(InvalidArgument, match="method"):
        start(challenges, method=IntentMethod.FACE)
    with pytest.raises(InvalidArgument, match="documentHashes"):
        challenges.create(
            subject_id="sub_1", signer_id="sg_1", contract_ids=["ct_1", "ct_2"],
            document_hashes={"ct_1": DOC}, method="SMS", recipient="13800000000",
        )
    with pytest.raises(InvalidArgument, match="documentHashes"):
        challenges.create(
            subject_id="sub_1", signer_id="sg_1", contract_ids=["ct_1"],
            document_hashes={"ct_1": "xyz"}, method="SMS", recipient="13800000000",
        )
    # Nothing was sent, so no cooldown started.
    start(challenges)


def test_combined_signing_challenge_keeps_every_binding(redis_client, namespace):
    challenges = make(redis_client, namespace)
    other = hashlib.sha256(b"annex").hexdigest()
    issued = challenges.create(
        subject_id="sub_1", signer_id="sg_1", contract_ids=["ct_1", "ct_2"],
        document_hashes={"ct_1": [DOC, other], "ct_2": DOC.upper()}, method="EMAIL", recipient="a@example.com",
    )
    got = challenges.confirm(issued.challenge.id, issued.code)
    assert got.contract_ids == ("ct_1", "ct_2")
    assert got.document_hashes == {"ct_1": (DOC, other), "ct_2": (DOC,)}
    assert got.masked_recipient == "a***@example.com"
