"""Where a signature goes on the page: a keyword anchor or page + x + y.

Coordinates are PDF user space in points (1/72 inch) with the origin at the
page's bottom-left corner, the space both pdfium's character boxes and the
signature widget's /Rect use. A placement is the widget rectangle; it is
centred on the anchor point and pushed back inside the page's crop box when
it would stick out, so a seal near the margin stays fully visible.
"""
from __future__ import annotations

from dataclasses import dataclass

import pypdfium2 as pdfium

from core.errors import NotFound, invalid

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass(frozen=True)
class Placement:
    """A signature widget rectangle on one page (0-based index)."""

    page_index: int
    rect: Rect

    @property
    def width(self) -> float:
        return self.rect[2] - self.rect[0]

    @property
    def height(self) -> float:
        return self.rect[3] - self.rect[1]


@dataclass(frozen=True)
class KeywordHit:
    page_index: int
    rect: Rect

    @property
    def center(self) -> tuple[float, float]:
        return (self.rect[0] + self.rect[2]) / 2, (self.rect[1] + self.rect[3]) / 2


def _open(pdf: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise invalid("pdf", f"cannot be opened: {exc}") from exc


def find_keyword(pdf: bytes, keyword: str) -> list[KeywordHit]:
    """Every occurrence of ``keyword`` in reading order, with its bounding box."""
    if not keyword.strip():
        raise invalid("keyword", "must not be empty")
    doc = _open(pdf)
    hits: list[KeywordHit] = []
    try:
        for index in range(len(doc)):
            page = doc[index]
            text = page.get_textpage()
            searcher = text.search(keyword, match_case=True)
            while (found := searcher.get_next()) is not None:
                start, count = found
                boxes = [text.get_charbox(i) for i in range(start, start + count)]
                # Spaces and line ends report empty boxes; they must not stretch the union.
                boxes = [b for b in boxes if b[2] > b[0] and b[3] > b[1]] or boxes
                hits.append(KeywordHit(index, (
                    min(b[0] for b in boxes), min(b[1] for b in boxes),
                    max(b[2] for b in boxes), max(b[3] for b in boxes))))
    finally:
        doc.close()
    return hits


def keyword_placement(pdf: bytes, keyword: str, *, width: float, height: float,
                      offset: tuple[float, float] = (0.0, 0.0), occurrence: int = -1) -> Placement:
    """A ``width`` × ``height`` box centred on an occurrence of ``keyword`` (by default
    the last, where signature blocks usually are), moved by ``offset`` points."""
    hits = find_keyword(pdf, keyword)
    if not hits:
        raise NotFound(f"keyword {keyword!r} does not occur in the document")
    try:
        hit = hits[occurrence]
    except IndexError:
        raise invalid("occurrence", f"the keyword occurs only {len(hits)} times") from None
    cx, cy = hit.center
    return _centred(pdf, hit.page_index, cx + offset[0], cy + offset[1], width, height)


def point_placement(pdf: bytes, page: int, x: float, y: float, *, width: float, height: float) -> Placement:
    """A ``width`` × ``height`` box centred on (x, y) of ``page`` (1-based, as in the API)."""
    return _centred(pdf, page - 1, x, y, width, height)


def _centred(pdf: bytes, page_index: int, cx: float, cy: float, width: float, height: float) -> Placement:
    if width <= 0 or height <= 0:
        raise invalid("size", "width and height must be positive")
    left, bottom, right, top = page_box(pdf, page_index)
    if width > right - left or height > top - bottom:
        raise invalid("size", "the signature is larger than the page")
    if not (left <= cx <= right and bottom <= cy <= top):
        raise invalid("position", f"({cx:g}, {cy:g}) is outside page {page_index + 1}")
    x1 = min(max(cx - width / 2, left), right - width)
    y1 = min(max(cy - height / 2, bottom), top - height)
    return Placement(page_index, (x1, y1, x1 + width, y1 + height))


def page_box(pdf: bytes, page_index: int) -> Rect:
    """The crop box of a page (what viewers show)."""
    doc = _open(pdf)
    try:
        if not 0 <= page_index < len(doc):
            raise invalid("page", f"must be between 1 and {len(doc)}")
        left, bottom, right, top = doc[page_index].get_cropbox()
        return float(left), float(bottom), float(right), float(top)
    finally:
        doc.close()


def page_count(pdf: bytes) -> int:
    doc = _open(pdf)
    try:
        return len(doc)
    finally:
        doc.close()
