"""Contract pages: search, detail with signers and the audit trail, download, revoke.

The contract service answers a caller only about its own contracts. Until it lets console
users see every business line's contracts (the xfail below), the pages are exercised on
a contract the console user's own caller id created.
"""
from __future__ import annotations

import base64
import secrets

import grpc
import pytest

from econtract.common.v1 import common_pb2
from econtract.contract.v1 import contract_pb2, contract_pb2_grpc
from gateway.console.roles import scopes_of
from tests.fixtures.docx_fixtures import simple_docx
from tests.integration.console.conftest import flash_of

SIGNERS = [
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
    {"role": "borrower", "kind": "PERSON", "positions": [{"keyword": "乙方（签字）"}]},
]


@pytest.fixture(scope="module")
def approved_template(mesh, apps, client) -> str:
    from tests.support.signed import SignedClient

    docx = simple_docx("借款合同", "甲方：{{ lender_name }}", "甲方（盖章）", "乙方（签字）")
    reply = client.post("/v1/templates", {"name": "控制台合同-" + secrets.token_hex(3),
                                          "docx": base64.b64encode(docx).decode(), "signers": SIGNERS})
    assert reply.status_code == 200, reply.text
    template_id = reply.json()["templateId"]
    legal = apps.create("console-contracts-legal", ["template:read", "template:review"])
    reviewer = SignedClient(mesh.base_url, legal.app.app_id, legal.secret)
    assert reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"}).status_code == 200
    reviewer.close()
    return template_id


def _contract_request(template_id: str) -> contract_pb2.CreateContractRequest:
    request = contract_pb2.CreateContractRequest(
        template_id=template_id, title="借款合同-张三", biz_no="CONSOLE-" + secrets.token_hex(4),
        signers=[
            contract_pb2.Signer(role="lender", kind=common_pb2.ORG, name="某某科技有限公司",
                                subject=common_pb2.SubjectRef(id_type="USCC", id="91350100M000100Y43"),
                                email="legal@example.com", order=1),
            contract_pb2.Signer(role="borrower", kind=common_pb2.PERSON, name="张三",
                                subject=common_pb2.SubjectRef(id_type="ID_CARD", id="11010119900307109X"),
                                mobile="13800000000", order=2),
        ],
    )
    request.data.update({"lender_name": "某某科技有限公司"})
    return request


@pytest.fixture(scope="module")
def console_contract(mesh, people, approved_template) -> str:
    """A contract whose caller is the operator's console id, so the operator may see it today."""
    operator = people["operator"]
    with grpc.insecure_channel(mesh.env["CONTRACT_ADDR"]) as channel:
        reply = contract_pb2_grpc.ContractServiceStub(channel).CreateContract(
            _contract_request(approved_template), timeout=120,
            metadata=[("x-app-id", operator.user.caller_id), ("x-app-scopes", ",".join(scopes_of("operator")))],
        )
    return reply.contract_id


def test_search_finds_the_contract(console_as, people, console_contract):
    page = console_as(people["operator"]).open("/console/contracts?status=SIGNING")
    assert page.status_code == 200
    assert f'/console/contracts/{console_contract}"' in page.text and "签署中" in page.text


def test_detail_shows_each_signer_and_a_verified_audit_trail(console_as, people, console_contract):
    page = console_as(people["operator"]).open(f"/console/contracts/{console_contract}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "某某科技有限公司" in html and "张三" in html and html.count("待签署") >= 2
    assert "哈希链校验通过" in html and "contract.created" in html


def test_download_gives_the_pdf(console_as, people, console_contract):
    reply = console_as(people["operator"]).get(f"/console/contracts/{console_contract}/document")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/pdf" and reply.content.startswith(b"%PDF")
    assert reply.headers["content-disposition"].startswith("attachment;")


def test_a_reviewer_may_read_but_not_revoke(console_as, people, console_contract):
    reviewer = console_as(people["reviewer"])
    page = f"/console/contracts/{console_contract}"
    reply = reviewer.post(f"{page}/revoke", {"reason": "no", "back": page})
    assert reply.status_code == 303 and reply.headers["location"] == page
    assert flash_of(reviewer.open(reply.headers["location"])) == "您的角色无权进行此操作。"


def test_revoke_with_a_reason(console_as, people, mesh, approved_template):
    operator = people["operator"]
    with grpc.insecure_channel(mesh.env["CONTRACT_ADDR"]) as channel:
        contract_id = contract_pb2_grpc.ContractServiceStub(channel).CreateContract(
            _contract_request(approved_template), timeout=120, metadata=[("x-app-id", operator.user.caller_id)],
        ).contract_id
    console = console_as(operator)
    reply = console.post(f"/console/contracts/{contract_id}/revoke", {"reason": "客户取消"})
    assert reply.status_code == 303 and reply.headers["location"] == f"/console/contracts/{contract_id}"
    page = console.open(reply.headers["location"])
    assert flash_of(page) == "合同已撤销。" and "已撤销" in page.text and "客户取消" in page.text


def test_an_unknown_contract_is_a_clear_page(console_as, people):
    page = console_as(people["operator"]).open("/console/contracts/ct_nothing")
    assert page.status_code == 404 and "找不到要访问的内容。" in page.text


def test_a_business_lines_contract_is_visible_in_the_console(console_as, people, client, approved_template):
    from google.protobuf import json_format

    body = json_format.MessageToDict(_contract_request(approved_template))
    reply = client.post("/v1/contracts", body)
    assert reply.status_code == 200, reply.text
    page = console_as(people["admin"]).open(f"/console/contracts/{reply.json()['contractId']}")
    assert page.status_code == 200 and "张三" in page.text
