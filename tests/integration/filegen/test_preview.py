"""PNG pages, page text and the themed HTML preview."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from core import errors
from services.filegen.convert import ConverterPool
from services.filegen.preview import docx_to_html, pdf_text, pdf_to_png

from .documents import hostile_preview_source, loan_contract

LETTER_INCHES = (8.5, 11)  # python-docx's default page


@pytest.fixture(scope="module")
def contract_pdf(pool: ConverterPool) -> bytes:
    return pool.convert(loan_contract(pages=3))


@pytest.mark.parametrize("dpi", [36, 72, 150])
def test_png_pages_have_the_size_of_the_dpi(contract_pdf: bytes, dpi: int) -> None:
    images = pdf_to_png(contract_pdf, dpi=dpi)

    assert len(images) == 3
    for data in images:
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        width, height = image.size
        assert abs(width - LETTER_INCHES[0] * dpi) <= 1 and abs(height - LETTER_INCHES[1] * dpi) <= 1


def test_png_of_chosen_pages(contract_pdf: bytes) -> None:
    [second] = pdf_to_png(contract_pdf, dpi=50, pages=[2])
    first, again = pdf_to_png(contract_pdf, dpi=50, pages=[1, 2])

    assert again == second and first != second


def test_png_bounds_are_invalid_argument(contract_pdf: bytes) -> None:
    with pytest.raises(errors.InvalidArgument, match="dpi"):
        pdf_to_png(contract_pdf, dpi=10)
    with pytest.raises(errors.InvalidArgument, match="dpi"):
        pdf_to_png(contract_pdf, dpi=1200)
    with pytest.raises(errors.InvalidArgument, match="no such page 4"):
        pdf_to_png(contract_pdf, dpi=72, pages=[1, 4])
    with pytest.raises(errors.InvalidArgument, match="at least one page"):
        pdf_to_png(contract_pdf, dpi=72, pages=[])
    with pytest.raises(errors.InvalidArgument, match="not a readable PDF"):
        pdf_to_png(b"%PDF-1.7 truncated", dpi=72)


def test_pdf_text_per_page(contract_pdf: bytes) -> None:
    pages = pdf_text(contract_pdf)

    assert len(pages) == 3
    assert "借款合同" in pages[0] and "第二页" in pages[1] and "第三页" in pages[2]
    assert "借款合同" not in pages[2]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_html_preview_shows_the_text_in_the_chosen_theme(theme: str) -> None:
    page = docx_to_html(loan_contract(pages=2), theme=theme)  # type: ignore[arg-type]

    assert page.startswith("<!DOCTYPE html>")
    assert f'<html lang="zh-CN" data-theme="{theme}">' in page
    for text in ("借款合同", "甲方", "乙方", "还款日期", "壹万元整", "第二页"):
        assert text in page
    assert "<table>" in page
    assert page.count("<hr>") == 1  # the page break
    # Both themes travel in every page, as CSS variables.
    assert ':root[data-theme="light"]' in page and ':root[data-theme="dark"]' in page
    assert "--bg:" in page and "var(--bg)" in page


def test_html_preview_is_inert() -> None:
    page = docx_to_html(hostile_preview_source())

    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert not re.search(r"<script|<b>|javascript:|\son\w+=", page, re.IGNORECASE)
    assert "the terms" in page  # the link text stays, its javascript: target does not
    assert "default-src 'none'" in page


def test_html_preview_rejects_bad_input() -> None:
    with pytest.raises(errors.InvalidArgument, match="theme"):
        docx_to_html(loan_contract(pages=1), theme="sepia")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument, match=r"not a readable \.docx"):
        docx_to_html(b"PK\x03\x04 not a zip")
    with pytest.raises(errors.InvalidArgument, match="empty"):
        docx_to_html(b"")
