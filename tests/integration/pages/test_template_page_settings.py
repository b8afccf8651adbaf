"""A template's own signing-page settings over its business line's: what the template sets
wins, what it leaves unset is the app's."""
from __future__ import annotations

from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template, ok
from tests.support.reading_page import to_the_reading_page

APP_PAGE = {"themeColor": "#112233", "showReject": True, "minReadingSeconds": 45, "successPage": "业务线的完成页"}
TEMPLATE_PAGE = {"themeColor": "#E4393C", "showReject": False, "forcedReading": True}


def test_the_templates_settings_win_over_the_apps(business_line, reviewer):
    line = business_line(signing_page=APP_PAGE)
    ok(line.client.request("PUT", f"/v1/templates/{line.template_id}/signingPage", TEMPLATE_PAGE))
    page, _, read = to_the_reading_page(line.client, line.template_id)
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
    page, _, read = to_the_reading_page(line.client, plain["templateId"])
    try:
        assert "/sign/theme/112233.css" in read and 'action="' + page.base + '/reject"' in read
        assert "data-seconds-left" not in read
        assert "业务线的完成页" in page.post("sign", appearance="default").text
    finally:
        page.close()
