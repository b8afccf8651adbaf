"""The success page switched on and off apart from the redirect: off, a signer with a way
back goes there at once whatever the delay; with nowhere to go, sees only the outcome.
A template may switch it for its own contracts."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.integration.contract.helpers import ok, signer_of
from tests.integration.pages.flow import Signer
from tests.support.reading_page import to_the_reading_page

RETURN = "https://biz.example/back"
SUCCESS_TEXT = "感谢签署，款项一个工作日内到账"


def _signed(client, template_id: str) -> tuple[Signer, dict]:
    """A new contract's borrower, signed on the page; the final redirect is not followed."""
    page, contract, read = to_the_reading_page(client, template_id)
    assert "阅读并签署" in read
    sent = page.http.post(page.base + "/sign", data={"csrf": page.csrf, "appearance": "default"},
                          follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == page.base
    page.page = page.http.get(page.base, follow_redirects=False)
    return page, contract


def test_without_the_success_page_a_delayed_redirect_goes_at_once(business_line):
    line = business_line(signing_page={"successPage": SUCCESS_TEXT, "redirectUrl": RETURN, "redirectMode": "DELAYED",
                                       "redirectDelaySeconds": 10, "showSuccessPage": False})
    page, contract = _signed(line.client, line.template_id)
    page.close()
    assert page.page.status_code == 303
    back = urlsplit(page.page.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == RETURN
    assert parse_qs(back.query) == {"contractId": [contract["contractId"]], "status": ["SIGNED"],
                                    "signerId": [signer_of(contract, "borrower")["signerId"]]}


def test_with_the_success_page_the_same_redirect_waits_on_it(business_line):
    line = business_line(signing_page={"successPage": SUCCESS_TEXT, "redirectUrl": RETURN, "redirectMode": "DELAYED",
                                       "redirectDelaySeconds": 10})
    page, _contract = _signed(line.client, line.template_id)
    page.close()
    assert page.page.status_code == 200 and SUCCESS_TEXT in page.page.text
    assert 'http-equiv="refresh" content="10;url=https://biz.example/back?' in page.page.text


def test_without_the_success_page_and_nowhere_to_go_only_the_outcome_shows(business_line):
    line = business_line(signing_page={"successPage": SUCCESS_TEXT, "showSuccessPage": False})
    page, _contract = _signed(line.client, line.template_id)
    page.close()
    assert page.page.status_code == 200 and 'data-testid="outcome">签署完成<' in page.page.text
    assert SUCCESS_TEXT not in page.page.text and 'data-testid="outcome-text"' not in page.page.text
    assert 'http-equiv="refresh"' not in page.page.text


def test_a_template_switches_the_success_page_for_its_contracts(business_line):
    line = business_line(signing_page={"successPage": SUCCESS_TEXT, "showSuccessPage": False})
    ok(line.client.request("PUT", f"/v1/templates/{line.template_id}/signingPage", {"showSuccessPage": True}))
    page, _contract = _signed(line.client, line.template_id)
    page.close()
    assert page.page.status_code == 200 and SUCCESS_TEXT in page.page.text  # the app's text, the template's switch
