"""Contracts stay pinned to the template version approved when they were made."""
import io

from docx import Document

from services.filegen import preview
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.contract.helpers import approved_template, b64, create_contract, ok

NEW_CLAUSE = "第十二条 新增条款：本合同以电子方式签署。"


def _with_clause(docx: bytes) -> bytes:
    document = Document(io.BytesIO(docx))
    document.add_paragraph(NEW_CLAUSE)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pdf_text(client, contract_id: str) -> str:
    reply = client.get(f"/v1/contracts/{contract_id}/document?alt=media")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/pdf"
    return "".join(preview.pdf_text(reply.content))


def test_contracts_use_the_newest_approved_version_and_keep_theirs(business, reviewer):
    template = approved_template(business, reviewer, loan_contract_docx_bytes())
    template_id = template["templateId"]
    first = create_contract(business, template_id)
    v2 = ok(business.post(f"/v1/templates/{template_id}/versions", {"docx": b64(_with_clause(loan_contract_docx_bytes()))}))
    assert v2["version"] == 2 and v2["status"] == "PENDING_REVIEW"

    meanwhile = create_contract(business, template_id)
    assert meanwhile["templateVersion"] == 1
    assert "新增条款" not in _pdf_text(business, meanwhile["contractId"])

    ok(reviewer.post(f"/v1/templates/{template_id}/versions/2:approve", {"comment": "条款已审"}))
    after = create_contract(business, template_id)
    assert after["templateVersion"] == 2
    assert "新增条款" in _pdf_text(business, after["contractId"])

    pinned = ok(business.get(f"/v1/contracts/{first['contractId']}"))
    assert pinned["templateVersion"] == 1
    assert "新增条款" not in _pdf_text(business, first["contractId"])
