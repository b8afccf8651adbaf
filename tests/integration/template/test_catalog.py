"""Groups, listing with filters and cursor pagination, over REST and the internal gRPC."""
from __future__ import annotations

import secrets

import grpc
import pytest

from econtract.template.v1 import template_pb2
from tests.integration.template.helpers import created, error, query, unique, violations
from tests.unit.template.docx_builders import simple_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]
DOCX = simple_docx(["第一条 借款金额为{{ amount|money }}元。", "甲方（盖章）："])


def test_groups_are_created_listed_and_unique(template_stub, uploader):
    key = "grp-" + secrets.token_hex(3)
    made = template_stub.CreateTemplateGroup(
        template_pb2.CreateTemplateGroupRequest(group_id=key, name="消费贷", description="消费贷款合同"), timeout=10
    )
    assert (made.group.group_id, made.group.name) == (key, "消费贷")
    with pytest.raises(grpc.RpcError) as taken:
        template_stub.CreateTemplateGroup(template_pb2.CreateTemplateGroupRequest(group_id=key), timeout=10)
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as bad:
        template_stub.CreateTemplateGroup(template_pb2.CreateTemplateGroupRequest(group_id="no spaces"), timeout=10)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # A group named on upload is created on first use.
    implicit = "auto-" + secrets.token_hex(3)
    created(uploader, DOCX, group=implicit, signers=SIGNERS)
    keys, token = [], ""
    while True:
        page = template_stub.ListTemplateGroups(
            template_pb2.ListTemplateGroupsRequest(page_size=2, page_token=token), timeout=10
        )
        assert len(page.groups) <= 2
        keys.extend(g.group_id for g in page.groups)
        token = page.next_page_token
        if not token:
            break
    assert {key, implicit} <= set(keys) and keys == sorted(keys) and len(keys) == len(set(keys))


def test_templates_are_listed_newest_first_with_filters_and_a_stable_cursor(uploader, reviewer):
    group = "list-" + secrets.token_hex(3)
    marker = secrets.token_hex(3)
    ids = [
        created(uploader, DOCX, group=group, name=f"{name}-{marker}", signers=SIGNERS)["templateId"]
        for name in ("个人借款合同", "担保合同", "抵押合同", "借款展期协议")
    ]
    ids.reverse()  # newest first

    seen, token, pages = [], "", 0
    while True:
        reply = uploader.get(query("/v1/templates", group=group, pageSize=3, pageToken=token))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        seen.extend(t["templateId"] for t in body["templates"])
        token, pages = body["nextPageToken"], pages + 1
        if not token:
            break
    assert seen == ids and pages == 2

    by_name = uploader.get(query("/v1/templates", nameQuery="借款", group=group)).json()["templates"]
    assert [t["templateId"] for t in by_name] == [ids[0], ids[3]]
    assert by_name[0]["signers"][0]["role"] == "lender" and by_name[0]["group"] == group

    assert reviewer.post(f"/v1/templates/{ids[1]}/versions/1:approve", {"comment": "ok"}).status_code == 200
    assert uploader.post(f"/v1/templates/{ids[2]}:disable", {"reason": "停用"}).status_code == 200
    approved = uploader.get(query("/v1/templates", group=group, reviewStatus="APPROVED")).json()["templates"]
    assert [(t["templateId"], t["approvedVersion"]) for t in approved] == [(ids[1], 1)]
    pending = uploader.get(query("/v1/templates", group=group, reviewStatus="PENDING_REVIEW")).json()["templates"]
    assert [t["templateId"] for t in pending] == [ids[0], ids[2], ids[3]]
    disabled = uploader.get(query("/v1/templates", group=group, status="DISABLED")).json()["templates"]
    assert [t["templateId"] for t in disabled] == [ids[2]]
    percent = uploader.get(query("/v1/templates", group=group, nameQuery="%")).json()["templates"]
    assert percent == []  # LIKE wildcards in the query are literal

    first = uploader.get(query("/v1/templates", group=group, pageSize=1)).json()["nextPageToken"]
    other = uploader.get(query("/v1/templates", group=unique("other"), pageToken=first))
    assert "pageToken" in violations(error(other, 400, 3))
    garbage = uploader.get(query("/v1/templates", pageToken="garbage"))
    assert "pageToken" in violations(error(garbage, 400, 3))
