"""Choosing the sender of a one-time code."""
import datetime as dt

import pytest

from core.errors import FailedPrecondition
from services.identity.code_delivery import CodeDelivery
from services.identity.otp import Challenge
from services.identity.policy import IntentMethod
from services.identity.senders import Channel


class Recording:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return message.message_id


def challenge(method: IntentMethod, recipient: str) -> Challenge:
    now = dt.datetime.now(dt.UTC)
    return Challenge(id="ch_" + "a" * 24, subject_id="sub_1", signer_id="sg_1", contract_ids=("ct_1",),
                     document_hashes={"ct_1": ("0" * 64,)}, method=method, recipient=recipient, app_id="app_1",
                     expires_at=now, state="active", wrong_tries=0, sends=1, resend_at=now)


def test_a_channel_without_a_sender_is_refused_by_name():
    delivery = CodeDelivery({Channel.EMAIL: Recording()}, code_minutes=5)
    with pytest.raises(FailedPrecondition, match="no SMS sender configured"):
        delivery.sender(IntentMethod.SMS)
    with pytest.raises(FailedPrecondition):
        delivery.deliver(challenge(IntentMethod.SMS, "13800000000"), "123456")


def test_the_code_goes_to_the_channels_sender():
    sms, email = Recording(), Recording()
    delivery = CodeDelivery({Channel.SMS: sms, Channel.EMAIL: email}, code_minutes=5)
    delivery.deliver(challenge(IntentMethod.EMAIL, "a@example.com"), "654321")
    [message] = email.sent
    assert not sms.sent and message.recipient == "a@example.com" and message.code == "654321"
    assert "654321" in message.body and "5分钟" in message.body and message.challenge_id == "ch_" + "a" * 24
