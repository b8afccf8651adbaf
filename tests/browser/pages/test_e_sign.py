"""E_SIGN signers on the pages in headless Chromium: PC with an SMS code and a seal, H5 on
a phone with a handwritten signature, two contracts after one code, and forced reading
that holds the signature back until the time has passed and every contract was scrolled to
its end. Each signing is checked through REST afterwards."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages.signer import (
    draw_with_touch,
    newest_code,
    open_cloud_signing,
    read_to_the_end,
    scroll_to_the_end,
    sign_url,
    status_of,
    verify_by_sms,
    verify_document,
)
from tests.integration.contract.helpers import borrower, create_contract, lender, ok, signer_of


def test_pc_signing_with_an_sms_code_and_a_seal(business_line, open_page, shot):
    line = business_line(signing_page={"themeColor": "#E4393C"})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    seal = ok(line.client.post("/v1/seals:generate", {"subject": person["subject"], "style": "SQUARE_PERSONAL",
                                                      "text": person["name"], "name": "张三印"}))
    assert seal["isDefault"] is True  # the subject's first seal: the page offers it first
    page = open_page()
    page.goto(sign_url(line.client, contract))
    expect(page.get_by_test_id("platform-header")).to_be_visible()
    expect(page.get_by_role("button", name="同意并开通")).to_have_css("background-color", "rgb(228, 57, 60)")
    shot(page, "consent")
    open_cloud_signing(page)
    shot(page, "intent")
    verify_by_sms(page, line.client, person["mobile"])
    expect(page.get_by_role("heading", name="阅读并签署")).to_be_visible()
    expect(page.locator("img.doc-page").first).to_have_js_property("complete", True)
    seal_choice = page.get_by_role("radio", name="张三印")
    expect(seal_choice).to_be_checked()
    shot(page, "read-and-sign")
    page.get_by_role("button", name="确认签署").click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    shot(page, "signed")

    signed = status_of(line.client, contract["contractId"])
    assert signer_of(signed, "borrower")["status"] == "SIGNED" and signed["status"] == "SIGNING"
    report = verify_document(line.client, contract["contractId"])
    assert report["valid"] is True and [s["verdict"] for s in report["signatures"]] == ["VALID"]
    assert report["signatures"][0]["signer"] == person["name"]
    events = ok(line.client.get(f"/v1/contracts/{contract['contractId']}/events"))["events"]
    assert [e["type"] for e in events if e["type"].startswith("signer.")] == ["signer.viewed", "signer.consented",
                                                                             "signer.signed"]


def test_h5_signing_on_a_phone_with_a_handwritten_signature(business_line, open_page, shot):
    line = business_line()
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page(phone=True)
    page.goto(sign_url(line.client, contract, source="H5"))
    expect(page.locator("body")).to_have_class(re.compile("src-h5"))
    shot(page, "consent")
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    page.get_by_role("radio", name="手写签名").check()
    sign = page.get_by_role("button", name="确认签署")
    expect(sign).to_be_disabled()  # nothing drawn yet
    page.get_by_test_id("signature-pad").scroll_into_view_if_needed()
    draw_with_touch(page)
    expect(sign).to_be_enabled()
    # One column on a phone: the signing panel sits under the documents.
    documents, panel = page.locator("section.documents").bounding_box(), page.locator("aside.panel").bounding_box()
    assert panel["y"] >= documents["y"] + documents["height"] - 1 and panel["width"] <= 390
    shot(page, "handwriting-drawn")
    sign.click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    shot(page, "signed")

    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"
    report = verify_document(line.client, contract["contractId"])
    assert report["valid"] is True and report["signatures"][0]["verdict"] == "VALID"


def test_combined_signing_of_two_contracts_after_one_code(business_line, open_page, shot):
    line = business_line()
    page = open_page()
    person, first, second = open_two_contracts_of_one_group(line, page, "pages-combined-")
    expect(page.locator(".contract-list li")).to_have_text(["借款合同-张三", "担保合同-张三"])
    verify_by_sms(page, line.client, person["mobile"])
    expect(page.locator("[data-contract-item]")).to_have_count(2)
    expect(page.locator("article.contract h2")).to_have_text(["借款合同-张三", "担保合同-张三"])
    shot(page, "two-contracts")
    page.get_by_role("button", name="确认签署全部 2 份").click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    shot(page, "signed")

    for contract in (first, second):
        assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"
    _code, sent = newest_code(line.client, person["mobile"])
    assert sent == 1  # one code for both


def test_forced_reading_holds_the_signature_back(business_line, open_page, shot):
    line = business_line(signing_page={"forcedReading": True, "minReadingSeconds": 4, "showReject": True})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page()
    page.goto(sign_url(line.client, contract))
    open_cloud_signing(page)
    verify_by_sms(page, line.client, person["mobile"])
    sign = page.get_by_role("button", name="确认签署")
    expect(sign).to_be_disabled()
    expect(page.locator("[data-reading-timer]")).to_contain_text("秒")
    expect(page.locator("[data-read-mark]")).to_have_text("未读完")
    shot(page, "reading-required")

    # A POST straight to the server, as a script that skipped the page would send, is refused.
    csrf = page.locator("form[data-sign-form] input[name=csrf]").input_value()
    refused = page.request.post(page.url + "/sign", form={"csrf": csrf, "appearance": "default"}, max_redirects=0)
    assert refused.status == 400 and "阅读时间不足" in refused.text()
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "PENDING"

    # The reading time runs out without any scrolling: the button stays shut.
    wait_out_the_reading_time(page)
    expect(page.locator("[data-read-mark]")).to_have_text("未读完")
    expect(sign).to_be_disabled()
    shot(page, "time-passed-not-scrolled")

    read_to_the_end(page)
    expect(page.locator("[data-read-mark]")).to_have_text("已读")
    expect(sign).to_be_enabled()
    shot(page, "read")
    sign.click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"


def test_forced_reading_of_combined_contracts_needs_each_one_read(business_line, open_page, shot):
    line = business_line(signing_page={"forcedReading": True, "minReadingSeconds": 3})
    page = open_page()
    person, first, second = open_two_contracts_of_one_group(line, page, "pages-reading-")
    verify_by_sms(page, line.client, person["mobile"])
    sign = page.get_by_role("button", name="确认签署全部 2 份")
    marks = page.locator("[data-read-mark]")
    expect(marks).to_have_text(["未读完", "未读完"])
    wait_out_the_reading_time(page)

    scroll_to_the_end(page, page.get_by_test_id("viewer-1"))
    expect(marks).to_have_text(["已读", "未读完"])
    expect(sign).to_be_disabled()  # the second contract is still unread
    shot(page, "one-of-two-read")

    scroll_to_the_end(page, page.get_by_test_id("viewer-2"))
    expect(marks).to_have_text(["已读", "已读"])
    expect(sign).to_be_enabled()
    shot(page, "both-read")
    sign.click()
    expect(page.get_by_test_id("outcome")).to_have_text("签署完成")
    for contract in (first, second):
        assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"


def wait_out_the_reading_time(page) -> None:
    """Until the page's countdown has run out (its timer text clears as the time gate is reported)."""
    expect(page.locator("[data-reading-timer]")).to_have_text("", timeout=60000)


def open_two_contracts_of_one_group(line, page, group_prefix: str) -> tuple[dict, dict, dict]:
    """A loan and a guarantee contract for one borrower in one signing group (named ``group_prefix``
    and the borrower's mobile), the page opened at the first one's cloud-signing step."""
    person = borrower(order=1)
    group = group_prefix + person["mobile"]
    first = create_contract(line.client, line.template_id, groupId=group, signers=[lender(order=2), dict(person)],
                            title="借款合同-张三")
    second = create_contract(line.client, line.template_id, groupId=group, signers=[lender(order=2), dict(person)],
                             title="担保合同-张三")
    page.goto(sign_url(line.client, first))
    open_cloud_signing(page)
    return person, first, second
