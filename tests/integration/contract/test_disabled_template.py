"""Disabling a template through REST: no new contracts from it, while the ones made before
are read, downloaded and signed to completion as before."""
from __future__ import annotations

import hashlib

from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template, contract_body, create_contract, error, ok, sign_as


def test_a_disabled_template_makes_no_new_contracts_and_leaves_existing_ones_alone(business, reviewer, fake_signing):
    template_id = approved_template(business, reviewer, loan_contract_docx_bytes())["templateId"]
    before = create_contract(business, template_id)

    disabled = ok(business.post(f"/v1/templates/{template_id}:disable", {"reason": "产品下线"}))
    assert disabled == {"templateId": template_id, "status": "DISABLED"}

    refused = error(business.post("/v1/contracts", contract_body(template_id)), 400, 9)
    message = refused["message"]
    assert template_id in message and "disabled" in message and "产品下线" in message, message
    assert "no new contracts" in message, message
    listed = ok(business.get(f"/v1/contracts?templateId={template_id}"))["contracts"]
    assert [c["contractId"] for c in listed] == [before["contractId"]], "the refused create stored a contract"

    fetched = ok(business.get(f"/v1/contracts/{before['contractId']}"))
    assert (fetched["status"], fetched["templateVersion"]) == ("SIGNING", 1)
    pdf = business.get(f"/v1/contracts/{before['contractId']}/document?alt=media")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.content).hexdigest() == before["documents"][0]["sha256"]

    assert sign_as(business, before, "lender")["status"] == "SIGNING"
    done = sign_as(business, before, "borrower")
    assert done["status"] == "COMPLETED"
    after = ok(business.get(f"/v1/contracts/{before['contractId']}"))
    assert after["status"] == "COMPLETED"
    assert {s["role"]: s["status"] for s in after["signers"]} == {"lender": "SIGNED", "borrower": "SIGNED"}
    # The lender signed the document rendered before the disable, at the template's position.
    first_call = fake_signing.service.calls_for(before["contractId"])[0]
    assert first_call.input_sha256 == before["documents"][0]["sha256"]
    assert first_call.request.positions[0].keyword == "甲方（盖章）"
    signed = business.get(f"/v1/contracts/{before['contractId']}/document?alt=media")
    assert hashlib.sha256(signed.content).hexdigest() == done["documents"][0]["sha256"]
    assert ok(business.get(f"/v1/templates/{template_id}"))["status"] == "DISABLED"
