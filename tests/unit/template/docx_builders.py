"""Small .docx files built with python-docx, for the template service's tests."""
from __future__ import annotations

import io

from docx import Document


def simple_docx(
    paragraphs: list[str],
    *,
    table: list[list[str]] | None = None,
    header: str = "",
    footer: str = "",
) -> bytes:
    """Paragraphs, then an optional table (rows of cell texts), with an optional header and footer."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(r) for r in table))
        for row, values in zip(grid.rows, table):
            for cell, value in zip(row.cells, values):
                cell.text = value
    section = document.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    if footer:
        section.footer.paragraphs[0].text = footer
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def edit_paragraph(docx: bytes, starts_with: str, old: str, new: str) -> tuple[bytes, str, str]:
    """``docx`` with ``old`` replaced by ``new`` in the one body paragraph starting with
    ``starts_with``; also returns that paragraph's text before and after."""
    document = Document(io.BytesIO(docx))
    matches = [p for p in document.paragraphs if p.text.startswith(starts_with)]
    assert len(matches) == 1, f"expected one paragraph starting {starts_with!r}, found {len(matches)}"
    before = matches[0].text
    assert old in before
    matches[0].text = before.replace(old, new)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), before, matches[0].text


def replace_paragraph(docx: bytes, old: str, new: str) -> bytes:
    """``docx`` with the body paragraph whose text is ``old`` rewritten as ``new``."""
    document = Document(io.BytesIO(docx))
    matches = [p for p in document.paragraphs if p.text == old]
    assert len(matches) == 1, f"expected one paragraph {old!r}, found {len(matches)}"
    matches[0].text = new
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
