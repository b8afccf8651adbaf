import base64
import json

import pytest

from services.identity.intent_tokens import IntentClaims, IntentTokens, TokenExpired, TokenInvalid
from services.identity.policy import IntentMethod

K1, K2 = b"k" * 32, b"q" * 32
DOC = "a" * 64
NOW = 1_780_000_000


def claims():
    return IntentClaims(subject_id="sub_1", signer_id="sg_1", documents={"ct_1": (DOC,)}, method=IntentMethod.SMS)


def test_issue_then_verify_round_trip():
    tokens = IntentTokens({"k1": K1}, "k1")
    token, issued = tokens.issue(claims(), 300, now=NOW)
    assert token.startswith("k1.") and token.count(".") == 2
    assert issued.token_id.startswith("it_")
    assert (issued.issued_at, issued.expires_at) == (NOW, NOW + 300)
    got = tokens.verify(token, now=NOW + 299)
    assert got == issued
    assert got.contract_ids == ("ct_1",)


def test_expired():
    tokens = IntentTokens({"k1": K1}, "k1")
    token, _ = tokens.issue(claims(), 300, now=NOW)
    with pytest.raises(TokenExpired, match="intent token expired at"):
        tokens.verify(token, now=NOW + 300)


def test_tampered_claims_fail_the_signature():
    tokens = IntentTokens({"k1": K1}, "k1")
    token, _ = tokens.issue(claims(), 300, now=NOW)
    kid, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sgn"] = "sg_attacker"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid, match="signature is invalid"):
        tokens.verify(f"{kid}.{forged}.{sig}", now=NOW)


def test_other_key_and_unknown_key():
    token, _ = IntentTokens({"k1": K2}, "k1").issue(claims(), 300, now=NOW)
    with pytest.raises(TokenInvalid, match="signature is invalid"):
        IntentTokens({"k1": K1}, "k1").verify(token, now=NOW)
    token, _ = IntentTokens({"k9": K1}, "k9").issue(claims(), 300, now=NOW)
    with pytest.raises(TokenInvalid, match="unknown key 'k9'"):
        IntentTokens({"k1": K1}, "k1").verify(token, now=NOW)


def test_key_rotation_old_key_still_verifies():
    old, _ = IntentTokens({"k1": K1}, "k1").issue(claims(), 300, now=NOW)
    rotated = IntentTokens({"k1": K1, "k2": K2}, "k2")
    assert rotated.verify(old, now=NOW).signer_id == "sg_1"
    new, _ = rotated.issue(claims(), 300, now=NOW)
    assert new.startswith("k2.")


@pytest.mark.parametrize("bad", ["", "abc", "k1.abc", "k1.a.b.c", "k 1.a.b", "k1.a.!!", "k1..", "x" * 20000])
def test_malformed(bad):
    with pytest.raises(TokenInvalid, match="malformed intent token"):
        IntentTokens({"k1": K1, "x" * 20: K1}, "k1").verify(bad, now=NOW)


def test_issue_refuses_bad_claims_and_ttl():
    tokens = IntentTokens({"k1": K1}, "k1")
    with pytest.raises(ValueError):
        tokens.issue(claims(), 0)
    with pytest.raises(ValueError):
        tokens.issue(claims(), 3600)
    with pytest.raises(ValueError):
        tokens.issue(IntentClaims("sub", "sg", {"ct": ("NOT-HEX",)}, IntentMethod.SMS), 60)


def test_short_keys_refused():
    with pytest.raises(ValueError):
        IntentTokens({"k1": b"short"}, "k1")


def test_evidence_claims_round_trip_and_are_signed():
    tokens = IntentTokens({"k1": K1}, "k1")
    full = IntentClaims(
        subject_id="sub_1", signer_id="sg_1", documents={"ct_1": (DOC,), "ct_2": (DOC, "b" * 64)},
        method=IntentMethod.FACE, challenge_id="ch_x", app_id="app_1", face_reference="face-9",
    )
    token, issued = tokens.issue(full, 60, now=NOW)
    got = tokens.verify(token, now=NOW)
    assert got == issued
    assert (got.challenge_id, got.app_id, got.recipient, got.face_reference) == ("ch_x", "app_1", "", "face-9")
    assert got.contract_ids == ("ct_1", "ct_2")
    assert got.documents["ct_2"] == (DOC, "b" * 64)


def test_a_token_carries_every_confirmed_method():
    tokens = IntentTokens({"k1": K1}, "k1")
    several = IntentClaims(subject_id="sub_1", signer_id="sg_1", documents={"ct_1": (DOC,)}, method=IntentMethod.FACE,
                           methods=(IntentMethod.SMS,), signer_kind="PERSON", amount="120000.00")
    token, issued = tokens.issue(several, 300, now=NOW)
    got = tokens.verify(token, now=NOW)
    assert got.all_methods == (IntentMethod.FACE, IntentMethod.SMS) == issued.all_methods
    assert (got.signer_kind, got.amount) == ("PERSON", "120000.00")


def test_a_single_method_token_without_a_method_list_still_reads():
    # The form of tokens issued before a token could carry several methods.
    body = {"v": 1, "jti": "it_old", "sub": "sub_1", "sgn": "sg_1", "docs": {"ct_1": [DOC]}, "mth": "EMAIL",
            "iat": NOW, "exp": NOW + 300}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    tokens = IntentTokens({"k1": K1}, "k1")
    signature = base64.urlsafe_b64encode(tokens._mac("k1", f"k1.{payload}")).rstrip(b"=").decode()
    got = tokens.verify(f"k1.{payload}.{signature}", now=NOW)
    assert got.all_methods == (IntentMethod.EMAIL,) and got.signer_kind == ""
