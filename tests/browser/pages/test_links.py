"""Links that no longer open a signing page: spent or expired. The signer sees a clear
page in Chinese (or English), never an error trace."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.browser.pages.signer import open_cloud_signing, sign_url
from tests.integration.contract.helpers import borrower, create_contract, lender


def test_a_used_link_shows_a_clear_page(business_line, open_page, shot):
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = sign_url(line.client, contract)
    first = open_page()
    first.goto(url)
    expect(first.get_by_role("heading", name="开通云签服务")).to_be_visible()
    first.reload()  # the browser that opened it keeps its page session
    expect(first.get_by_role("heading", name="开通云签服务")).to_be_visible()

    other = open_page(phone=True)
    response = other.goto(url)
    assert response is not None and response.status == 410
    expect(other.get_by_test_id("problem")).to_have_text("此签署链接已使用")
    expect(other.get_by_text("请联系业务方重新获取链接")).to_be_visible()
    shot(other, "used-zh")
    other.get_by_role("link", name="English").click()
    expect(other.get_by_test_id("problem")).to_have_text("This signing link was already used")
    expect(other.locator("body")).not_to_contain_text("Traceback")
    shot(other, "used-en")


def test_an_expired_link_shows_a_clear_page(business_line, open_page, shot):
    line = business_line()
    closes = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)],
                               expireTime=closes)
    url = sign_url(line.client, contract)  # a link never outlives its contract
    time.sleep(4)
    page = open_page()
    response = page.goto(url)
    assert response is not None and response.status == 410
    expect(page.get_by_test_id("problem")).to_have_text("此签署链接已过期")
    expect(page.get_by_text("请联系业务方重新获取签署链接")).to_be_visible()
    shot(page, "expired")


def test_a_link_on_the_business_lines_page_survives_a_reload(business_line, open_page, shot):
    """Arriving from another site, the page reloads itself once so that its SameSite=Strict
    cookie goes with later loads: a reload must not find the link spent."""
    line = business_line()
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    url = sign_url(line.client, contract)
    page = open_page()
    page.context.route(re.compile(r"^https://biz\.example\.test/.*"), lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=f'<!doctype html><a href="{url}">去签署</a>'))
    page.goto("https://biz.example.test/orders/42")
    page.get_by_role("link", name="去签署").click()
    expect(page.get_by_role("heading", name="开通云签服务")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="开通云签服务")).to_be_visible()
    open_cloud_signing(page)
    expect(page.get_by_role("heading", name="意愿验证")).to_be_visible()
    shot(page, "after-reload")
