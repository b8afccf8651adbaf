"""Uploads that must be refused with INVALID_ARGUMENT saying what and where, storing nothing."""
from __future__ import annotations

import hashlib
import io
import os
import zipfile

import pytest

from tests.integration.template.helpers import LOAN_SIGNERS, b64, create, created, error, query, unique, violations
from tests.unit.template.docx_builders import simple_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]


def refused(uploader, docx: bytes, signers=None) -> dict:
    name = unique("坏模板")
    body = error(create(uploader, docx, name=name, signers=SIGNERS if signers is None else signers), 400, 3)
    listed = uploader.get(query("/v1/templates", nameQuery=name))
    assert listed.status_code == 200 and listed.json()["templates"] == [], "a refused upload was stored"
    return body


def with_entries(docx: bytes, add, *, rels: dict[str, bytes] | None = None) -> bytes:
    """``docx`` rewritten with ``add(archive)`` adding entries and ``rels`` replacing parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, (rels or {}).get(item.filename, source.read(item)))
        add(target)
    return out.getvalue()


def refused_and_not_stored(uploader, template_blobs, docx: bytes) -> str:
    """The upload is refused with INVALID_ARGUMENT on ``docx``; returns what it says about
    the .docx. No template was listed (``refused``) and the bytes are not in the blob store."""
    body = refused(uploader, docx)
    assert not template_blobs.exists("sha256:" + hashlib.sha256(docx).hexdigest())
    return violations(body)["docx"]


@pytest.fixture(scope="module")
def template_blobs(mesh):
    return mesh.contexts["template"].blobs


def test_an_oversized_upload_is_refused_naming_the_limit(uploader, template_blobs):
    # 21 MiB that cannot be compressed, stored in the zip as it is: over the 20 MiB limit.
    big = with_entries(simple_docx(["甲方（盖章）："]), lambda zf: zf.writestr(
        zipfile.ZipInfo("word/media/padding.bin"), os.urandom(21 * 1024 * 1024), zipfile.ZIP_STORED))
    said = refused_and_not_stored(uploader, template_blobs, big)
    assert "21.0 MiB" in said and "the limit is 20.0 MiB" in said, said


def test_a_zip_with_too_many_entries_is_refused_naming_the_limit(uploader, template_blobs):
    def many(archive: zipfile.ZipFile) -> None:
        for number in range(2001):
            archive.writestr(f"customXml/item{number + 100}.xml", "<a/>")

    said = refused_and_not_stored(uploader, template_blobs, with_entries(simple_docx(["甲方（盖章）："]), many))
    assert "zip entries" in said and "the limit is 2000" in said, said


def test_a_zip_bomb_is_refused_naming_the_uncompressed_limit(uploader, template_blobs):
    def bomb(archive: zipfile.ZipFile) -> None:
        # 201 MiB of zeros deflate to a fraction of a megabyte.
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as entry:
            block = bytes(1024 * 1024)
            for _ in range(201):
                entry.write(block)

    docx = with_entries(simple_docx(["甲方（盖章）："]), bomb)
    assert len(docx) < 1024 * 1024
    said = refused_and_not_stored(uploader, template_blobs, docx)
    assert "the limit is 200.0 MiB" in said and "zip bomb" in said, said


def test_an_external_relationship_is_refused_naming_its_target(uploader, template_blobs):
    document = simple_docx(["甲方（盖章）："])
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        rels = archive.read("word/_rels/document.xml.rels")
    linked = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rIdRemote" TargetMode="External" Target="http://203.0.113.7/track.png"'
        b' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"/></Relationships>',
    )
    said = refused_and_not_stored(
        uploader, template_blobs, with_entries(document, lambda zf: None, rels={"word/_rels/document.xml.rels": linked})
    )
    assert "external image relationship" in said and "http://203.0.113.7/track.png" in said, said
    assert "only hyperlinks may point outside the document" in said, said


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
