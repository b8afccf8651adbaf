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


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NOTES = {
    "footnote": (
        "/word/footnotes.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes",
    ),
    "endnote": (
        "/word/endnotes.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/endnotes",
    ),
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _notes_xml(kind: str, texts: list[str]) -> bytes:
    # Word's two separator notes first (ids -1 and 0), then the notes themselves from id 1.
    notes = [
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>',
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>',
    ]
    for number, text in enumerate(texts, start=1):
        notes.append(
            f'<w:{kind} w:id="{number}"><w:p><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
            f'<w:{kind}Ref/></w:r><w:r><w:t xml:space="preserve"> {_escape(text)}</w:t></w:r></w:p></w:{kind}>'
        )
    return f'<w:{kind}s xmlns:w="{W_NS}">{"".join(notes)}</w:{kind}s>'.encode()


def _add_notes(document, kind: str, texts: list[str]) -> None:
    """A notes part with ``texts``, each referenced from the end of the last body paragraph."""
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml

    partname, content_type, reltype = _NOTES[kind]
    part = Part(PackURI(partname), content_type, _notes_xml(kind, texts), document.part.package)
    document.part.relate_to(part, reltype)
    anchor = document.paragraphs[-1]._p
    for number in range(1, len(texts) + 1):
        anchor.append(parse_xml(
            f'<w:r xmlns:w="{W_NS}"><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
            f'<w:{kind}Reference w:id="{number}"/></w:r>'
        ))


def _block_content_control(texts: list[str]):
    from docx.oxml import parse_xml

    paragraphs = "".join(f"<w:p><w:r><w:t>{_escape(t)}</w:t></w:r></w:p>" for t in texts)
    return parse_xml(
        f'<w:sdt xmlns:w="{W_NS}"><w:sdtPr><w:alias w:val="条款"/><w:tag w:val="clause"/></w:sdtPr>'
        f"<w:sdtContent>{paragraphs}</w:sdtContent></w:sdt>"
    )


def _text_box_run(texts: list[str]):
    """A run holding a text box the way Word writes it: DrawingML, with a VML copy as fallback."""
    from docx.oxml import parse_xml

    content = "<w:txbxContent>" + "".join(f"<w:p><w:r><w:t>{_escape(t)}</w:t></w:r></w:p>" for t in texts) + "</w:txbxContent>"
    return parse_xml(
        f'<w:r xmlns:w="{W_NS}"'
        ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
        ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
        ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
        ' xmlns:v="urn:schemas-microsoft-com:vml">'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>'
        '<wp:inline><wp:extent cx="2000000" cy="600000"/><wp:docPr id="901" name="Text Box 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:spPr/><wps:txbx>{content}</wps:txbx><wps:bodyPr/></wps:wsp>"
        "</a:graphicData></a:graphic></wp:inline></w:drawing></mc:Choice>"
        f'<mc:Fallback><w:pict><v:shape style="width:157pt;height:47pt"><v:textbox>{content}</v:textbox></v:shape></w:pict>'
        "</mc:Fallback></mc:AlternateContent></w:r>"
    )


def parts_docx(
    paragraphs: list[str],
    *,
    header: str = "",
    first_page_header: str = "",
    even_page_header: str = "",
    footer: str = "",
    first_page_footer: str = "",
    even_page_footer: str = "",
    footnotes: list[str] | None = None,
    endnotes: list[str] | None = None,
    content_control: list[str] | None = None,
    text_box: list[str] | None = None,
    show_first_and_even: bool = True,
) -> bytes:
    """Body ``paragraphs`` plus text in every other place a document shows text: the three
    kinds of header and footer, footnotes and endnotes (referenced from the last body
    paragraph), a block content control after the body paragraphs and a text box anchored
    in the first one. First-page and even-page headers and footers are switched on unless
    ``show_first_and_even`` is false (they are then in the file but do not show)."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    section = document.sections[0]
    section.different_first_page_header_footer = show_first_and_even
    document.settings.odd_and_even_pages_header_footer = show_first_and_even
    for text, part in (
        (header, section.header),
        (first_page_header, section.first_page_header),
        (even_page_header, section.even_page_header),
        (footer, section.footer),
        (first_page_footer, section.first_page_footer),
        (even_page_footer, section.even_page_footer),
    ):
        if text:
            part.paragraphs[0].text = text
    if content_control:
        document.paragraphs[-1]._p.addnext(_block_content_control(content_control))
    if text_box:
        document.paragraphs[0]._p.append(_text_box_run(text_box))
    if footnotes:
        _add_notes(document, "footnote", footnotes)
    if endnotes:
        _add_notes(document, "endnote", endnotes)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
