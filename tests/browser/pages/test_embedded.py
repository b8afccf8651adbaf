"""HEADLESS pages framed by a business line's own site, which is another site than the
platform's: the page at http://localhost:<port> embeds the link from http://127.0.0.1:<port>.
The signer goes through every step inside the frame, and a reload there resumes the page
instead of finding the one-time link spent. A site the business line did not list cannot
frame the page at all."""
from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.pages.signer import open_cloud_signing, sign_url, status_of, verify_by_sms, verify_document
from tests.integration.contract.helpers import borrower, create_contract, lender, signer_of


class _Embedder(BaseHTTPRequestHandler):
    """Answers every GET with a page framing the URL in ``?src=`` (the business line's page)."""

    def do_GET(self):  # noqa: N802 - the http.server name
        src = self.path.partition("?src=")[2]
        body = (f'<!doctype html><meta charset="utf-8"><title>业务方</title><h1>业务方页面</h1>'
                f'<iframe src="{html.escape(src)}" width="1200" height="800"></iframe>').encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def embedding_site() -> Iterator[Callable[[], str]]:
    """``embedding_site()``: the origin (http://localhost:<port>) of a new site framing any URL."""
    servers = []

    def make() -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Embedder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}"

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def _embedded_link(client, contract) -> str:
    url = sign_url(client, contract, scene="HEADLESS")
    assert urlsplit(url).hostname == "127.0.0.1"  # another site than the embedding localhost
    return url


def test_a_headless_page_framed_by_another_site_signs(business_line, open_page, embedding_site, shot):
    site = embedding_site()
    line = business_line(signing_page={"frameAncestors": [site]})
    person = borrower(order=1)
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), person])
    page = open_page()
    page.goto(f"{site}/contracts?src={_embedded_link(line.client, contract)}")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_test_id("platform-header")).to_have_count(0)
    open_cloud_signing(frame)
    expect(frame.get_by_role("heading", name="意愿验证")).to_be_visible()

    # The business line's page reloads: the frame opens the same link again and resumes.
    page.reload()
    expect(frame.get_by_role("heading", name="意愿验证")).to_be_visible()
    shot(page, "resumed-in-frame")
    verify_by_sms(frame, line.client, person["mobile"])
    frame.get_by_role("button", name="确认签署").click()
    expect(frame.get_by_test_id("outcome")).to_have_text("签署完成")
    expect(page.get_by_role("heading", name="业务方页面")).to_be_visible()
    shot(page, "signed-in-frame")

    cookie = next(c for c in page.context.cookies() if c["name"] == "ec_sign")
    assert cookie["sameSite"] == "None" and cookie["secure"] and cookie["httpOnly"]
    assert signer_of(status_of(line.client, contract["contractId"]), "borrower")["status"] == "SIGNED"
    assert verify_document(line.client, contract["contractId"])["valid"] is True


def test_a_site_the_business_line_did_not_list_cannot_frame_the_page(business_line, open_page, embedding_site):
    listed, other = embedding_site(), embedding_site()
    line = business_line(signing_page={"frameAncestors": [listed]})
    contract = create_contract(line.client, line.template_id, signers=[lender(order=2), borrower(order=1)])
    page = open_page()
    with page.expect_response(lambda r: urlsplit(r.url).hostname == "127.0.0.1") as opened:
        page.goto(f"{other}/contracts?src={_embedded_link(line.client, contract)}")
    assert opened.value.headers["content-security-policy"].endswith(f"frame-ancestors {listed}")
    expect(page.get_by_role("heading", name="业务方页面")).to_be_visible()
    framed = page.frames[1]
    framed.wait_for_load_state()
    assert framed.url.startswith("chrome-error://")  # Chromium refused to show it in the frame
