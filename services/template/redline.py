"""The redline a legal reviewer reads: what a version changes against another one.

Paragraphs come from every part of the .docx the filled document shows, in reading order:
the body (every cell of every table, nested tables included, merged cells once; content
controls opened; each paragraph followed by the text boxes anchored in it), then the
headers and footers that show (first-page and even-page ones only when the document uses
them), then footnotes and endnotes. Each paragraph carries where it lives ("body",
"first-page header", "footnote", "text box in body", ...) and its text with template
expressions as written; a paragraph that moves to another part is a change. Blank
paragraphs are left out: spacing is not a legal change. A changed paragraph shows as the
old one DELETED and the new one INSERTED.
"""
from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from typing import Iterator

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import qn

from core.errors import NotFound, invalid
from services.template.catalog import Catalog
from services.template.fields import FillField, flatten
from services.template.signers import SignerRole

INSERTED, DELETED = "INSERTED", "DELETED"
ADDED, REMOVED, MODIFIED = "ADDED", "REMOVED", "MODIFIED"

# Where a paragraph lives.
BODY = "body"
HEADER, FIRST_PAGE_HEADER, EVEN_PAGE_HEADER = "header", "first-page header", "even-page header"
FOOTER, FIRST_PAGE_FOOTER, EVEN_PAGE_FOOTER = "footer", "first-page footer", "even-page footer"
FOOTNOTE, ENDNOTE = "footnote", "endnote"
TEXT_BOX = "text box"  # "text box in body", "text box in header", ...

_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_P, _T, _TBL, _TR, _TC = qn("w:p"), qn("w:t"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_TXBX, _DEL, _MOVE_FROM = qn("w:txbxContent"), qn("w:del"), qn("w:moveFrom")
# Not read as the paragraph's own text: text boxes (read as paragraphs of their own), the
# VML copy of a text box, and tracked deletions.
_SKIPPED = frozenset({_TXBX, _MC_FALLBACK, _DEL, _MOVE_FROM})
# Block wrappers whose content is read as if it stood in their place: content controls,
# custom XML and tracked insertions.
_OPENED = frozenset(qn(t) for t in ("w:sdt", "w:sdtContent", "w:customXml", "w:ins", "w:moveTo"))
_CHARACTERS = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
_BR = qn("w:br")


@dataclass(frozen=True)
class DocParagraph:
    location: str  # BODY, HEADER, FOOTNOTE, ...
    text: str


@dataclass(frozen=True)
class ParagraphChange:
    kind: str  # INSERTED or DELETED
    index: int  # in the new version when inserted, in the base version when deleted
    text: str
    location: str


@dataclass(frozen=True)
class FieldChange:
    kind: str  # ADDED, REMOVED or MODIFIED
    name: str
    before: FillField | None
    after: FillField | None


@dataclass(frozen=True)
class SignerChange:
    kind: str  # ADDED, REMOVED or MODIFIED
    role: str
    before: SignerRole | None
    after: SignerRole | None


@dataclass(frozen=True)
class Redline:
    template_id: str
    version: int
    base_version: int  # 0 when there is nothing to compare with
    paragraphs: tuple[ParagraphChange, ...]
    fields: tuple[FieldChange, ...]
    signers: tuple[SignerChange, ...]


def paragraphs(docx: bytes) -> list[DocParagraph]:
    """The non-blank paragraphs of a .docx that a filled document renders, in reading order."""
    document = Document(io.BytesIO(docx))
    found = list(_part_paragraphs(document.element.body, BODY))
    seen_parts: list = []
    for kind, label, shown in _header_footer_kinds(document):
        if not shown:
            continue
        for section in document.sections:
            part = getattr(section, kind)
            # A header linked to the previous section is the same part again.
            if part.is_linked_to_previous or any(part.part is seen for seen in seen_parts):
                continue
            seen_parts.append(part.part)
            found.extend(_part_paragraphs(part.part.element, label))
    for reltype, label in ((RT.FOOTNOTES, FOOTNOTE), (RT.ENDNOTES, ENDNOTE)):
        for rel in document.part.rels.values():
            if rel.reltype == reltype and not rel.is_external:
                found.extend(_note_paragraphs(parse_xml(rel.target_part.blob), label))
    return found


def _header_footer_kinds(document) -> list[tuple[str, str, bool]]:
    # First-page and even-page headers and footers exist in a file without showing
    # unless a section asks for a distinct first page or the settings for even pages.
    first = any(s.different_first_page_header_footer for s in document.sections)
    even = document.settings.odd_and_even_pages_header_footer
    return [
        ("header", HEADER, True),
        ("first_page_header", FIRST_PAGE_HEADER, first),
        ("even_page_header", EVEN_PAGE_HEADER, even),
        ("footer", FOOTER, True),
        ("first_page_footer", FIRST_PAGE_FOOTER, first),
        ("even_page_footer", EVEN_PAGE_FOOTER, even),
    ]


def _note_paragraphs(root, label: str) -> Iterator[DocParagraph]:
    for note in root.iterchildren(qn("w:footnote"), qn("w:endnote")):
        # Separators are the rule above the notes, not text.
        if note.get(qn("w:type")) in (None, "normal"):
            yield from _part_paragraphs(note, label)


def _part_paragraphs(container, label: str) -> Iterator[DocParagraph]:
    """Paragraphs of a body, header, footer, note, cell or text box, with content controls
    opened; each paragraph is followed by the text boxes anchored in it."""
    for child in container.iterchildren():
        if child.tag == _P:
            text = "".join(_own_text(child)).strip()
            if text:
                yield DocParagraph(label, text)
            for box in _text_boxes(child):
                yield from _part_paragraphs(box, _in_text_box(label))
        elif child.tag == _TBL:
            for cell in _cells(child):
                yield from _part_paragraphs(cell, label)
        elif child.tag in _OPENED:
            yield from _part_paragraphs(child, label)


def _cells(element) -> Iterator:
    """A table's cells row by row, also inside content controls around rows or cells. A
    merged cell is one w:tc; a cell that continues a vertical merge is empty."""
    for child in element.iterchildren():
        if child.tag == _TC:
            yield child
        elif child.tag == _TR or child.tag in _OPENED:
            yield from _cells(child)


def _own_text(element) -> Iterator[str]:
    """The paragraph's rendered text, leaving out deleted text and text boxes (read on their own)."""
    for child in element.iterchildren():
        if child.tag in _SKIPPED:
            continue
        if child.tag == _T:
            yield child.text or ""
        elif child.tag in _CHARACTERS:
            yield _CHARACTERS[child.tag]
        elif child.tag == _BR:
            # A page or column break is layout; only a line break is text.
            yield "\n" if child.get(qn("w:type")) in (None, "textWrapping") else ""
        else:
            yield from _own_text(child)


def _text_boxes(paragraph) -> Iterator:
    """The w:txbxContent of the text boxes anchored in a paragraph, each once: Word writes a
    box twice (DrawingML, and VML under mc:Fallback), and a box's own boxes are its business."""
    stack = list(paragraph.iterchildren())
    while stack:
        element = stack.pop(0)
        if element.tag == _TXBX:
            yield element
        elif element.tag not in _SKIPPED:
            stack[:0] = list(element.iterchildren())


def _in_text_box(label: str) -> str:
    return label if label.startswith(TEXT_BOX) else f"{TEXT_BOX} in {label}"


def diff_paragraphs(before: list[DocParagraph], after: list[DocParagraph]) -> list[ParagraphChange]:
    """Inserted and deleted paragraphs, in document order."""
    changes: list[ParagraphChange] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            changes.extend(ParagraphChange(DELETED, i, before[i].text, before[i].location) for i in range(i1, i2))
        if tag in ("insert", "replace"):
            changes.extend(ParagraphChange(INSERTED, j, after[j].text, after[j].location) for j in range(j1, j2))
    return changes


def diff_fields(before: tuple[FillField, ...], after: tuple[FillField, ...]) -> list[FieldChange]:
    """Fields added, removed, or changed in type, required flag or label (loop items as ``loop.item``)."""
    old, new = flatten(before), flatten(after)
    changes = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name), new.get(name)
        if was is None:
            changes.append(FieldChange(ADDED, name, None, now))
        elif now is None:
            changes.append(FieldChange(REMOVED, name, was, None))
        elif _own(was) != _own(now):
            changes.append(FieldChange(MODIFIED, name, was, now))
    return changes


def _own(field: FillField) -> tuple:
    # Item fields are compared one by one under their own names.
    return field.type, field.required, field.label


def diff_signers(before: tuple[SignerRole, ...], after: tuple[SignerRole, ...]) -> list[SignerChange]:
    """Roles added, removed, or changed in kind, positions, date position or riding seal."""
    old = {s.role: s for s in before}
    new = {s.role: s for s in after}
    changes = []
    for role in [*old, *(r for r in new if r not in old)]:
        was, now = old.get(role), new.get(role)
        if was is None:
            changes.append(SignerChange(ADDED, role, None, now))
        elif now is None:
            changes.append(SignerChange(REMOVED, role, was, None))
        elif was != now:
            changes.append(SignerChange(MODIFIED, role, was, now))
    return changes


def default_base(number: int, approved: int) -> int:
    """The current approved version when it is older, else the version before."""
    return approved if 0 < approved < number else number - 1


class Redlines:
    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def redline(self, template_id: str, number: int, base_number: int = 0) -> Redline:
        if number < 1:
            raise invalid("version", "must be a version number ≥ 1")
        if base_number < 0 or (base_number and base_number >= number):
            raise invalid("baseVersion", f"must be an earlier version than {number} (or 0 for the default)")
        detail = self._catalog.get(template_id)
        versions = {v.version: v for v in detail.versions}
        target = versions.get(number)
        if target is None:
            raise NotFound(f"template {template_id} has no version {number}")
        base_number = base_number or default_base(number, detail.template.approved_version)
        base = versions.get(base_number)
        if base_number and base is None:
            raise invalid("baseVersion", f"template {template_id} has no version {base_number}")
        before = paragraphs(self._catalog.read_docx(base)) if base else []
        after = paragraphs(self._catalog.read_docx(target))
        return Redline(
            template_id=template_id,
            version=number,
            base_version=base_number,
            paragraphs=tuple(diff_paragraphs(before, after)),
            fields=tuple(diff_fields(base.fields if base else (), target.fields)),
            signers=tuple(diff_signers(base.signers if base else (), target.signers)),
        )
