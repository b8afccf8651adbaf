"""A template's own signing-page settings: stored, returned, replaced and removed over REST."""
from __future__ import annotations

from tests.integration.template.helpers import created, error, query, violations
from tests.unit.template.docx_builders import simple_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]
DOCX = simple_docx(["第一条 借款金额为{{ amount|money }}元。", "甲方（盖章）："])


def _put(client, template_id: str, override: dict):
    return client.request("PUT", f"/v1/templates/{template_id}/signingPage", override)


def test_the_override_keeps_exactly_the_fields_it_sets(uploader):
    template_id = created(uploader, DOCX, signers=SIGNERS)["templateId"]
    assert "signingPage" not in uploader.get(f"/v1/templates/{template_id}").json()

    override = {"themeColor": "#E4393C", "showReject": False, "forcedReading": True, "minReadingSeconds": 0}
    reply = _put(uploader, template_id, override)
    assert reply.status_code == 200, reply.text
    assert reply.json()["template"]["signingPage"] == override  # false and 0 are kept: they were set
    fetched = uploader.get(f"/v1/templates/{template_id}").json()
    assert fetched["signingPage"] == override
    listed = uploader.get(query("/v1/templates", nameQuery=fetched["name"])).json()["templates"]
    assert listed[0]["signingPage"] == override

    assert _put(uploader, template_id, {"redirectMode": "DELAYED"}).status_code == 200  # replaced as a whole
    assert uploader.get(f"/v1/templates/{template_id}").json()["signingPage"] == {"redirectMode": "DELAYED"}
    assert _put(uploader, template_id, {}).status_code == 200
    assert "signingPage" not in uploader.get(f"/v1/templates/{template_id}").json()


def test_a_bad_override_is_refused_field_by_field(uploader, reviewer):
    template_id = created(uploader, DOCX, signers=SIGNERS)["templateId"]
    body = error(_put(uploader, template_id, {"themeColor": "red;}", "minReadingSeconds": 9999,
                                             "redirectUrl": "javascript:alert(1)"}), 400, 3)
    assert set(violations(body)) == {"signingPage.themeColor", "signingPage.minReadingSeconds",
                                     "signingPage.redirectUrl"}
    assert "signingPage" not in uploader.get(f"/v1/templates/{template_id}").json()
    error(_put(uploader, "tpl_missing", {"showReject": True}), 404, 5)
    assert _put(reviewer, template_id, {"showReject": True}).status_code == 403  # template:write only
