"""Where a signature goes on the page: a keyword anchor or page + x + y.

Coordinates are PDF user space in points (1/72 inch) with the origin at the
page's bottom-left corner, the space both pdfium's character boxes and the
signature widget's /Rect use. A placement is the widget rectangle; it is
centred on the anchor point and pushed back inside the page's crop box when
it would stick out, so a seal near the margin stays fully visible.

PDFium (text positions) is not thread-safe and the service's handlers run on many
threads, so every call into it holds ``_PDFIUM_LOCK``. Page boxes come from pyHanko's
reader instead: it parses only the page tree, where PDFium would load and lay out the
whole page (a few milliseconds per page with non-embedded CJK fonts).
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import pypdfium2 as pdfium
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler

from core.errors import NotFound, invalid

_PDFIUM_LOCK = threading.Lock()

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


def find_keyword(pdf: bytes, keyword: str, page_index: int | None = None) -> list[KeywordHit]:
    """Every occurrence of ``keyword`` in reading order, with its bounding box; only on
    page ``page_index`` (0-based) when one is given, so other pages are never read."""
    if not keyword.strip():
        raise invalid("keyword", "must not be empty")
    with _PDFIUM_LOCK:
        doc = _open(pdf)
        try:
            pages = range(len(doc)) if page_index is None else range(len(doc))[page_index:page_index + 1]
            return [hit for index in pages for hit in _page_hits(doc, index, keyword)]
        finally:
            doc.close()


def _page_hits(doc: pdfium.PdfDocument, index: int, keyword: str) -> list[KeywordHit]:
    hits: list[KeywordHit] = []
    text = doc[index].get_textpage()
    searcher = text.search(keyword, match_case=True)
    while (found := searcher.get_next()) is not None:
        start, count = found
        boxes = [text.get_charbox(i) for i in range(start, start + count)]
        # Spaces and line ends report empty boxes; they must not stretch the union.
        boxes = [b for b in boxes if b[2] > b[0] and b[3] > b[1]] or boxes
        hits.append(KeywordHit(index, (
            min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))))
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
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        count = int(reader.root["/Pages"]["/Count"])
    except (misc.PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise invalid("pdf", f"cannot be opened: {exc}") from exc
    if not 0 <= page_index < count:
        raise invalid("page", f"must be between 1 and {count}")
    return crop_box(reader, page_index)


def crop_box(handler: PdfHandler, page_index: int) -> Rect:
    """The crop box (else media box; both inheritable) of a page of an open document."""
    page_ref, _ = handler.find_page_for_modification(page_index)
    node = page_ref.get_object()
    crop = media = None
    while node is not None and (crop is None or media is None):
        if crop is None and "/CropBox" in node:
            crop = node["/CropBox"]
        if media is None and "/MediaBox" in node:
            media = node["/MediaBox"]
        node = node["/Parent"] if "/Parent" in node else None
    box = crop if crop is not None else media
    if box is None:
        raise invalid("pdf", f"page {page_index + 1} has no MediaBox")
    x1, y1, x2, y2 = (float(v) for v in box)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def page_count(pdf: bytes) -> int:
    with _PDFIUM_LOCK:
        doc = _open(pdf)
        try:
            return len(doc)
        finally:
            doc.close()
