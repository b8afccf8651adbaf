"""Where signers sign is part of what legal reviews: moved anchors, new positions and new
roles show in the redline through REST."""
from __future__ import annotations

from tests.integration.template.helpers import b64, created
from tests.unit.template.docx_builders import simple_docx

DOCUMENT = simple_docx(["借款合同", "第一条 借款金额为{{ amount }}元。", "甲方（盖章）：", "甲方（公章）：", "乙方（签字）：", "丙方（签字）："])
V1_SIGNERS = [
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]},
    {"role": "borrower", "kind": "PERSON", "positions": [{"keyword": "乙方（签字）", "x": 60, "y": -10}]},
]
V2_SIGNERS = [
    # The lender's anchor moves to another keyword.
    {"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（公章）"}]},
    # The borrower keeps the anchor and gains a position on page 1.
    {"role": "borrower", "kind": "PERSON",
     "positions": [{"keyword": "乙方（签字）", "x": 60, "y": -10}, {"page": 1, "x": 400, "y": 120}]},
    # A guarantor is new.
    {"role": "guarantor", "kind": "PERSON", "positions": [{"keyword": "丙方（签字）"}]},
]


def places(role: dict) -> list[tuple[str, int, float, float]]:
    return [(p.get("keyword", ""), p.get("page", 0), p.get("x", 0), p.get("y", 0)) for p in role["positions"]]


def test_moved_anchors_added_positions_and_new_roles_show_in_the_redline(uploader, reviewer):
    template_id = created(uploader, DOCUMENT, signers=V1_SIGNERS)["templateId"]
    assert reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"}).status_code == 200
    reply = uploader.post(f"/v1/templates/{template_id}/versions", {"docx": b64(DOCUMENT), "signers": V2_SIGNERS})
    assert reply.status_code == 200, reply.text

    redline = uploader.get(f"/v1/templates/{template_id}/versions/2/redline")
    assert redline.status_code == 200, redline.text
    body = redline.json()
    assert body["baseVersion"] == 1
    assert body.get("paragraphs", []) == [] and body.get("changedFields", []) == []  # the same document
    changes = {c["role"]: c for c in body["changedSigners"]}
    assert [(c["kind"], c["role"]) for c in body["changedSigners"]] == [
        ("MODIFIED", "lender"), ("MODIFIED", "borrower"), ("ADDED", "guarantor")
    ]

    lender = changes["lender"]
    assert (places(lender["before"]), places(lender["after"])) == ([("甲方（盖章）", 0, 0, 0)], [("甲方（公章）", 0, 0, 0)])

    borrower = changes["borrower"]
    assert places(borrower["before"]) == [("乙方（签字）", 0, 60, -10)]
    assert places(borrower["after"]) == [("乙方（签字）", 0, 60, -10), ("", 1, 400, 120)]

    guarantor = changes["guarantor"]
    assert "before" not in guarantor
    assert (guarantor["after"]["kind"], places(guarantor["after"])) == ("PERSON", [("丙方（签字）", 0, 0, 0)])

    # Approved, the new positions are what new contracts sign at.
    assert reviewer.post(f"/v1/templates/{template_id}/versions/2:approve", {"comment": "ok"}).status_code == 200
    detail = uploader.get(f"/v1/templates/{template_id}").json()
    assert [s["role"] for s in detail["signers"]] == ["lender", "borrower", "guarantor"]
    assert places(detail["signers"][0]) == [("甲方（公章）", 0, 0, 0)]
