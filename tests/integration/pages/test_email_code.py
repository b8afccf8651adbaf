"""A business line that allows only e-mail codes: the signer's page sends the code to the
signer's address (the dev outbox stands in for SMTP) and signing follows its confirmation."""
from __future__ import annotations

from urllib.parse import urlencode

from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of
from tests.integration.pages.flow import Signer


def _link(client, contract: dict) -> str:
    body = {"signerId": signer_of(contract, "borrower")["signerId"], "source": "PC", "scene": "NORMAL"}
    return ok(client.post(f"/v1/contracts/{contract['contractId']}:signUrl", body))["url"]


def _outbox(client, recipient: str) -> list[dict]:
    return ok(client.get("/v1/dev/outbox?" + urlencode({"recipient": recipient}))).get("messages", [])


def test_a_signer_confirms_the_emailed_code_on_the_page(business_line):
    line = business_line(intent_policy={"allowedMethods": ["EMAIL"]})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = Signer(_link(line.client, contract))
    try:
        intent = page.post("consent", agree="on")
        assert 'name="method" value="EMAIL"' in intent.text
        assert 'value="SMS"' not in intent.text and 'value="FACE"' not in intent.text  # only what the policy allows
        masked = person["email"][0] + "***@example.com"
        refused = page.post("intent", method="SMS")  # a hand-made form asking for SMS anyway
        assert refused.status_code == 400 and "请选择一种可用的验证方式" in refused.text
        assert 'data-testid="code-sent"' not in refused.text and _outbox(line.client, person["mobile"]) == []

        sent = page.post("intent", method="EMAIL")
        assert f"验证码已发送至 {masked}" in sent.text and person["email"] not in sent.text
        [message] = _outbox(line.client, person["email"])
        assert message["channel"] == "EMAIL" and message["code"] and message["code"] in message["body"]
        wrong = page.post("intent/confirm", code="000000" if message["code"] != "000000" else "111111")
        assert "阅读并签署" not in wrong.text and 'data-testid="code-sent"' in wrong.text
        read = page.post("intent/confirm", code=message["code"])
        assert "阅读并签署" in read.text
        done = page.post("sign", appearance="default")
        assert done.status_code == 200 and "签署完成" in done.text
    finally:
        page.close()

    fetched = ok(line.client.get(f"/v1/contracts/{contract['contractId']}"))
    assert signer_of(fetched, "borrower")["status"] == "SIGNED"
    events = ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    verified = next(e for e in events if e["type"] == "intent.verified")
    assert verified["details"]["method"] == "EMAIL" and verified["details"]["challengeId"] == message["challengeId"]
