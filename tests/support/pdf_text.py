"""What a reader sees printed in a PDF: text in a box of a page, appearances included."""
from __future__ import annotations

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c


def text_in(pdf: bytes, page_index: int, box: tuple[float, float, float, float]) -> str:
    """The text inside ``box`` (x1, y1, x2, y2 in points) of a page, after flattening its
    annotations into the page, so signature appearances (seals, date stamps) count."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        if pdfium_c.FPDFPage_Flatten(page.raw, pdfium_c.FLAT_PRINT) == pdfium_c.FLATTEN_FAIL:
            raise AssertionError(f"page {page_index + 1} could not be flattened")
        page.close()
        page = document[page_index]  # reloaded: flattening leaves the open page stale
        return page.get_textpage().get_text_bounded(*box)
    finally:
        document.close()
