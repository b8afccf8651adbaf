"""The redline through REST covers every part a contract shows, not only the body."""
from __future__ import annotations

from tests.integration.template.helpers import b64, created
from tests.unit.template.docx_builders import parts_docx

SIGNERS = [{"role": "lender", "kind": "ORG", "positions": [{"keyword": "甲方（盖章）"}]}]
BODY = ["借款合同", "第一条 借款金额为{{ amount }}元。", "甲方（盖章）："]
PARTS = dict(
    header="合同编号：{{ contract_no }}",
    first_page_header="首页页眉：本合同一式两份",
    footer="第 1 页",
    footnotes=["注：年利率按{{ annual_rate }}%计。"],
    endnotes=["尾注：争议由甲方所在地法院管辖。"],
    content_control=["第二条 借款用途为{{ purpose }}。"],
    text_box=["提示：请仔细阅读第二条。"],
)


def test_the_redline_shows_changes_in_notes_first_page_headers_content_controls_and_text_boxes(uploader, reviewer):
    template_id = created(uploader, parts_docx(BODY, **PARTS), signers=SIGNERS)["templateId"]
    assert reviewer.post(f"/v1/templates/{template_id}/versions/1:approve", {"comment": "ok"}).status_code == 200

    changed = {
        **PARTS,
        "first_page_header": "首页页眉：本合同一式三份",
        "footnotes": ["注：年利率按{{ annual_rate }}%计，逾期上浮百分之五十。"],
        "endnotes": ["尾注：争议提交仲裁委员会仲裁。"],
        "content_control": ["第二条 借款用途为{{ purpose }}，不得用于投资。"],
        "text_box": ["提示：请仔细阅读第二条及第三条。"],
    }
    reply = uploader.post(f"/v1/templates/{template_id}/versions", {"docx": b64(parts_docx(BODY, **changed))})
    assert reply.status_code == 200, reply.text

    redline = uploader.get(f"/v1/templates/{template_id}/versions/2/redline")
    assert redline.status_code == 200, redline.text
    assert [(c["kind"], c["location"], c["text"]) for c in redline.json()["paragraphs"]] == [
        ("DELETED", "text box in body", "提示：请仔细阅读第二条。"),
        ("INSERTED", "text box in body", "提示：请仔细阅读第二条及第三条。"),
        ("DELETED", "body", "第二条 借款用途为{{ purpose }}。"),
        ("INSERTED", "body", "第二条 借款用途为{{ purpose }}，不得用于投资。"),
        ("DELETED", "first-page header", "首页页眉：本合同一式两份"),
        ("INSERTED", "first-page header", "首页页眉：本合同一式三份"),
        # The notes follow one another: one run of deletions, then one of insertions.
        ("DELETED", "footnote", "注：年利率按{{ annual_rate }}%计。"),
        ("DELETED", "endnote", "尾注：争议由甲方所在地法院管辖。"),
        ("INSERTED", "footnote", "注：年利率按{{ annual_rate }}%计，逾期上浮百分之五十。"),
        ("INSERTED", "endnote", "尾注：争议提交仲裁委员会仲裁。"),
    ]
