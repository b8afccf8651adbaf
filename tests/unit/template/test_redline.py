import io

import pytest
from docx import Document
from docx.oxml import parse_xml

from services.template.fields import FillField
from services.template.redline import (
    ADDED,
    BODY,
    DELETED,
    INSERTED,
    MODIFIED,
    REMOVED,
    DocParagraph,
    ParagraphChange,
    default_base,
    diff_fields,
    diff_paragraphs,
    diff_signers,
    paragraphs,
)
from services.template.signers import Position, SignerRole
from tests.unit.template.docx_builders import W_NS, parts_docx, replace_paragraph, simple_docx

CLAUSES = [
    "第一条 借款金额为{{ amount|money }}元。",
    "第二条 借款用途：{{ purpose }}。",
    "第三条 借款期限为{{ term_months }}个月。",
]


def texts(docx: bytes) -> list[str]:
    return [p.text for p in paragraphs(docx)]


def test_paragraphs_read_body_tables_header_and_footer_in_order():
    docx = simple_docx(
        ["标题", "", "   ", *CLAUSES],
        table=[["期数", "日期"], ["{%tr for p in plan %}", ""], ["{{ p.no }}", "{{ p.date }}"]],
        header="合同编号：{{ contract_no }}",
        footer="第 1 页",
    )
    assert paragraphs(docx) == [
        *(DocParagraph(BODY, t) for t in ["标题", *CLAUSES]),
        *(DocParagraph(BODY, t) for t in ["期数", "日期", "{%tr for p in plan %}", "{{ p.no }}", "{{ p.date }}"]),
        DocParagraph("header", "合同编号：{{ contract_no }}"),
        DocParagraph("footer", "第 1 页"),
    ]


EVERY_PART = dict(
    header="页眉：{{ contract_no }}",
    first_page_header="首页页眉：机密",
    even_page_header="偶数页页眉：{{ lender_name }}",
    footer="页脚：第 1 页",
    first_page_footer="首页页脚：签署前请核对",
    even_page_footer="偶数页页脚：{{ borrower_name }}",
    footnotes=["注1：年利率按{{ annual_rate }}%计。", "注2：逾期罚息上浮百分之五十。"],
    endnotes=["尾注：本合同一式两份。"],
    content_control=["第四条 争议提交{{ court }}管辖。"],
    text_box=["提示：请仔细阅读第三条。"],
)


def test_paragraphs_read_every_part_the_document_shows_labelled_with_where_they_live():
    assert paragraphs(parts_docx(CLAUSES, **EVERY_PART)) == [
        DocParagraph(BODY, CLAUSES[0]),
        DocParagraph("text box in body", "提示：请仔细阅读第三条。"),  # once, not again from its VML copy
        DocParagraph(BODY, CLAUSES[1]),
        DocParagraph(BODY, CLAUSES[2]),
        DocParagraph(BODY, "第四条 争议提交{{ court }}管辖。"),
        DocParagraph("header", "页眉：{{ contract_no }}"),
        DocParagraph("first-page header", "首页页眉：机密"),
        DocParagraph("even-page header", "偶数页页眉：{{ lender_name }}"),
        DocParagraph("footer", "页脚：第 1 页"),
        DocParagraph("first-page footer", "首页页脚：签署前请核对"),
        DocParagraph("even-page footer", "偶数页页脚：{{ borrower_name }}"),
        DocParagraph("footnote", "注1：年利率按{{ annual_rate }}%计。"),
        DocParagraph("footnote", "注2：逾期罚息上浮百分之五十。"),
        DocParagraph("endnote", "尾注：本合同一式两份。"),
    ]


@pytest.mark.parametrize(
    ("part", "location"),
    [
        ("header", "header"),
        ("first_page_header", "first-page header"),
        ("even_page_header", "even-page header"),
        ("footer", "footer"),
        ("first_page_footer", "first-page footer"),
        ("even_page_footer", "even-page footer"),
        ("footnotes", "footnote"),
        ("endnotes", "endnote"),
        ("content_control", BODY),
        ("text_box", "text box in body"),
    ],
)
def test_a_clause_changed_in_any_part_shows_where_it_changed(part, location):
    before = parts_docx(CLAUSES, **EVERY_PART)
    old = EVERY_PART[part] if isinstance(EVERY_PART[part], str) else EVERY_PART[part][0]
    new = old + "（修订）"
    changed = {**EVERY_PART, part: new if isinstance(EVERY_PART[part], str) else [new, *EVERY_PART[part][1:]]}
    after = parts_docx(CLAUSES, **changed)
    changes = diff_paragraphs(paragraphs(before), paragraphs(after))
    assert [(c.kind, c.text, c.location) for c in changes] == [(DELETED, old, location), (INSERTED, new, location)]
    assert changes[0].index == changes[1].index == texts(before).index(old)


def test_first_and_even_page_headers_and_footers_count_only_when_the_document_shows_them():
    hidden = parts_docx(CLAUSES, first_page_header="首页页眉", even_page_footer="偶数页页脚", show_first_and_even=False)
    assert texts(hidden) == CLAUSES
    shown = parts_docx(CLAUSES, first_page_header="首页页眉", even_page_footer="偶数页页脚")
    assert [(c.kind, c.text, c.location) for c in diff_paragraphs(paragraphs(hidden), paragraphs(shown))] == [
        (INSERTED, "首页页眉", "first-page header"),
        (INSERTED, "偶数页页脚", "even-page footer"),
    ]


def test_a_clause_moved_from_the_body_into_a_footnote_is_a_change():
    note = "逾期罚息上浮百分之五十。"
    before = parts_docx([*CLAUSES, note])
    after = parts_docx(CLAUSES, footnotes=[note])
    assert [(c.kind, c.text, c.location) for c in diff_paragraphs(paragraphs(before), paragraphs(after))] == [
        (DELETED, note, BODY),
        (INSERTED, note, "footnote"),
    ]


def test_inline_content_controls_and_tracked_insertions_are_read_tracked_deletions_are_not():
    document = Document()
    document.add_paragraph("借款人：")._p.append(parse_xml(
        f'<w:sdt xmlns:w="{W_NS}"><w:sdtPr/><w:sdtContent><w:r><w:t>{{{{ borrower_name }}}}</w:t></w:r></w:sdtContent></w:sdt>'
    ))
    tracked = document.add_paragraph("还款日为每月")._p
    tracked.append(parse_xml(f'<w:del xmlns:w="{W_NS}" w:id="1" w:author="a"><w:r><w:delText>15</w:delText></w:r></w:del>'))
    tracked.append(parse_xml(f'<w:ins xmlns:w="{W_NS}" w:id="2" w:author="a"><w:r><w:t>20</w:t></w:r></w:ins>'))
    tracked.append(parse_xml(f'<w:r xmlns:w="{W_NS}"><w:t>日。</w:t><w:br w:type="page"/></w:r>'))
    out = io.BytesIO()
    document.save(out)
    assert texts(out.getvalue()) == ["借款人：{{ borrower_name }}", "还款日为每月20日。"]


def test_merged_and_nested_cells_are_read_once():
    document = Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "合并单元格"
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "内层甲"
    inner.cell(0, 1).text = "内层乙"
    document.add_paragraph("表后段落")
    out = io.BytesIO()
    document.save(out)
    assert texts(out.getvalue()) == ["合并单元格", "内层甲", "内层乙", "表后段落"]


def test_a_changed_clause_is_one_deletion_and_one_insertion_at_its_place():
    before = simple_docx(CLAUSES)
    after = replace_paragraph(before, CLAUSES[1], "第二条 借款用途：{{ purpose }}，不得用于投资。")
    changes = diff_paragraphs(paragraphs(before), paragraphs(after))
    assert changes == [
        ParagraphChange(DELETED, 1, CLAUSES[1], BODY),
        ParagraphChange(INSERTED, 1, "第二条 借款用途：{{ purpose }}，不得用于投资。", BODY),
    ]


def body(*texts: str) -> list[DocParagraph]:
    return [DocParagraph(BODY, t) for t in texts]


def test_insertions_and_deletions_carry_their_own_indexes():
    before = body("a", "b", "c", "d")
    after = [*body("a", "new", "b", "d"), DocParagraph("footer", "tail")]
    assert diff_paragraphs(before, after) == [
        ParagraphChange(INSERTED, 1, "new", BODY),
        ParagraphChange(DELETED, 2, "c", BODY),
        ParagraphChange(INSERTED, 4, "tail", "footer"),
    ]


def test_identical_documents_have_no_changes():
    docx = simple_docx(CLAUSES)
    assert diff_paragraphs(paragraphs(docx), paragraphs(docx)) == []


def test_first_version_is_all_insertions():
    assert [c.kind for c in diff_paragraphs([], body(*CLAUSES))] == [INSERTED] * 3


def test_field_changes_name_loop_items_with_dots():
    plan = FillField("plan", "LOOP", True, (FillField("no", "NUMBER"), FillField("date", "DATE")))
    before = (FillField("amount", "NUMBER", True), FillField("purpose", "TEXT", True), plan)
    after = (
        FillField("amount", "TEXT", True),
        FillField("rate", "NUMBER", True),
        FillField("plan", "LOOP", True, (FillField("no", "NUMBER"), FillField("date", "DATE", True))),
    )
    changes = {(c.kind, c.name) for c in diff_fields(before, after)}
    assert changes == {(MODIFIED, "amount"), (REMOVED, "purpose"), (ADDED, "rate"), (MODIFIED, "plan.date")}


def test_signer_changes_cover_positions_date_stamp_and_riding_seal():
    lender = SignerRole("lender", "ORG", (Position(keyword="甲方（盖章）"),))
    borrower = SignerRole("borrower", "PERSON", (Position(page=3, x=400, y=120),))
    guarantor = SignerRole("guarantor", "PERSON", (Position(keyword="丙方"),))
    moved = SignerRole("borrower", "PERSON", (Position(page=3, x=420, y=120),))
    dated = SignerRole("lender", "ORG", (Position(keyword="甲方（盖章）"),), riding_seal=True,
                       date_position=Position(keyword="日期"))
    changes = diff_signers((lender, borrower, guarantor), (dated, moved))
    assert [(c.kind, c.role) for c in changes] == [(MODIFIED, "lender"), (MODIFIED, "borrower"), (REMOVED, "guarantor")]
    assert changes[1].before == borrower and changes[1].after == moved
    assert diff_signers((lender,), (lender, guarantor))[0].kind == ADDED
    assert diff_signers((lender,), (lender,)) == []


def test_default_base_is_the_approved_version_when_older():
    assert default_base(3, approved=1) == 1  # v2 was rejected: compare with what is in force
    assert default_base(2, approved=1) == 1
    assert default_base(2, approved=0) == 1
    assert default_base(1, approved=0) == 0
    assert default_base(2, approved=2) == 1  # the approved version itself: its predecessor
