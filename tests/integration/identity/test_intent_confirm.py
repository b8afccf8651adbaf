"""ConfirmIntent, ResendIntent and ConsumeIntentToken of the running service, on challenges
made directly with the otp domain (as CreateIntent would, without the contract service)."""
import hashlib
import re
import secrets

import grpc
import pytest

from core.masterkey import load_master_key
from econtract.common.v1 import common_pb2
from econtract.identity.v1 import identity_pb2 as pb
from services.identity.keys import OTP_CODES, ServiceKeys
from services.identity.otp import IntentChallenges, OtpSettings
from tests.integration.identity.platform import random_mobile

DOC = hashlib.sha256(b"%PDF-1.7 loan contract").hexdigest()
ANNEX = hashlib.sha256(b"%PDF-1.7 annex").hexdigest()
OTHER = hashlib.sha256(b"%PDF-1.7 something else").hexdigest()


@pytest.fixture(scope="module")
def challenges(mesh) -> IntentChallenges:
    """Challenges under the service's own Redis namespace and code key; no resend cooldown
    at creation, so the service's ResendIntent is allowed at once."""
    ctx = mesh.contexts["identity"]
    key = ServiceKeys(ctx.sessions, load_master_key(ctx.settings)).get(OTP_CODES)
    namespace = ctx.settings.redis_prefix.rstrip(":") + ":identity"
    return IntentChallenges(ctx.redis, key, OtpSettings(namespace=namespace, resend_cooldown_seconds=0))


def start(challenges, app_id: str, mobile: str | None = None, signer_id: str = "sg_1"):
    return challenges.create(
        subject_id="sub_1", signer_id=signer_id, contract_ids=["ct_1", "ct_2"],
        document_hashes={"ct_1": [DOC, ANNEX], "ct_2": DOC}, method="SMS",
        recipient=mobile or random_mobile(), app_id=app_id,
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def error_of(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_confirmed_code_gives_a_token_accepted_once_per_contract(identity_stub, challenges):
    issued = start(challenges, "app_grpc")
    confirmed = identity_stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=issued.challenge.id, code=issued.code))
    assert confirmed.signer_id == "sg_1" and list(confirmed.contract_ids) == ["ct_1", "ct_2"]
    assert confirmed.expire_time.seconds > 0
    token = confirmed.intent_token

    def consume(contract_id, hashes, signer="sg_1"):
        return identity_stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
            intent_token=token, signer_id=signer, contract_id=contract_id, document_sha256=hashes))

    assert error_of(lambda: consume("ct_1", [OTHER, ANNEX])).code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_of(lambda: consume("ct_1", [DOC])).code() == grpc.StatusCode.PERMISSION_DENIED  # an annex dropped
    assert error_of(lambda: consume("ct_1", [DOC, ANNEX], "sg_2")).code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_of(lambda: consume("ct_3", [DOC])).code() == grpc.StatusCode.PERMISSION_DENIED

    claims = consume("ct_1", [DOC, ANNEX]).claims
    assert (claims.signer_id, claims.subject_id, claims.app_id) == ("sg_1", "sub_1", "app_grpc")
    assert claims.challenge_id == issued.challenge.id and claims.method == common_pb2.SMS
    assert re.fullmatch(r"1\d\d\*\*\*\*\d{4}", claims.recipient)
    assert list(claims.document_hashes["ct_1"].sha256) == [DOC, ANNEX]
    assert claims.expire_time.seconds > claims.issue_time.seconds and claims.token_id.startswith("it_")

    again = error_of(lambda: consume("ct_1", [DOC, ANNEX]))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION and "already used" in again.details()
    assert consume("ct_2", [DOC]).claims.token_id == claims.token_id  # combined signing: the other contract once

    bad = error_of(lambda: identity_stub.ConsumeIntentToken(pb.ConsumeIntentTokenRequest(
        intent_token=token[:-4] + "AAAA", signer_id="sg_1", contract_id="ct_2", document_sha256=[DOC])))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_confirm_through_rest(client, challenges):
    issued = start(challenges, client.app_id)
    reply = client.post(f"/v1/intents/{issued.challenge.id}:confirm", {"code": issued.code})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["intentToken"].count(".") == 2 and body["signerId"] == "sg_1"
    assert body["contractIds"] == ["ct_1", "ct_2"] and body["expireTime"].endswith("Z")

    reuse = client.post(f"/v1/intents/{issued.challenge.id}:confirm", {"code": issued.code})
    assert reuse.status_code == 400 and reuse.json()["code"] == 9 and "once" in reuse.json()["message"]


def test_five_wrong_codes_lock_the_challenge_through_rest(client, challenges):
    issued = start(challenges, client.app_id)
    path = f"/v1/intents/{issued.challenge.id}:confirm"
    for left in (4, 3, 2, 1):
        reply = client.post(path, {"code": wrong(issued.code)})
        assert reply.status_code == 400 and reply.json()["code"] == 3
        assert f"{left} tries left" in reply.json()["message"]
    locked = client.post(path, {"code": wrong(issued.code)})
    assert locked.status_code == 400 and locked.json()["code"] == 9 and "locked" in locked.json()["message"]
    right_too_late = client.post(path, {"code": issued.code})
    assert right_too_late.status_code == 400 and "locked" in right_too_late.json()["message"]


def test_malformed_and_missing_codes(client, challenges):
    issued = start(challenges, client.app_id)
    path = f"/v1/intents/{issued.challenge.id}:confirm"
    assert client.post(path, {"code": "12ab56"}).status_code == 400
    missing = client.post(path, {})
    assert missing.status_code == 400 and "faceResult" in missing.json()["message"]
    # Neither counted as a wrong try: the right code still works.
    assert client.post(path, {"code": issued.code}).status_code == 200


def test_another_business_lines_challenge_looks_missing(client, challenges):
    issued = start(challenges, "app_someone_else")
    reply = client.post(f"/v1/intents/{issued.challenge.id}:confirm", {"code": issued.code})
    assert reply.status_code == 404
    unknown = client.post("/v1/intents/ch_" + secrets.token_urlsafe(18) + ":confirm", {"code": "123456"})
    assert unknown.status_code == 404


def test_resend_replaces_the_code_and_respects_the_cooldown(identity_stub, challenges, client):
    mobile = random_mobile()
    issued = start(challenges, "app_grpc", mobile)
    resent = identity_stub.ResendIntent(pb.ResendIntentRequest(challenge_id=issued.challenge.id))
    assert resent.challenge_id == issued.challenge.id and resent.recipient == mobile[:3] + "****" + mobile[-4:]
    assert 235 <= resent.expire_time.seconds - resent.resend_time.seconds <= 241  # 300 s life, 60 s cooldown

    [message] = client.get(f"/v1/dev/outbox?recipient={mobile}").json()["messages"]
    assert message["challengeId"] == issued.challenge.id and message["code"] in message["body"]
    if message["code"] != issued.code:  # one time in a million the new code equals the old
        old = error_of(lambda: identity_stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=issued.challenge.id,
                                                                                   code=issued.code)))
        assert old.code() == grpc.StatusCode.INVALID_ARGUMENT
    soon = error_of(lambda: identity_stub.ResendIntent(pb.ResendIntentRequest(challenge_id=issued.challenge.id)))
    assert soon.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "retry in" in soon.details()
    confirmed = identity_stub.ConfirmIntent(pb.ConfirmIntentRequest(challenge_id=issued.challenge.id, code=message["code"]))
    assert confirmed.intent_token
