"""docx→PDF through real LibreOffice workers: content, fonts, errors, concurrency."""
from __future__ import annotations

import ctypes
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest

from core import errors
from services.filegen.convert import ConverterPool
from services.filegen.preview import PDFIUM_LOCK, page_count, pdf_text, pdf_to_png

from .documents import PARTIES, REPAYMENTS, cjk_sample, loan_contract


def fonts_used(pdf: bytes) -> dict[str, bool]:
    """Base font name → embedded?, for every font that draws text."""
    fonts: dict[str, bool] = {}
    with PDFIUM_LOCK:
        document = pypdfium2.PdfDocument(pdf)
        try:
            for page in document:
                for item in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
                    font = pdfium_c.FPDFTextObj_GetFont(item.raw)
                    size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
                    name = ctypes.create_string_buffer(size)
                    pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
                    fonts[name.value.decode()] = bool(pdfium_c.FPDFFont_GetIsEmbedded(font))
        finally:
            document.close()
    return fonts


def test_chinese_text_and_table_reach_the_pdf(pool: ConverterPool) -> None:
    pdf = pool.convert(loan_contract(pages=3))

    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 3
    pages = pdf_text(pdf)
    first = pages[0]
    for word in PARTIES:
        assert word in first
    for row in REPAYMENTS:
        for value in row:
            assert value in first
    assert "第二页" in pages[1] and "第三页" in pages[2]


def test_cjk_font_is_embedded_as_a_subset(pool: ConverterPool) -> None:
    pdf = pool.convert(loan_contract(pages=1, cjk_font="宋体"))

    fonts = fonts_used(pdf)
    cjk = {name: embedded for name, embedded in fonts.items() if "CJK" in name}
    # 宋体 (SimSun) is mapped onto the Song-style (serif) Noto CJK face. The name does not
    # tell SC from JP: the .ttc's faces share one CFF table named after the JP face.
    assert any(name.startswith("NotoSerifCJK") for name in cjk), fonts
    assert all(cjk.values()), f"CJK fonts not embedded: {cjk}"
    assert all(fonts.values()), f"fonts not embedded: {fonts}"
    # Subset fonts carry a six-letter tag before their name (ISO 32000 9.6.4).
    subsets = re.findall(rb"/BaseFont\s*/[A-Z]{6}\+([\w-]+)", pdf)
    assert any(b"CJK" in name for name in subsets), subsets


def test_chinese_font_names_render_with_simplified_chinese_noto_faces(pool: ConverterPool) -> None:
    def looks(font: str) -> bytes:
        return pdf_to_png(pool.convert(cjk_sample(font)), dpi=100)[0]

    song = looks("Noto Serif CJK SC")
    assert looks("宋体") == song
    assert looks("仿宋_GB2312") == song
    assert looks("Noto Serif CJK JP") != song  # the glyphs really differ between the faces
    assert looks("黑体") == looks("Noto Sans CJK SC")


def test_unreadable_document_is_invalid_argument_and_the_worker_survives(pool: ConverterPool) -> None:
    before = {info.name for info in pool.worker_info()}

    with pytest.raises(errors.InvalidArgument, match=r"not a readable \.docx"):
        pool.convert(b"PK\x03\x04 this is not a word document")
    with pytest.raises(errors.InvalidArgument, match="empty"):
        pool.convert(b"")

    assert page_count(pool.convert(loan_contract(pages=1))) == 1
    assert {info.name for info in pool.worker_info()} == before


def test_concurrent_callers_all_get_their_own_pdf(pool: ConverterPool) -> None:
    documents = [loan_contract(pages=n) for n in (1, 2, 3, 1, 2, 3)]

    with ThreadPoolExecutor(max_workers=4) as callers:
        pdfs = list(callers.map(pool.convert, documents))

    assert [page_count(pdf) for pdf in pdfs] == [1, 2, 3, 1, 2, 3]


def test_job_directories_are_removed(pool: ConverterPool) -> None:
    pool.convert(loan_contract(pages=1))

    root = pool.settings.job_root
    assert root is not None
    leftovers = [path for path in Path(root).rglob("job-*")]
    assert leftovers == []


def test_a_warm_conversion_is_fast(pool: ConverterPool) -> None:
    document = loan_contract(pages=3)
    pool.convert(document)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        pool.convert(document)
        timings.append(time.perf_counter() - started)

    # Generous bound for a loaded 2-core CI machine: a cold soffice alone takes seconds.
    assert min(timings) < 1.0, timings


@pytest.mark.parametrize("data", ["loan contract", "rich text, lists and a table"])
def test_dropping_unused_styles_changes_no_pixel(pool: ConverterPool, data: str) -> None:
    from PIL import Image, ImageChops

    from services.filegen.fill import fill_docx
    from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes

    values = loan_contract_data()
    if data != "loan contract":
        values["special_terms"] = {"$html": "<p><b>加粗</b><i>斜体</i><u>下划线</u></p><ul><li>一</li><li>二</li></ul>"
                                            "<ol><li>甲</li></ol><table><tr><th>列</th></tr><tr><td>值</td></tr></table>"}
    full, slim = (fill_docx(loan_contract_docx_bytes(), values, compress=False, slim=s) for s in (False, True))
    assert len(slim) < len(full) * 0.8  # most of styles.xml is gone
    pages = [pdf_to_png(pool.convert(document), dpi=100) for document in (full, slim)]
    assert len(pages[0]) == len(pages[1]) == 3
    for number, (before, after) in enumerate(zip(*pages), start=1):
        images = [Image.open(io.BytesIO(png)).convert("RGB") for png in (before, after)]
        assert ImageChops.difference(*images).getbbox() is None, f"page {number} differs"
