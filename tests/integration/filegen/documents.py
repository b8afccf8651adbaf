"""Word documents built for the filegen tests with python-docx."""
from __future__ import annotations

import io

import docx
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml.ns import qn
from docx.oxml.shared import OxmlElement
from docx.text.paragraph import Paragraph

PARTIES = ("借款合同", "甲方", "乙方")
_NUMERALS = "零一二三四五六七八九十"
REPAYMENTS = [("2025-01-15", "壹万元整", "10,000.00"), ("2025-02-15", "贰万元整", "20,000.00")]


def _save(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _east_asian_run(paragraph: Paragraph, text: str, font: str) -> None:
    run = paragraph.add_run(text)
    run.font.name = font
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def loan_contract(pages: int = 3, cjk_font: str = "宋体") -> bytes:
    """A Chinese loan contract: a title, the parties, a repayment table, and one
    explicit page break per extra page (so the page count is known)."""
    document = docx.Document()
    _east_asian_run(document.add_paragraph(), "借款合同", cjk_font)
    _east_asian_run(document.add_paragraph(), "甲方（出借人）：北京某某科技有限公司", cjk_font)
    _east_asian_run(document.add_paragraph(), "乙方（借款人）：张三", cjk_font)
    table = document.add_table(rows=1 + len(REPAYMENTS), cols=3)
    for column, heading in enumerate(("还款日期", "大写金额", "金额")):
        table.cell(0, column).text = heading
    for row, values in enumerate(REPAYMENTS, start=1):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    for page in range(2, pages + 1):
        document.add_page_break()
        # Chinese numerals: Writer puts a thin space between Han and Latin digits.
        _east_asian_run(document.add_paragraph(), f"第{_NUMERALS[page]}页 条款", cjk_font)
    return _save(document)


def long_document(paragraphs: int) -> bytes:
    """Many pages of text: a conversion that takes a few seconds."""
    document = docx.Document()
    for number in range(paragraphs):
        document.add_paragraph(f"第{number}条 借款人应按期还款。" + "条款内容 lorem ipsum " * 20)
    return _save(document)


def in_font(family: str, text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph().add_run(text).font.name = family
    return _save(document)


def hostile_preview_source() -> bytes:
    """Text that looks like markup and a javascript: link, for the HTML preview."""
    document = docx.Document()
    document.add_paragraph("借款合同")
    document.add_paragraph('<script>alert("x")</script> & "quotes" <b>not bold</b>')
    paragraph = document.add_paragraph("see ")
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), paragraph.part.relate_to("javascript:alert(1)", RELATIONSHIP_TYPE.HYPERLINK,
                                                  is_external=True))
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "the terms"
    run.append(text)
    link.append(run)
    paragraph._p.append(link)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "甲方"
    table.cell(0, 1).text = "乙方"
    return _save(document)


def cjk_sample(font: str) -> bytes:
    """Han characters whose Simplified Chinese and Japanese glyphs differ, in ``font``."""
    document = docx.Document()
    _east_asian_run(document.add_paragraph(), "骨 直 角 户 借款", font)
    return _save(document)
