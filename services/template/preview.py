"""Previews of a template version through filegen: PDF, PNG pages, or HTML (light or dark).

Previews are lenient (missing fields render empty) because reviewers often preview with
partial data; with sample data every field gets a value, so every clause shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import invalid
from services.template.catalog import Catalog
from services.template.fields import with_samples
from services.template.filegen_client import Docx, Filegen, PageImage

PDF, PNG, HTML = "PDF", "PNG", "HTML"
DEFAULT_DPI, MIN_DPI, MAX_DPI = 96, 36, 200


@dataclass(frozen=True)
class Preview:
    version: int
    content_type: str
    data: bytes  # the PDF or HTML; empty for PNG
    pages: tuple[PageImage, ...]  # PNG only
    page_count: int  # 0 for HTML, which has no pages


def preview_dpi(requested: int) -> int:
    """0 means the default; above the maximum is capped; below the minimum is refused."""
    if requested == 0:
        return DEFAULT_DPI
    if requested < MIN_DPI:
        raise invalid("dpi", f"must be at least {MIN_DPI} (or 0 for {DEFAULT_DPI})")
    return min(requested, MAX_DPI)


class Previews:
    def __init__(self, catalog: Catalog, filegen: Filegen):
        self._catalog = catalog
        self._filegen = filegen

    def preview(
        self,
        template_id: str,
        *,
        version: int = 0,
        kind: str = PDF,
        dark: bool = False,
        dpi: int = 0,
        data: dict[str, Any] | None = None,
        use_sample_data: bool = False,
    ) -> Preview:
        if version < 0:
            raise invalid("version", "must be a version number, or 0 for the current one")
        dots = preview_dpi(dpi) if kind == PNG else 0
        chosen = self._catalog.version_for_preview(template_id, version)
        fill = with_samples(data or {}, chosen.fields) if use_sample_data else (data or {})
        docx = Docx(ref=chosen.docx_ref)
        if kind == HTML:
            html = self._filegen.render_html(docx, fill, dark=dark)
            return Preview(chosen.version, "text/html; charset=utf-8", html.encode("utf-8"), (), 0)
        pdf = self._filegen.render_pdf(docx, fill, strict=False)
        if kind == PDF:
            return Preview(chosen.version, "application/pdf", pdf.data, (), pdf.page_count)
        pages = self._filegen.render_pages(pdf.data, dots)
        return Preview(chosen.version, "image/png", b"", tuple(pages), pdf.page_count)
