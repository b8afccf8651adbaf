"""Creating contracts through REST: pinned template, rendered documents, subjects,
bizNo idempotency (also under concurrent creates), every bad field named at once."""
from __future__ import annotations

import hashlib
import io
import secrets
import threading
from datetime import datetime, timedelta, timezone

from reportlab.pdfgen import canvas

from services.contract.store import ContractRow
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes, simple_docx
from tests.integration.contract.helpers import (
    b64,
    borrower,
    contract_body,
    create_contract,
    error,
    lender,
    loan_data,
    ok,
    violations,
)


def _pdf(pages: int) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    for number in range(pages):
        page.drawString(100, 700, f"annex page {number + 1}")
        page.showPage()
    page.save()
    return out.getvalue()


def test_create_pins_the_approved_version_and_stores_the_rendered_pdf(business, template, contract_server):
    created = create_contract(business, template["templateId"])
    assert created["status"] == "SIGNING"
    assert created["templateId"] == template["templateId"] and created["templateVersion"] == template["version"]
    [document] = created["documents"]
    assert document["kind"] == "MAIN" and document["pages"] == 3 and document["revision"] == 0
    assert [s["role"] for s in created["signers"]] == ["lender", "borrower"]
    assert all(s["status"] == "PENDING" and s["signerId"].startswith("sg_") and s["subjectId"] for s in created["signers"])

    pdf = business.get(f"/v1/contracts/{created['contractId']}/document?alt=media")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and hashlib.sha256(pdf.content).hexdigest() == document["sha256"]

    fetched = ok(business.get(f"/v1/contracts/{created['contractId']}"))
    assert fetched["data"]["contract_no"] == "JK-2026-000123" and fetched["documents"] == created["documents"]
    # Pinned to the exact .docx that legal approved: the SHA-256 of the uploaded bytes.
    uploaded_sha256 = hashlib.sha256(loan_contract_docx_bytes()).hexdigest()
    with contract_server.ctx.sessions() as session:
        row = session.get(ContractRow, created["contractId"])
        assert row.template_docx_sha256 == uploaded_sha256
    events = ok(business.get(f"/v1/contracts/{created['contractId']}/events"))["events"]
    assert events[0]["type"] == "contract.created"
    assert events[0]["details"]["templateDocxSha256"] == uploaded_sha256


def test_the_same_biz_no_returns_the_existing_contract(business, template):
    body = contract_body(template["templateId"])
    first = ok(business.post("/v1/contracts", body))
    again = ok(business.post("/v1/contracts", body))
    assert again["contractId"] == first["contractId"]
    listed = ok(business.get(f"/v1/contracts?bizNo={body['bizNo']}"))
    assert [c["contractId"] for c in listed["contracts"]] == [first["contractId"]]


def test_concurrent_creates_with_one_biz_no_make_one_contract(business, template):
    body = contract_body(template["templateId"])
    replies: list = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        replies.append(business.post("/v1/contracts", body))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
    assert len({r.json()["contractId"] for r in replies}) == 1
    listed = ok(business.get(f"/v1/contracts?bizNo={body['bizNo']}"))
    assert len(listed["contracts"]) == 1


def test_bad_fill_data_names_every_bad_and_missing_field(business, template):
    data = loan_data()
    del data["contract_no"]
    del data["lender"]["name"]
    data["plan"][2]["date"] = "not a date"
    data["amount"] = "lots"
    data["lender_seal"] = {"$image": "%%%"}
    body = error(business.post("/v1/contracts", contract_body(template["templateId"], data=data)), 400, 3)
    found = violations(body)
    assert "must be a date" in found["data.plan[2].date"]
    assert "number" in found["data.amount"]
    assert "image" in found["data.lender_seal"]
    assert "missing" in found["data.contract_no"] and "missing" in found["data.lender.name"]
    assert set(found) == {"data.plan[2].date", "data.amount", "data.lender_seal", "data.contract_no", "data.lender.name"}


def test_bad_signers_and_request_fields_are_all_reported(business, template):
    signers = [lender(kind="PERSON"), borrower(role="guarantor", subject={"idType": "ID_CARD", "id": "110101199003074513"})]
    body = error(business.post("/v1/contracts", contract_body(
        template["templateId"], signers=signers, title="", expireTime="2001-01-01T00:00:00Z", amount="-3",
    )), 400, 3)
    found = violations(body)
    assert "required" in found["title"]
    assert "future" in found["expireTime"]
    assert "amount" in found
    assert "ORG" in found["signers[0].kind"]
    assert "no role 'guarantor'" in found["signers[1].role"]
    assert "borrower" in found["signers"]


def _unreviewed_template(business) -> str:
    return ok(business.post("/v1/templates", {
        "name": "未审核-" + secrets.token_hex(3), "docx": b64(simple_docx("合同编号：{{ contract_no }}", "甲方（盖章）")),
        "signers": [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}],
    }))["templateId"]


def _refused_for_its_template(business, template_id: str) -> str:
    """Creating a contract from ``template_id`` fails with FAILED_PRECONDITION and stores
    nothing; returns the message."""
    reply = business.post("/v1/contracts", {
        "templateId": template_id, "title": "x", "data": {"contract_no": "1"}, "signers": [lender()],
    })
    message = error(reply, 400, 9)["message"]
    assert ok(business.get(f"/v1/contracts?templateId={template_id}")).get("contracts", []) == []
    return message


def test_an_unapproved_template_cannot_be_used(business):
    template_id = _unreviewed_template(business)
    message = _refused_for_its_template(business, template_id)
    assert template_id in message and "no approved version" in message, message
    assert "legal must approve" in message, message


def test_a_template_whose_only_version_was_rejected_cannot_be_used(business, reviewer):
    template_id = _unreviewed_template(business)
    ok(reviewer.post(f"/v1/templates/{template_id}/versions/1:reject", {"comment": "缺少利率条款"}))
    message = _refused_for_its_template(business, template_id)
    assert template_id in message and "no approved version" in message, message


def test_extra_documents_pdf_and_docx(business, template):
    annex = _pdf(2)
    created = create_contract(business, template["templateId"], extraDocuments=[
        {"name": "附件一 还款说明", "fileName": "annex.pdf", "data": b64(annex)},
        {"name": "附件二 补充条款", "fileName": "terms.docx", "data": b64(simple_docx("补充条款：双方另行约定。"))},
    ])
    main, pdf_annex, docx_annex = created["documents"]
    assert main["kind"] == "MAIN" and pdf_annex["kind"] == docx_annex["kind"] == "ATTACHMENT"
    assert pdf_annex["sha256"] == hashlib.sha256(annex).hexdigest() and pdf_annex["pages"] == 2
    assert docx_annex["pages"] == 1
    fetched = business.get(f"/v1/contracts/{created['contractId']}/document?documentId={docx_annex['documentId']}&alt=media")
    assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF-")


def test_a_bad_upload_is_refused(business, template):
    reply = business.post("/v1/contracts", contract_body(template["templateId"], extraDocuments=[
        {"name": "附件", "fileName": "annex.pdf", "data": b64(b"not a pdf at all")},
        {"name": "附件", "fileName": "annex.exe", "data": b64(b"MZ")},
    ]))
    found = violations(error(reply, 400, 3))
    assert found["extraDocuments[0].data"] == "is not a PDF" and "extraDocuments[1].fileName" in found


def test_contracts_are_visible_only_to_their_app(business, new_app, template):
    created = create_contract(business, template["templateId"])
    other = new_app("another-line")
    error(other.get(f"/v1/contracts/{created['contractId']}"), 404, 5)
    error(other.get(f"/v1/contracts/{created['contractId']}/document"), 404, 5)
    error(other.post(f"/v1/contracts/{created['contractId']}:revoke", {"reason": "x"}), 404, 5)
    assert created["contractId"] not in {c["contractId"] for c in ok(other.get("/v1/contracts"))["contracts"]}


def test_list_filters_and_cursor_pagination(business, new_app, template):
    client = new_app("lister")
    group = "grp-" + secrets.token_hex(4)
    person = borrower()
    made = [create_contract(client, template["templateId"], groupId=group, signers=[lender(), dict(person)])
            for _ in range(3)]
    other = create_contract(client, template["templateId"])
    seen, token = [], ""
    while True:
        page = ok(client.get(f"/v1/contracts?groupId={group}&pageSize=2" + (f"&pageToken={token}" if token else "")))
        seen += [c["contractId"] for c in page["contracts"]]
        token = page.get("nextPageToken", "")
        if not token:
            break
    assert seen == [c["contractId"] for c in reversed(made)]  # newest first, each once
    by_signer = ok(client.get(f"/v1/contracts?signer.idType=ID_CARD&signer.id={person['subject']['id']}"))
    assert {c["contractId"] for c in by_signer["contracts"]} == {c["contractId"] for c in made}
    since = (datetime.now(timezone.utc) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = ok(client.get(f"/v1/contracts?status=SIGNING&templateId={template['templateId']}&createTimeStart={since}"))
    assert other["contractId"] in {c["contractId"] for c in recent["contracts"]}
    error(client.get(f"/v1/contracts?groupId=other&pageToken={token or 'bogus'}"), 400, 3)


def test_an_extra_document_from_another_template(business, template, fake_signing):
    from tests.integration.contract.helpers import sign_as

    guarantee = loan_data()
    guarantee["contract_no"] = "DB-2026-7"
    created = create_contract(business, template["templateId"], extraDocuments=[
        {"name": "担保函", "templateId": template["templateId"], "fillData": guarantee},
    ])
    main, extra = created["documents"]
    assert extra["kind"] == "ATTACHMENT" and extra["name"] == "担保函" and extra["pages"] == 3
    assert extra["sha256"] != main["sha256"]  # its own data, its own PDF
    sign_as(business, created, "lender")
    calls = fake_signing.service.calls_for(created["contractId"])
    # Both documents are signed, each at the role's position from its template.
    assert sorted(c.input_sha256 for c in calls) == sorted([main["sha256"], extra["sha256"]])
    assert {c.request.positions[0].keyword for c in calls} == {"甲方（盖章）"}

    bad = loan_data()
    bad["amount"] = "lots"
    reply = business.post("/v1/contracts", contract_body(template["templateId"], extraDocuments=[
        {"name": "担保函", "templateId": template["templateId"], "fillData": bad},
        {"name": "其他", "templateId": "tpl_missing"},
    ]))
    found = violations(error(reply, 400, 3))
    assert "number" in found["extraDocuments[0].fillData.amount"]
    assert "extraDocuments[1].templateId" in found


def test_console_callers_see_every_business_lines_contracts(mesh, business, template):
    import grpc as _grpc

    from econtract.contract.v1 import contract_pb2, contract_pb2_grpc

    contract_id = create_contract(business, template["templateId"])["contractId"]
    channel = _grpc.insecure_channel(mesh.env["CONTRACT_ADDR"])
    stub = contract_pb2_grpc.ContractServiceStub(channel)
    console = [("x-app-id", "console:usr_1"), ("x-app-scopes", "contract:read")]
    seen = stub.GetContract(contract_pb2.GetContractRequest(contract_id=contract_id), metadata=console, timeout=10)
    listed = stub.ListContracts(contract_pb2.ListContractsRequest(template_id=template["templateId"], page_size=100),
                                metadata=console, timeout=10)
    channel.close()
    assert seen.contract_id == contract_id
    assert contract_id in {c.contract_id for c in listed.contracts}
