import pytest
import redis

from core.errors import FailedPrecondition, InvalidArgument
from services.identity.face import FakeFaceVerifier
from services.identity.senders import Channel, DevOutboxSender, code_message


def test_fake_face_verifier_refuses_outside_dev_mode():
    with pytest.raises(FailedPrecondition, match="dev mode"):
        FakeFaceVerifier(dev_mode=False)


def test_fake_face_verifier_passes_and_fails_by_configuration():
    ok = FakeFaceVerifier(dev_mode=True).verify(name="张三", id_number="110101199003074514", capture=b"frame")
    assert ok.passed and ok.liveness_passed and ok.provider == "FAKE"
    low = FakeFaceVerifier(dev_mode=True, similarity=0.5).verify(name="张三", id_number="x", capture=b"frame")
    assert low.liveness_passed and not low.passed
    spoof = FakeFaceVerifier(dev_mode=True, liveness_score=0.1).verify(name="张三", id_number="x", capture=b"frame")
    assert not spoof.liveness_passed and not spoof.passed
    with pytest.raises(InvalidArgument):
        FakeFaceVerifier(dev_mode=True).verify(name="张三", id_number="x", capture=b"")


def test_code_message_chinese_by_default():
    sms = code_message(Channel.SMS, "13800000000", "123456")
    assert sms.body == "【电子合同】您的验证码为123456，5分钟内有效，请勿泄露。"
    assert sms.subject == ""
    email = code_message("EMAIL", "a@example.com", "654321", minutes=10)
    assert email.subject == "【电子合同】签署验证码"
    assert "654321" in email.body and "10分钟" in email.body


def test_code_message_english_and_brand():
    msg = code_message(Channel.EMAIL, "a@example.com", "123456", language="en", brand="ACME Sign")
    assert msg.body == "[ACME Sign] Your verification code is 123456. It is valid for 5 minutes. Do not share it with anyone."
    assert msg.subject == "[ACME Sign] Your signing verification code"


def test_message_repr_hides_code_and_recipient():
    text = repr(code_message(Channel.SMS, "13800000000", "123456"))
    assert "123456" not in text and "13800000000" not in text


def test_dev_outbox_refuses_outside_dev_mode():
    client = redis.Redis(host="127.0.0.1", port=6379)  # never contacted: construction must fail first
    with pytest.raises(FailedPrecondition, match="only in dev mode"):
        DevOutboxSender(client, dev_mode=False)
