import datetime as dt

import pytest

from core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.signing.intent import IntentClaims, check_intent

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
HASH = "ab" * 32


def _claims(**changes) -> IntentClaims:
    values = dict(token_id="tok_1", app_id="app_1", signer_id="sg_1", subject_id="sub_1",
                  contract_ids=("ct_1", "ct_2"), document_hashes={"ct_1": (HASH,), "ct_2": ("cd" * 32,)},
                  method="SMS", expire_time=NOW + dt.timedelta(minutes=5))
    values.update(changes)
    return IntentClaims(**values)


def _check(claims, **changes):
    values = dict(contract_id="ct_1", document_sha256=HASH, signer_id="sg_1", subject_id="sub_1", now=NOW)
    values.update(changes)
    return check_intent(claims, **values)


def test_claims_that_match_are_returned():
    claims = _claims()
    assert _check(claims) is claims
    assert _check(claims, document_sha256=HASH.upper()) is claims  # hex case does not matter


@pytest.mark.parametrize("claims, changes, error, words", [
    (None, {}, PermissionDenied, "none were given"),
    (_claims(token_id=""), {}, PermissionDenied, "none were given"),
    (_claims(), {"contract_id": "ct_9"}, PermissionDenied, "does not cover contract ct_9"),
    (_claims(), {"signer_id": "sg_2"}, PermissionDenied, "another signer"),
    (_claims(), {"subject_id": "sub_2"}, PermissionDenied, "another subject"),
    (_claims(expire_time=NOW), {}, FailedPrecondition, "expired"),
    (_claims(expire_time=None), {}, FailedPrecondition, "expired"),
    (_claims(), {"document_sha256": "00" * 32}, FailedPrecondition, "changed after the intent was confirmed"),
    (_claims(), {"contract_id": "ct_2"}, FailedPrecondition, "is not one the signer confirmed"),
    (_claims(), {"contract_id": ""}, InvalidArgument, "contractId"),
])
def test_each_mismatch_is_refused_with_its_reason(claims, changes, error, words):
    with pytest.raises(error, match=words):
        _check(claims, **changes)


def test_digest_is_stable_and_covers_every_claim():
    claims = _claims(issue_time=NOW)
    assert claims.digest() == _claims(issue_time=NOW).digest()
    assert claims.digest() != _claims(issue_time=NOW, method="FACE").digest()
    assert claims.to_json()["documentHashes"] == {"ct_1": [HASH], "ct_2": ["cd" * 32]}
