"""The signing pages when the business line requires several intent methods: the signer is
walked through each in turn, the signature is offered only once all were confirmed, and
the contract is signed with the one token that covers them all."""
from __future__ import annotations

import base64

from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of
from tests.integration.pages.flow import Signer, code_for
from tests.integration.pages.test_signing_pages import _events, _link

PHOTO = "data:image/jpeg;base64," + base64.b64encode(b"a face").decode()


def _offered(page_text: str) -> list[str]:
    return [m for m in ("SMS", "EMAIL", "FACE") if f'name="method" value="{m}"' in page_text]


def test_sms_then_face_before_the_signature(business_line):
    line = business_line(intent_policy={"requiredMethods": ["SMS", "FACE"]})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = Signer(_link(line.client, contract))
    try:
        intent = page.post("consent", agree="on")
        assert _offered(intent.text) == ["SMS"] and 'data-testid="intent-done"' not in intent.text
        page.post("intent", method="SMS")
        after_sms = page.post("intent/confirm", code=code_for(line.client, person["mobile"]))
        assert after_sms.status_code == 200 and "意愿验证" in after_sms.text and "阅读并签署" not in after_sms.text
        assert _offered(after_sms.text) == ["FACE"]
        assert "已通过：短信验证码" in after_sms.text  # what is done so far, and that one more is needed
        refused = page.post("intent", method="SMS")  # not offered again: the page refuses it
        assert refused.status_code == 400 and "请选择一种可用的验证方式" in refused.text

        assert "data-face-input" in page.post("intent", method="FACE").text
        read = page.post("intent/face", photo=PHOTO)
        assert read.status_code == 200 and "阅读并签署" in read.text
        done = page.post("sign", appearance="default")
        assert done.status_code == 200 and "签署完成" in done.text
    finally:
        page.close()
    assert signer_of(ok(line.client.get(f"/v1/contracts/{contract['contractId']}")), "borrower")["status"] == "SIGNED"
    assert "signer.signed" in _events(line.client, contract["contractId"])


def test_sms_required_and_face_above_the_amount_are_asked_in_turn(business_line):
    line = business_line(intent_policy={"requiredMethods": ["SMS"], "faceAboveAmount": "1000"})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person], amount="50000.00")
    page = Signer(_link(line.client, contract))
    try:
        assert _offered(page.post("consent", agree="on").text) == ["SMS"]
        page.post("intent", method="SMS")
        after_sms = page.post("intent/confirm", code=code_for(line.client, person["mobile"]))
        assert _offered(after_sms.text) == ["FACE"] and "阅读并签署" not in after_sms.text
        page.post("intent", method="FACE")
        assert "阅读并签署" in page.post("intent/face", photo=PHOTO).text
        assert "签署完成" in page.post("sign", appearance="default").text
    finally:
        page.close()
