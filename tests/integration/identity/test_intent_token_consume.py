import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.identity.intent_tokens import (
    IntentClaims,
    IntentTokens,
    TokenAlreadyUsed,
    TokenExpired,
    TokenInvalid,
    TokenNotBound,
)
from services.identity.policy import IntentMethod

KEYS = {"k1": b"s" * 32}
DOC_1 = hashlib.sha256(b"contract one").hexdigest()
DOC_2 = hashlib.sha256(b"contract two").hexdigest()
ANNEX = hashlib.sha256(b"annex").hexdigest()


@pytest.fixture
def tokens(redis_client, namespace):
    return IntentTokens(KEYS, "k1", redis=redis_client, namespace=namespace)


def issue(tokens, ttl=300, now=None):
    claims = IntentClaims(
        subject_id="sub_1",
        signer_id="sg_1",
        documents={"ct_1": (DOC_1,), "ct_2": (DOC_2, ANNEX)},
        method=IntentMethod.SMS,
    )
    return tokens.issue(claims, ttl, now=now)


def test_consume_once_per_contract(tokens):
    token, _ = issue(tokens)
    claims = tokens.consume(token, "sg_1", "ct_1", DOC_1)
    assert claims.subject_id == "sub_1" and claims.method is IntentMethod.SMS
    with pytest.raises(TokenAlreadyUsed, match="already used for contract ct_1"):
        tokens.consume(token, "sg_1", "ct_1", DOC_1)
    # The other contract of a combined signing still takes it, once.
    tokens.consume(token, "sg_1", "ct_2", [DOC_2.upper(), ANNEX])
    with pytest.raises(TokenAlreadyUsed, match="ct_2"):
        tokens.consume(token, "sg_1", "ct_2", [DOC_2, ANNEX])


def test_every_document_of_the_contract_must_match(tokens):
    token, _ = issue(tokens)
    for wrong in ([DOC_2], [DOC_2, ANNEX, DOC_1], [DOC_2, DOC_2], [ANNEX, ANNEX]):
        with pytest.raises(TokenNotBound, match="document hash mismatch"):
            tokens.consume(token, "sg_1", "ct_2", wrong)
    tokens.consume(token, "sg_1", "ct_2", [ANNEX, DOC_2])  # order does not matter


def test_refusals_have_distinct_messages_and_do_not_burn_the_token(tokens):
    token, _ = issue(tokens)
    kid, payload, _ = token.split(".")
    other_sig = IntentTokens({"k1": b"t" * 32}, "k1").issue(
        IntentClaims("sub_1", "sg_1", {"ct_1": (DOC_1,)}, IntentMethod.SMS), 300
    )[0].split(".")[2]
    cases = [
        (PermissionDenied, lambda: tokens.consume(token, "sg_2", "ct_1", DOC_1), "intent token was issued to another signer"),
        (PermissionDenied, lambda: tokens.consume(token, "sg_1", "ct_9", DOC_1), "intent token does not cover contract ct_9"),
        (
            PermissionDenied,
            lambda: tokens.consume(token, "sg_1", "ct_1", DOC_2),
            "intent token was confirmed for other document content of contract ct_1 (document hash mismatch)",
        ),
        (
            PermissionDenied,
            lambda: tokens.consume(token, "sg_1", "ct_1", [DOC_1, DOC_2]),
            "intent token was confirmed for other document content of contract ct_1 (document hash mismatch)",
        ),
        (
            InvalidArgument,
            lambda: tokens.consume(f"{kid}.{payload}.{other_sig}", "sg_1", "ct_1", DOC_1),
            "intentToken: intent token signature is invalid",
        ),
        (InvalidArgument, lambda: tokens.consume("garbage", "sg_1", "ct_1", DOC_1), "intentToken: malformed intent token"),
    ]
    for kind, call, message in cases:
        with pytest.raises(kind) as err:
            call()
        assert err.value.message == message
    with pytest.raises(FailedPrecondition, match=r"^intent token expired at .*; verify intent again$"):
        tokens.consume(token, "sg_1", "ct_1", DOC_1, now=time.time() + 301)
    # None of the refusals consumed it.
    tokens.consume(token, "sg_1", "ct_1", DOC_1)


def test_error_types(tokens):
    token, _ = issue(tokens, now=time.time() - 400)
    with pytest.raises(TokenExpired):
        tokens.consume(token, "sg_1", "ct_1", DOC_1)
    with pytest.raises(TokenInvalid):
        tokens.consume("k1.e30.AAAA", "sg_1", "ct_1", DOC_1)
    fresh, _ = issue(tokens)
    with pytest.raises(TokenNotBound):
        tokens.consume(fresh, "sg_1", "ct_1", DOC_2)


def test_use_marker_expires_with_the_token(tokens, redis_client, namespace):
    token, claims = issue(tokens, ttl=120)
    tokens.consume(token, "sg_1", "ct_1", DOC_1)
    ttl = redis_client.ttl(f"{namespace}:intent:used:{claims.token_id}:ct_1")
    assert 120 < ttl <= 180


def test_parallel_consumes_of_one_contract_succeed_once(tokens):
    token, _ = issue(tokens)
    barrier = threading.Barrier(30)

    def attempt(_):
        barrier.wait()
        try:
            tokens.consume(token, "sg_1", "ct_1", DOC_1)
            return "ok"
        except TokenAlreadyUsed:
            return "used"

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(attempt, range(30)))
    assert results.count("ok") == 1 and results.count("used") == 29
