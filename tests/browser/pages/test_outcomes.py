"""How signers finish on the pages: declining with a reason, agreeing by checkbox, and
going back to the business line with the outcome (at once, or after the success page)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.pages.signer import open_cloud_signing, sign_url, status_of, verify_by_sms, verify_document
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of

RETURN = "https://biz.example.test/return"


def _business_line_landing(page) -> list[str]:
    """The business line's return page, answered in the browser (no network): the URLs it got."""
    landed: list[str] = []

    def fulfil(route):
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8",
                      body="<!doctype html><title>业务方</title><h1>业务方页面</h1>")

    page.context.route(re.compile(r"^https://biz\.example\.test/.*"), fulfil)
    return landed


def _outcome(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_rejection_with_a_reason_returns_at_once(business_line, open_page, shot):
    line = business_line(signing_page={"showReject": True, "redirectUrl": RETURN + "?from=sign",
                                       "redirectMode": "IMMEDIATE"})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page()
    landed = _business_line_landing(page)
    page.goto(sign_url(line.client, contract))
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    page.get_by_text("拒签", exact=True).click()
    page.get_by_label("拒签原因").fill("借款金额与约定不符")
    shot(page, "reject-reason")
    page.get_by_role("button", name="确认拒签").click()
    page.wait_for_url(re.compile(r"^https://biz\.example\.test/return"))
    expect(page.get_by_role("heading", name="业务方页面")).to_be_visible()
    shot(page, "business-line")

    borrower_id = signer_of(contract, "borrower")["signerId"]
    assert _outcome(landed[-1]) == {"from": "sign", "contractId": contract["contractId"], "signerId": borrower_id,
                                    "status": "REJECTED"}
    rejected = status_of(line.client, contract["contractId"])
    assert rejected["status"] == "REJECTED" and rejected["statusReason"] == "借款金额与约定不符"
    assert signer_of(rejected, "borrower")["status"] == "REJECTED"
    assert signer_of(rejected, "borrower")["rejectReason"] == "借款金额与约定不符"


def test_agreement_checkbox_signing_in_an_embedded_page(business_line, open_page, shot):
    line = business_line()
    person = borrower(order=1, signMode="AGREEMENT")
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page(phone=True)
    page.goto(sign_url(line.client, contract, source="H5", scene="HEADLESS"))
    # No consent, no intent verification: straight to reading, and no platform frame when embedded.
    expect(page.get_by_role("heading", name="阅读并确认")).to_be_visible()
    expect(page.get_by_test_id("platform-header")).to_have_count(0)
    expect(page.get_by_test_id("platform-footer")).to_have_count(0)
    expect(page.locator("ol.steps li")).to_have_text([re.compile("阅读确认"), re.compile("完成")])
    agree = page.get_by_role("button", name="确认同意")
    expect(agree).to_be_disabled()
    page.get_by_label("我已阅读并同意以上合同的全部内容").check()
    expect(agree).to_be_enabled()
    shot(page, "agreement")
    agree.click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    shot(page, "agreed")

    agreed = status_of(line.client, contract["contractId"])
    assert signer_of(agreed, "borrower")["status"] == "SIGNED"
    events = ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    record = next(e for e in events if e["type"] == "signer.agreed")
    assert record["details"]["checkboxText"] == "我已阅读并同意以上合同的全部内容"
    assert record["details"]["pageUrl"].endswith("/sign/")  # the link's token stays out of the evidence
    assert verify_document(line.client, contract["contractId"])["valid"] is True


def test_the_success_page_then_back_to_the_business_line_with_the_outcome(business_line, open_page, shot):
    line = business_line(signing_page={"successPage": "感谢您的签署，款项将于一个工作日内到账。",
                                       "redirectMode": "DELAYED", "redirectDelaySeconds": 3})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page()
    landed = _business_line_landing(page)
    page.goto(sign_url(line.client, contract, redirectUrl=RETURN))  # the link's own return address
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    page.get_by_role("button", name="确认签署").click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    expect(page.get_by_text("感谢您的签署，款项将于一个工作日内到账。")).to_be_visible()
    expect(page.get_by_role("link", name="立即返回")).to_be_visible()
    shot(page, "success-page")
    page.wait_for_url(re.compile(r"^https://biz\.example\.test/return"), timeout=15000)

    assert _outcome(landed[-1]) == {"contractId": contract["contractId"],
                                    "signerId": signer_of(contract, "borrower")["signerId"], "status": "SIGNED"}
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"
