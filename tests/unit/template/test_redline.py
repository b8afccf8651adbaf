import io

from docx import Document

from services.template.fields import FillField
from services.template.redline import (
    ADDED,
    DELETED,
    INSERTED,
    MODIFIED,
    REMOVED,
    ParagraphChange,
    default_base,
    diff_fields,
    diff_paragraphs,
    diff_signers,
    paragraph_texts,
)
from services.template.signers import Position, SignerRole
from tests.unit.template.docx_builders import replace_paragraph, simple_docx

CLAUSES = [
    "第一条 借款金额为{{ amount|money }}元。",
    "第二条 借款用途：{{ purpose }}。",
    "第三条 借款期限为{{ term_months }}个月。",
]


def test_paragraph_texts_read_body_tables_header_and_footer_in_order():
    docx = simple_docx(
        ["标题", "", "   ", *CLAUSES],
        table=[["期数", "日期"], ["{%tr for p in plan %}", ""], ["{{ p.no }}", "{{ p.date }}"]],
        header="合同编号：{{ contract_no }}",
        footer="第 1 页",
    )
    assert paragraph_texts(docx) == [
        "标题",
        *CLAUSES,
        "期数", "日期", "{%tr for p in plan %}", "{{ p.no }}", "{{ p.date }}",
        "合同编号：{{ contract_no }}",
        "第 1 页",
    ]


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
    assert paragraph_texts(out.getvalue()) == ["合并单元格", "内层甲", "内层乙", "表后段落"]


def test_a_changed_clause_is_one_deletion_and_one_insertion_at_its_place():
    before = simple_docx(CLAUSES)
    after = replace_paragraph(before, CLAUSES[1], "第二条 借款用途：{{ purpose }}，不得用于投资。")
    changes = diff_paragraphs(paragraph_texts(before), paragraph_texts(after))
    assert changes == [
        ParagraphChange(DELETED, 1, CLAUSES[1]),
        ParagraphChange(INSERTED, 1, "第二条 借款用途：{{ purpose }}，不得用于投资。"),
    ]


def test_insertions_and_deletions_carry_their_own_indexes():
    before = ["a", "b", "c", "d"]
    after = ["a", "new", "b", "d", "tail"]
    assert diff_paragraphs(before, after) == [
        ParagraphChange(INSERTED, 1, "new"),
        ParagraphChange(DELETED, 2, "c"),
        ParagraphChange(INSERTED, 4, "tail"),
    ]


def test_identical_documents_have_no_changes():
    docx = simple_docx(CLAUSES)
    assert diff_paragraphs(paragraph_texts(docx), paragraph_texts(docx)) == []


def test_first_version_is_all_insertions():
    assert [c.kind for c in diff_paragraphs([], CLAUSES)] == [INSERTED] * 3


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
