"""Previews: PDF pages as PNG, PDF text per page, and .docx as themed, safe HTML.

PDFium is not thread-safe, so every call into it (here and from ``convert``) holds
``PDFIUM_LOCK``; gRPC handlers call these functions from many threads.
"""
from __future__ import annotations

import base64
import html
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import mammoth
import nh3
import pypdfium2

from core import errors

log = logging.getLogger(__name__)

PDFIUM_LOCK = threading.Lock()

MIN_DPI, MAX_DPI = 36, 300
MAX_PAGES_PER_CALL = 50
MAX_PAGE_PIXELS = 40_000_000  # one page at the chosen DPI; guards odd page sizes

Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")


@contextmanager
def _open_pdf(pdf: bytes) -> Iterator[pypdfium2.PdfDocument]:
    with PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError:
            raise errors.invalid("pdf", "is not a readable PDF") from None
        try:
            yield document
        finally:
            document.close()


def page_count(pdf: bytes) -> int:
    """Number of pages; InvalidArgument if ``pdf`` does not open."""
    with _open_pdf(pdf) as document:
        return len(document)


def pdf_text(pdf: bytes) -> list[str]:
    """The text of each page, lines separated by ``\\n``."""
    with _open_pdf(pdf) as document:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range().replace("\r\n", "\n"))
            textpage.close()
            page.close()
        return texts


def pdf_to_png(pdf: bytes, dpi: int = 96, pages: list[int] | None = None) -> list[bytes]:
    """Render pages (1-based numbers; all pages when None) as PNG images at ``dpi``."""
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise errors.invalid("dpi", f"must be between {MIN_DPI} and {MAX_DPI}, got {dpi}")
    if pages is not None and not pages:
        raise errors.invalid("pages", "must name at least one page, or be left out for all pages")
    scale = dpi / 72  # PDF user space is 72 units per inch
    with _open_pdf(pdf) as document:
        total = len(document)
        wanted = list(range(1, total + 1)) if pages is None else pages
        if len(wanted) > MAX_PAGES_PER_CALL:
            raise errors.invalid("pages", f"at most {MAX_PAGES_PER_CALL} pages per call; the document has {total}")
        bad = [number for number in wanted if not 1 <= number <= total]
        if bad:
            raise errors.invalid("pages", f"no such page {bad[0]}; the document has {total} pages")
        images = []
        for number in wanted:
            page = document[number - 1]
            width, height = page.get_size()
            if width * scale * height * scale > MAX_PAGE_PIXELS:
                page.close()
                raise errors.invalid("dpi", f"page {number} would exceed {MAX_PAGE_PIXELS} pixels at {dpi} dpi")
            bitmap = page.render(scale=scale, may_draw_forms=True)
            buffer = io.BytesIO()
            bitmap.to_pil().save(buffer, format="PNG")
            bitmap.close()
            page.close()
            images.append(buffer.getvalue())
        return images


# -- HTML preview ---------------------------------------------------------------------

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "sup", "sub",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "td", "th", "a", "img", "blockquote", "pre", "code",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "id"}, "img": {"src", "alt"}, "td": {"colspan", "rowspan"},
                       "th": {"colspan", "rowspan"}, "p": {"id"}, "li": {"id"}, "ol": {"id"}}
_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif"}

# Both themes ship in every page; data-theme on <html> picks one.
_STYLE = """
:root[data-theme="light"] {
  color-scheme: light;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --border: #d1d9e0;
  --head-bg: #f6f8fa; --link: #0969da; --page: #ffffff; --shadow: rgba(31, 35, 40, .12);
}
:root[data-theme="dark"] {
  color-scheme: dark;
  --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --border: #3d444d;
  --head-bg: #151b23; --link: #4493f8; --page: #161b22; --shadow: rgba(0, 0, 0, .5);
}
html { background: var(--bg); color: var(--fg); }
body {
  margin: 0; padding: 24px 12px;
  font: 16px/1.7 "Noto Serif CJK SC", "Songti SC", SimSun, serif;
}
main {
  max-width: 800px; margin: 0 auto; padding: 48px 56px; box-sizing: border-box;
  background: var(--page); border: 1px solid var(--border); box-shadow: 0 2px 12px var(--shadow);
}
h1, h2, h3, h4, h5, h6 { font-family: "Noto Sans CJK SC", "PingFang SC", SimHei, sans-serif; line-height: 1.4; }
h1 { text-align: center; }
a { color: var(--link); }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
td, th { border: 1px solid var(--border); padding: 4px 8px; vertical-align: top; }
th, thead td { background: var(--head-bg); }
img { max-width: 100%; height: auto; }
hr { border: 0; border-top: 1px dashed var(--border); margin: 2em 0; }
blockquote { margin: 0 0 0 1em; padding-left: 1em; border-left: 3px solid var(--border); color: var(--muted); }
@media (max-width: 640px) { main { padding: 24px 16px; } body { padding: 0; } }
"""

# Nothing in the page may load or run anything: inline styles and embedded images only.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _embedded_image(image: Any) -> dict[str, str]:
    # Only pictures stored inside the .docx, in formats browsers show, become data URIs.
    if image.content_type not in _IMAGE_TYPES:
        return {}
    with image.open() as stream:
        data = stream.read()
    return {"src": f"data:{image.content_type};base64,{base64.b64encode(data).decode('ascii')}"}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "src":
        return value if tag == "img" and value.startswith(tuple(f"data:{t};" for t in _IMAGE_TYPES)) else None
    if attribute == "href":
        return value if value.startswith(("http://", "https://", "mailto:", "#")) else None
    return value


def _sanitize(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        url_relative=lambda url: url if url.startswith("#") else None,
        link_rel="noopener noreferrer nofollow",
    )


def docx_to_html(docx: bytes, theme: Theme = "light", title: str = "Document preview") -> str:
    """A standalone, script-free HTML page showing a .docx (template or document).

    All text is escaped; links keep only http(s)/mailto/in-page targets; images are
    the document's own pictures as data URIs; files outside the .docx are never read.
    """
    if theme not in THEMES:
        raise errors.invalid("theme", f"must be one of {', '.join(THEMES)}, got {theme!r}")
    if not docx:
        raise errors.invalid("document", "is empty")
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(docx),
            convert_image=mammoth.images.img_element(_embedded_image),
            style_map="br[type='page'] => hr",  # show where Word starts a new page
            external_file_access=False,
        )
    except Exception as exc:  # mammoth reports a broken file through many exception types
        raise errors.invalid("document", f"is not a readable .docx ({type(exc).__name__})") from None
    for message in result.messages:
        log.debug("docx preview: %s", message)
    return _html_page(_sanitize(result.value), theme, title)


def pdf_to_html(pdf: bytes, theme: Theme = "light", title: str = "Document preview", dpi: int = 96) -> str:
    """A PDF (e.g. a signed contract) as a themed HTML page of page images: exactly what was signed."""
    if theme not in THEMES:
        raise errors.invalid("theme", f"must be one of {', '.join(THEMES)}, got {theme!r}")
    images = pdf_to_png(pdf, dpi=dpi, pages=list(range(1, min(page_count(pdf), MAX_PAGES_PER_CALL) + 1)))
    body = "\n".join(
        f'<img class="page" alt="page {number}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for number, png in enumerate(images, start=1)
    )
    return _html_page(body, theme, title)


def _html_page(body: str, theme: Theme, title: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="zh-CN" data-theme="{theme}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="color-scheme" content="{theme}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )

def find_text(pdf: bytes, keywords: list[str]) -> list[tuple[str, int, float, float]]:
    """Where each keyword first appears: (keyword, page from 1, x, y of its bottom-left in PDF points)."""
    hits = []
    with _open_pdf(pdf) as document:
        for keyword in keywords:
            for index in range(len(document)):
                text_page = document[index].get_textpage()
                searcher = text_page.search(keyword, match_case=True)
                found = searcher.get_next()
                if found is not None:
                    left, bottom, _right, _top = text_page.get_charbox(found[0])
                    hits.append((keyword, index + 1, left, bottom))
                    break
    return hits
