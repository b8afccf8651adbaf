"""The identity pieces together, as the RPC layer will use them: start a challenge, deliver
the code to the dev outbox, read it back, confirm, get a token, sign once."""
import hashlib
import re
import secrets

import pytest

from services.identity.intent_tokens import IntentClaims, IntentTokens, TokenAlreadyUsed, TokenNotBound
from services.identity.otp import IntentChallenges, OtpSettings, WrongCode
from services.identity.senders import Channel, DevOutboxSender, code_message

DOC = hashlib.sha256(b"%PDF-1.7 loan contract").hexdigest()
OTHER_DOC = hashlib.sha256(b"%PDF-1.7 something else").hexdigest()


def test_code_from_outbox_to_single_use_token(redis_client, namespace):
    challenges = IntentChallenges(redis_client, secrets.token_bytes(32), OtpSettings(namespace=namespace))
    outbox = DevOutboxSender(redis_client, dev_mode=True, namespace=namespace)
    tokens = IntentTokens({"k1": secrets.token_bytes(32)}, "k1", redis=redis_client, namespace=namespace)

    issued = challenges.create(
        subject_id="sub_1", signer_id="sg_1", contract_ids=["ct_1"],
        document_hashes={"ct_1": DOC}, method="SMS", recipient="13800000000", app_id="app_loans",
    )
    challenge_id = issued.challenge.id  # what POST /v1/intents returns
    outbox.send(code_message(Channel.SMS, issued.challenge.recipient, issued.code, challenge_id=challenge_id))
    del issued  # from here on the code is known only through the outbox

    [latest] = outbox.list_outbox("13800000000")
    assert latest.challenge_id == challenge_id
    code = re.search(r"验证码为(\d{6})", latest.body).group(1)
    assert code == latest.code
    with pytest.raises(WrongCode):
        challenges.confirm(challenge_id, f"{(int(code) + 1) % 1_000_000:06d}")
    confirmed = challenges.confirm(challenge_id, code)

    token, claims = tokens.issue(
        IntentClaims(
            subject_id=confirmed.subject_id,
            signer_id=confirmed.signer_id,
            documents=dict(confirmed.document_hashes),
            method=confirmed.method,
            challenge_id=confirmed.id,
            app_id=confirmed.app_id,
            recipient=confirmed.masked_recipient,
        ),
        ttl_seconds=300,
    )
    with pytest.raises(TokenNotBound):
        tokens.consume(token, "sg_1", "ct_1", OTHER_DOC)
    proven = tokens.consume(token, "sg_1", "ct_1", DOC)
    assert (proven.token_id, proven.challenge_id, proven.recipient) == (claims.token_id, challenge_id, "138****0000")
    assert proven.app_id == "app_loans"
    with pytest.raises(TokenAlreadyUsed):
        tokens.consume(token, "sg_1", "ct_1", DOC)
