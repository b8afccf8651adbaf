"""A template's life through REST: upload, fields, legal review, a changed clause, pinning."""
from __future__ import annotations

import hashlib

import grpc
import pytest

from econtract.template.v1 import template_pb2
from tests.fixtures.docx_fixtures import loan_contract_docx_bytes
from tests.integration.template.helpers import LOAN_SIGNERS, b64, created, error, query, unique
from tests.unit.template.docx_builders import edit_paragraph, simple_docx

SMALL_SIGNERS = [
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
    {"role": "borrower", "kind": "PERSON", "positions": [{"page": 1, "x": 400, "y": 120}]},
]


def small_contract(*clauses: str) -> bytes:
    return simple_docx(
        ["借款合同", "借款人：{{ borrower_name }}", *clauses, "甲方（盖章）：", "乙方（签字）："]
    )


def resolve(stub, template_id: str) -> template_pb2.ResolveApprovedVersionResponse:
    return stub.ResolveApprovedVersion(template_pb2.ResolveApprovedVersionRequest(template_id=template_id), timeout=10)


def test_upload_review_redline_and_contracts_pinned_to_the_approved_version(uploader, reviewer, template_stub, mesh):
    first = loan_contract_docx_bytes()
    body = created(uploader, first, name=unique("个人借款合同"), group="loans")
    template_id = body["templateId"]
    assert template_id.startswith("tpl_")
    assert (body["version"], body["status"]) == (1, "PENDING_REVIEW")
    assert body["docxSha256"] == hashlib.sha256(first).hexdigest()
    fields = {f["name"]: f for f in body["fields"]}
    assert "contract_no" in fields and fields["contract_no"]["required"]
    assert fields["plan"]["type"] == "LOOP"
    assert {"no", "date", "principal"} <= {f["name"] for f in fields["plan"]["itemFields"]}

    schema = uploader.get(f"/v1/templates/{template_id}/versions/1/fields")
    assert schema.status_code == 200, schema.text
    assert schema.json()["fields"] == body["fields"]

    approved = reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "条款合规"})
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"templateId": template_id, "version": 1, "status": "APPROVED"}
    assert resolve(template_stub, template_id).version == 1

    # Version 2 changes one clause: prepayment notice goes from 15 to 30 working days.
    second, old_clause, new_clause = edit_paragraph(first, "乙方可以提前归还", "十五个工作日", "三十个工作日")
    reply = uploader.post(
        f"/v1/templates/{template_id}/versions", {"docx": b64(second), "changeNote": "提前还款通知期改为三十个工作日"}
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["version"], reply.json()["status"]) == (2, "PENDING_REVIEW")

    redline = uploader.get(f"/v1/templates/{template_id}/versions/2/redline")
    assert redline.status_code == 200, redline.text
    changes = redline.json()
    assert changes["baseVersion"] == 1
    assert [(c["kind"], c["text"]) for c in changes["paragraphs"]] == [("DELETED", old_clause), ("INSERTED", new_clause)]
    assert changes["paragraphs"][0]["index"] == changes["paragraphs"][1]["index"]
    assert changes["changedFields"] == [] and changes["changedSigners"] == []

    # Contracts created while version 2 waits still get version 1.
    pinned = resolve(template_stub, template_id)
    assert (pinned.version, pinned.docx_sha256) == (1, hashlib.sha256(first).hexdigest())

    assert reviewer.post(f"/v1/templates/{template_id}/versions/2:approve", {"comment": "同意"}).status_code == 200
    current = resolve(template_stub, template_id)
    assert current.version == 2 and current.template_name.startswith("个人借款合同")
    assert current.docx_sha256 == hashlib.sha256(second).hexdigest()
    assert mesh.contexts["template"].blobs.get(current.docx.blob_ref) == second
    roles = {s.role: s for s in current.signers}
    assert set(roles) == {"lender", "borrower"}
    assert roles["lender"].riding_seal and roles["lender"].positions[0].keyword == "甲方（盖章）"
    assert [(p.keyword, p.page, p.x, p.y) for p in roles["borrower"].positions] == [
        ("乙方（签字）", 0, 60, -10),
        ("", 1, 400, 120),
    ]
    assert roles["borrower"].date_position.keyword == "乙方（签字）"
    assert {f.name for f in current.fields} == set(fields)
    stored = template_stub.GetTemplateVersion(
        template_pb2.GetTemplateVersionRequest(template_id=template_id, version=2, include_docx=True), timeout=10
    )
    assert stored.docx == second and stored.version.reviewer == reviewer.app_id

    detail = uploader.get(f"/v1/templates/{template_id}").json()
    assert (detail["approvedVersion"], detail["latestVersion"], detail["latestVersionStatus"]) == (2, 2, "APPROVED")
    assert [v["status"] for v in detail["versions"]] == ["APPROVED", "APPROVED"]
    assert detail["versions"][0]["reviewer"] == reviewer.app_id
    assert detail["versions"][1]["uploader"] == uploader.app_id
    assert detail["versions"][1]["changeNote"] == "提前还款通知期改为三十个工作日"
    assert [s["role"] for s in detail["signers"]] == [s["role"] for s in LOAN_SIGNERS]

    again = reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "再次"})
    assert "already APPROVED" in error(again, 400, 9)["message"]


def test_rejection_keeps_the_comment_and_the_redline_compares_with_what_is_in_force(uploader, reviewer, template_stub):
    clause = "第一条 借款金额为{{ amount|money }}元。"
    template_id = created(uploader, small_contract(clause), signers=SMALL_SIGNERS)["templateId"]

    no_reason = reviewer.post(f"/v1/templates/{template_id}/versions/1:reject", {})
    assert "comment" in error(no_reason, 400, 3)["message"]

    rejected = reviewer.post(f"/v1/templates/{template_id}/versions/1:reject", {"comment": "第一条缺少利率约定"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "REJECTED"
    detail = uploader.get(f"/v1/templates/{template_id}").json()
    version = detail["versions"][0]
    assert (version["status"], version["reviewer"], version["reviewComment"]) == (
        "REJECTED", reviewer.app_id, "第一条缺少利率约定"
    )
    assert version["reviewTime"] and detail["approvedVersion"] == 0 and detail["latestVersionStatus"] == "REJECTED"

    late = reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"})
    assert "already REJECTED" in error(late, 400, 9)["message"]
    with pytest.raises(grpc.RpcError) as unusable:
        resolve(template_stub, template_id)
    assert unusable.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # v2 approved, v3 rejected, v4 pending: v4's redline is against v2, the version in force.
    with_rate = "第一条 借款金额为{{ amount|money }}元，年利率{{ rate }}%。"
    for clauses in ([with_rate], [with_rate, "第二条 逾期罚息。"], [with_rate, "第二条 逾期罚息加倍。"]):
        reply = uploader.post(f"/v1/templates/{template_id}/versions", {"docx": b64(small_contract(*clauses))})
        assert reply.status_code == 200, reply.text
    assert reviewer.post(f"/v1/templates/{template_id}/versions/2:approve", {"comment": "ok"}).status_code == 200
    assert reviewer.post(f"/v1/templates/{template_id}/versions/3:reject", {"comment": "no"}).status_code == 200
    redline = uploader.get(f"/v1/templates/{template_id}/versions/4/redline").json()
    assert redline["baseVersion"] == 2
    assert [(c["kind"], c["text"]) for c in redline["paragraphs"]] == [("INSERTED", "第二条 逾期罚息加倍。")]
    explicit = uploader.get(f"/v1/templates/{template_id}/versions/4/redline?baseVersion=3").json()
    assert [(c["kind"], c["text"]) for c in explicit["paragraphs"]] == [
        ("DELETED", "第二条 逾期罚息。"), ("INSERTED", "第二条 逾期罚息加倍。")
    ]
    first = uploader.get(f"/v1/templates/{template_id}/versions/2/redline?baseVersion=1").json()
    assert {(c["kind"], c["name"]) for c in first["changedFields"]} == {("ADDED", "rate")}


def test_the_uploader_cannot_review_its_own_version(reviewing_uploader, reviewer):
    template_id = created(reviewing_uploader, small_contract("第一条 {{ amount }}"), signers=SMALL_SIGNERS)["templateId"]
    own = reviewing_uploader.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "自己批准"})
    assert "separation of duties" in error(own, 403, 7)["message"]
    own_reject = reviewing_uploader.post(f"/v1/templates/{template_id}/versions/1:reject", {"comment": "自己驳回"})
    error(own_reject, 403, 7)
    assert reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"}).status_code == 200


def test_reviewing_needs_the_review_scope(uploader, reviewing_uploader):
    template_id = created(reviewing_uploader, small_contract("第一条 {{ amount }}"), signers=SMALL_SIGNERS)["templateId"]
    reply = uploader.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"})
    assert "template:review" in error(reply, 403, 7)["message"]
    rejected = uploader.post(f"/v1/templates/{template_id}/versions/1:reject", {"comment": "不同意"})
    assert "template:review" in error(rejected, 403, 7)["message"]
    detail = uploader.get(f"/v1/templates/{template_id}").json()
    version = detail["versions"][0]
    assert (version["status"], version.get("reviewer", ""), version.get("reviewComment", "")) == ("PENDING_REVIEW", "", "")


def test_uploading_needs_the_write_scope(reviewer, uploader):
    name = unique("无权上传")
    reply = reviewer.post("/v1/templates", {"name": name, "docx": b64(small_contract("第一条 {{ amount }}")),
                                            "signers": SMALL_SIGNERS})
    assert "template:write" in error(reply, 403, 7)["message"]
    assert uploader.get(query("/v1/templates", nameQuery=name)).json().get("templates", []) == []

    template_id = created(uploader, small_contract("第一条 {{ amount }}"), signers=SMALL_SIGNERS)["templateId"]
    version = reviewer.post(f"/v1/templates/{template_id}/versions", {"docx": b64(small_contract("第一条 改"))})
    assert "template:write" in error(version, 403, 7)["message"]
    assert [v["version"] for v in uploader.get(f"/v1/templates/{template_id}").json()["versions"]] == [1]


def test_contracts_cannot_use_an_unapproved_disabled_or_unknown_template(uploader, reviewer, template_stub):
    template_id = created(uploader, small_contract("第一条 {{ amount }}"), signers=SMALL_SIGNERS)["templateId"]
    with pytest.raises(grpc.RpcError) as pending:
        resolve(template_stub, template_id)
    assert pending.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no approved version" in pending.value.details()

    assert reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"}).status_code == 200
    assert resolve(template_stub, template_id).version == 1
    disabled = uploader.post(f"/v1/templates/{template_id}:disable", {"reason": "产品下线"})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"templateId": template_id, "status": "DISABLED"}
    assert uploader.get(f"/v1/templates/{template_id}").json()["status"] == "DISABLED"
    with pytest.raises(grpc.RpcError) as off:
        resolve(template_stub, template_id)
    assert off.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "disabled" in off.value.details()

    with pytest.raises(grpc.RpcError) as unknown:
        resolve(template_stub, "tpl_nosuchtemplate")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    error(uploader.get("/v1/templates/tpl_nosuchtemplate"), 404, 5)
