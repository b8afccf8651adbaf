"""Fill features read back from the PDF that RenderDocument returns: filters, conditionals,
table rows, rich text (bold checked on the fonts of the text objects), images by size.

Each test uses its own template or data: the service caches renders by template and data.
"""
from __future__ import annotations

import re

import grpc
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from services.filegen import preview
from tests.fixtures.docx_fixtures import png_bytes, seal_png, simple_docx
from tests.integration.filegen.test_filegen_rpc import _render, _violations, filegen  # noqa: F401 (fixture)

POINTS_PER_MM = 72 / 25.4
SIZE_TOLERANCE_PT = 1.5


def _pdf(filegen, docx: bytes, data: dict) -> bytes:
    return _render(filegen, docx, data).pdf.data


def _lines(pdf: bytes) -> list[str]:
    return [line.strip() for page in preview.pdf_text(pdf) for line in page.split("\n") if line.strip()]


def _squeezed(pdf: bytes) -> str:
    """All the text without whitespace: extraction spaces a change between CJK and Latin fonts."""
    return re.sub(r"\s+", "", "".join(preview.pdf_text(pdf)))


def _text_objects(pdf: bytes) -> list[tuple[str, str]]:
    """(text, base font name without the subset prefix) of every text object in the PDF."""
    document = pdfium.PdfDocument(pdf)
    try:
        found = []
        for page in document:
            textpage = page.get_textpage()
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], textpage=textpage):
                font = obj.get_font().get_base_name().split("+")[-1]
                found.append((obj.extract().strip(), font))
        return found
    finally:
        document.close()


def _fonts_of(pdf: bytes, text: str) -> set[str]:
    fonts = {font for content, font in _text_objects(pdf) if text in content}
    assert fonts, f"no text object shows {text!r}"
    return fonts


def _is_bold(font: str) -> bool:
    # LibreOffice embeds the real bold face (NotoSerifCJK…-Bold, Caladea-Bold); pdfium reports
    # weight 400 for every embedded subset, so the face's name is what tells.
    return "bold" in font.lower()


def _images(pdf: bytes) -> dict[tuple[int, int], tuple[float, float]]:
    """Pixel size of each image object → its drawn (width, height) in points."""
    document = pdfium.PdfDocument(pdf)
    try:
        found = {}
        for page in document:
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                left, bottom, right, top = obj.get_bounds()
                found[tuple(obj.get_px_size())] = (right - left, top - bottom)
        return found
    finally:
        document.close()


def test_date_money_and_chinese_amount_filters(filegen):
    docx = simple_docx("签订日期：{{ signed|cn_date }}", "金额：{{ a|money }}（{{ a|cn_upper }}）",
                       "尾款：{{ b|money }}（{{ b|cn_upper }}）")
    text = _squeezed(_pdf(filegen, docx, {"signed": "2026-03-05", "a": 50000, "b": 1234567.89}))
    assert "签订日期：2026年3月5日" in text
    assert "金额：50,000.00（伍万元整）" in text
    assert "尾款：1,234,567.89（壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分）" in text


@pytest.mark.parametrize(("flag", "shown", "hidden"), [(True, "甲", "乙"), (False, "乙", "甲")])
def test_conditionals_print_exactly_one_branch(filegen, flag, shown, hidden):
    docx = simple_docx("条件：{% if flag %}甲方承担运费{% else %}乙方承担运费{% endif %}。",
                       "{%p if flag %}", "甲方另行提供保险。", "{%p else %}", "乙方自行投保。", "{%p endif %}", "结束")
    text = _squeezed(_pdf(filegen, docx, {"flag": flag}))
    assert f"条件：{shown}方承担运费。" in text and f"{hidden}方承担运费" not in text
    assert ("甲方另行提供保险。" in text) is flag and ("乙方自行投保。" in text) is not flag
    assert "{%" not in text and "结束" in text


def test_table_rows_repeat_once_per_item_in_order(filegen):
    items = [{"no": n, "name": f"货物{'一二三四五六七'[n - 1]}号", "price": 1000 * n + 0.5} for n in range(1, 8)]
    docx = simple_docx("清单如下：", table=[["序号", "品名", "单价"], ["{%tr for i in items %}", "", ""],
                                            ["{{ i.no }}", "{{ i.name }}", "{{ i.price|money }}"],
                                            ["{%tr endfor %}", "", ""], ["共计", "{{ items|length }}项", ""]])
    text = _squeezed(_pdf(filegen, docx, {"items": items}))
    rows = [f"{i['no']}{i['name']}{i['price']:,.2f}" for i in items]
    positions = [text.find(row) for row in rows]
    assert -1 not in positions, (rows, text)
    assert positions == sorted(positions) and text.find("序号品名单价") < positions[0]
    assert all(text.count(i["name"]) == 1 for i in items)
    assert "共计7项" in text[positions[-1]:] and "{%" not in text and "endfor" not in text


RICH_HTML = (
    "<p>总则：普通条款 <b>粗体条款</b> 以及 <strong>加重条款</strong></p>"
    "<p>首行文字<br>次行文字</p>"
    "<p><i>Slanted</i> then <u>Underlined</u> then Plainly</p>"
    "<ul><li>苹果条目</li><li>香蕉条目</li></ul>"
    "<ol><li>第一要点</li><li>第二要点</li></ol>"
    "<table><tr><th>表头甲</th><th>表头乙</th></tr><tr><td>格子丙</td><td>格子丁</td></tr></table>"
    "<p>收尾段落</p>"
)


@pytest.fixture(scope="module")
def rich_pdf(filegen) -> bytes:
    return _pdf(filegen, simple_docx("前文", "{{p clause }}", "后文"), {"clause": {"$html": RICH_HTML}})


def test_rich_text_paragraphs_lists_and_table_come_out_as_lines(rich_pdf):
    lines = [re.sub(r"\s+", "", line) for line in _lines(rich_pdf)]  # extraction spaces font changes
    assert lines == [
        "前文",
        "总则：普通条款粗体条款以及加重条款",
        "首行文字", "次行文字",  # <br> breaks the line
        "SlantedthenUnderlinedthenPlainly",
        "•苹果条目", "•香蕉条目",
        "1.第一要点", "2.第二要点",
        "表头甲表头乙", "格子丙格子丁",
        "收尾段落",
        "后文",
    ]


def test_rich_text_bold_and_italic_use_bold_and_italic_fonts(rich_pdf):
    for bold in ("粗体条款", "加重条款", "表头甲"):
        assert all(_is_bold(font) for font in _fonts_of(rich_pdf, bold)), (bold, _fonts_of(rich_pdf, bold))
    for regular in ("总则：普通条款", "格子丙", "Plainly"):
        assert not any(_is_bold(font) for font in _fonts_of(rich_pdf, regular)), regular
    assert all("italic" in font.lower() for font in _fonts_of(rich_pdf, "Slanted"))
    assert not any("italic" in font.lower() for font in _fonts_of(rich_pdf, "Plainly"))


def test_images_from_bytes_and_from_a_blob_are_drawn_at_the_requested_size(filegen, mesh):
    banner = png_bytes(200, 100, lambda x, y: (20, 60, 200, 255))
    ref = mesh.contexts["filegen"].blobs.put(banner)
    docx = simple_docx("印章：{{ seal }}", "横幅：{{ banner }}")
    data = {"seal": {"$image": seal_png(), "width_mm": 31}, "banner": {"$image_ref": ref, "width_mm": 52}}
    drawn = _images(_pdf(filegen, docx, data))
    assert set(drawn) == {(160, 160), (200, 100)}, drawn
    expected = {(160, 160): (31, 31), (200, 100): (52, 26)}  # one size given: the aspect ratio is kept
    for pixels, (width_mm, height_mm) in expected.items():
        width, height = drawn[pixels]
        assert abs(width - width_mm * POINTS_PER_MM) <= SIZE_TOLERANCE_PT, (pixels, drawn[pixels])
        assert abs(height - height_mm * POINTS_PER_MM) <= SIZE_TOLERANCE_PT, (pixels, drawn[pixels])


def test_an_image_reference_to_nothing_stored_names_the_data_field(filegen):
    docx = simple_docx("盖章：{{ parties.lender_seal }}")
    with pytest.raises(grpc.RpcError) as caught:
        _render(filegen, docx, {"parties": {"lender_seal": {"$image_ref": "sha256:" + "0" * 64}}})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(caught.value) == ["data.parties.lender_seal"]
