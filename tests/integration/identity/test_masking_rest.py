"""No error the identity service answers through REST carries a full ID number, mobile or
e-mail address, even when the caller put one where it is echoed back."""
import logging

import pytest

from services.identity.masking import MaskingFilter

ID_NUMBER = "110101199003074514"
MOBILE = "13800000000"
EMAIL = "zhang.san@example.com"


@pytest.mark.parametrize(
    ("echoed", "masked"),
    [(ID_NUMBER, "110101********4514"), (MOBILE, "138****0000"), (EMAIL, "z***@example.com")],
)
def test_identifiers_echoed_from_the_path_are_masked_in_errors(client, echoed, masked):
    # An unknown challenge id is named in the error; here it is someone's identifier.
    reply = client.post(f"/v1/intents/{echoed}:confirm", {"code": "123456"})
    assert reply.status_code == 404, reply.text
    assert echoed not in reply.text and masked in reply.json()["message"]


def test_identifiers_in_a_verification_reason_are_masked(client):
    reply = client.post("/v1/identities:verifyPerson", {"name": "张三", "idNumber": ID_NUMBER[:-1] + "3", "mobile": "12"})
    assert reply.status_code == 200 and reply.json()["reason"]
    assert ID_NUMBER[:-1] + "3" not in reply.text


def test_the_service_wiring_installed_log_masking(mesh):
    assert any(isinstance(f, MaskingFilter) for f in logging.getLogger().filters)
