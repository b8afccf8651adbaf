"""A template's own signing-page settings over its business line's: what the template sets
wins, what it leaves unset is the app's."""
from __future__ import annotations

from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template, borrower, create_contract, lender, ok, signer_of
from tests.integration.pages.flow import Signer, code_for

APP_PAGE = {"themeColor": "#112233", "showReject": True, "minReadingSeconds": 45, "successPage": "业务线的完成页"}
TEMPLATE_PAGE = {"themeColor": "#E4393C", "showReject": False, "forcedReading": True}


def _reading_page(client, template_id: str) -> tuple[Signer, str]:
    """A signer of a new contract from ``template_id``, through consent and intent to the reading page."""
    person = borrower(order=1)
    contract = create_contract(client, template_id, signers=[lender(order=2), person])
    body = {"signerId": signer_of(contract, "borrower")["signerId"], "source": "PC", "scene": "NORMAL"}
    page = Signer(ok(client.post(f"/v1/contracts/{contract['contractId']}:signUrl", body))["url"])
    page.post("consent", agree="on")
    page.post("intent", method="SMS")
    return page, page.post("intent/confirm", code=code_for(client, person["mobile"])).text


def test_the_templates_settings_win_over_the_apps(business_line, reviewer):
    line = business_line(signing_page=APP_PAGE)
    ok(line.client.request("PUT", f"/v1/templates/{line.template_id}/signingPage", TEMPLATE_PAGE))
    page, read = _reading_page(line.client, line.template_id)
    try:
        assert "/sign/theme/e4393c.css" in read  # the template's colour
        assert 'action="' + page.base + '/reject"' not in read  # the template hides reject
        assert page.post("reject", reason="不想签").status_code == 403  # and the server refuses it
        # Forced reading is the template's; its minimum is the app's, which the template left alone.
        assert 'data-seconds-left="45"' in read or 'data-seconds-left="44"' in read
        assert page.post("sign", appearance="default").status_code == 400
    finally:
        page.close()

    plain = approved_template(line.client, reviewer, loan_contract_docx_bytes())  # no override: the app's settings
    page, read = _reading_page(line.client, plain["templateId"])
    try:
        assert "/sign/theme/112233.css" in read and 'action="' + page.base + '/reject"' in read
        assert "data-seconds-left" not in read
        assert "业务线的完成页" in page.post("sign", appearance="default").text
    finally:
        page.close()
