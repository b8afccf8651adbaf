"""Uploads that must be refused with INVALID_ARGUMENT saying what and where, storing nothing."""
from __future__ import annotations

import io
import zipfile

from tests.integration.template.helpers import LOAN_SIGNERS, b64, create, created, error, query, unique, violations
from tests.unit.template.docx_builders import simple_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]


def refused(uploader, docx: bytes, signers=None) -> dict:
    name = unique("坏模板")
    body = error(create(uploader, docx, name=name, signers=SIGNERS if signers is None else signers), 400, 3)
    listed = uploader.get(query("/v1/templates", nameQuery=name))
    assert listed.status_code == 200 and listed.json()["templates"] == [], "a refused upload was stored"
    return body


def test_a_non_docx_upload_is_refused(uploader):
    body = refused(uploader, b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    assert ".docx" in violations(body)["docx"]


def test_a_zip_that_is_not_a_word_document_is_refused(uploader):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    body = refused(uploader, buffer.getvalue())
    assert "docx" in violations(body)


def test_a_jinja_syntax_error_is_refused_with_its_place(uploader):
    docx = simple_docx(["第一条 借款金额为{{ amount }}元。", "第二条 借款用途为{{ purpose ) }}。", "甲方（盖章）："])
    body = refused(uploader, docx)
    assert "syntax" in body["message"].lower(), body["message"]
    assert "借款用途" in body["message"], body["message"]  # the text around the error
    assert "docx" in violations(body)


def test_a_template_escaping_the_sandbox_is_refused(uploader):
    docx = simple_docx(["{{ ''.__class__.__mro__[1].__subclasses__() }}", "甲方（盖章）："])
    body = refused(uploader, docx)
    assert any(name in body["message"] for name in ("__class__", "__mro__", "__subclasses__")), body["message"]
    assert "docx" in violations(body)


def test_bad_signer_roles_are_named_by_their_paths(uploader):
    docx = simple_docx(["甲方（盖章）：", "乙方（签字）："])
    signers = [
        {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
        {"role": "lender", "kind": "PERSON", "positions": [{"page": 0, "x": 10, "y": 10}]},
        {"role": "guarantor", "positions": []},
        {"role": "witness", "kind": "PERSON", "positions": [{"page": 2, "x": -5, "y": 10}],
         "datePosition": {"page": -1}},
    ]
    found = violations(refused(uploader, docx, signers))
    assert set(found) == {
        "signers[1].role",
        "signers[1].positions[0].page",
        "signers[2].kind",
        "signers[2].positions",
        "signers[3].positions[0].x",
        "signers[3].datePosition.page",
    }


def test_no_signers_missing_name_and_bad_group_are_all_reported(uploader):
    reply = uploader.post("/v1/templates", {"name": "  ", "group": "贷款 loans", "docx": b64(simple_docx(["x"])), "signers": []})
    assert set(violations(error(reply, 400, 3))) == {"name", "group", "signers"}


def test_a_keyword_anchor_missing_from_the_document_is_refused(uploader):
    docx = simple_docx(["甲方（盖章）：", "乙方（签字）："])
    signers = [*SIGNERS, {"role": "guarantor", "kind": "PERSON", "positions": [{"keyword": "丙方（签字）"}]}]
    found = violations(refused(uploader, docx, signers))
    assert set(found) == {"signers[1].positions[0].keyword"}
    assert "丙方（签字）" in found["signers[1].positions[0].keyword"]


def test_a_bad_new_version_leaves_the_template_as_it_was(uploader):
    template_id = created(uploader, simple_docx(["第一条 {{ amount }}", "甲方（盖章）："]), signers=SIGNERS)["templateId"]
    bad = uploader.post(f"/v1/templates/{template_id}/versions", {"docx": b64(simple_docx(["{% if x %}甲方（盖章）："]))})
    assert "docx" in violations(error(bad, 400, 3))
    detail = uploader.get(f"/v1/templates/{template_id}").json()
    assert detail["latestVersion"] == 1 and len(detail["versions"]) == 1
    # Signers of a new version are checked against the new document too.
    moved = uploader.post(
        f"/v1/templates/{template_id}/versions", {"docx": b64(simple_docx(["第一条 {{ amount }}"])), "signers": LOAN_SIGNERS}
    )
    assert {"signers[0].positions[0].keyword", "signers[1].positions[0].keyword"} <= set(violations(error(moved, 400, 3)))
