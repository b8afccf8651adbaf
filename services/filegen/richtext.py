"""Rich-text fields: a safe subset of HTML turned into real Word paragraphs and runs.

Business lines send clause text as HTML. Only structure is taken from it: ``p``, ``br``,
``b``/``strong``, ``i``/``em``, ``u``, ``ul``/``ol``/``li`` and simple tables
(``table``/``tr``/``td``/``th``, with ``thead``/``tbody``/``tfoot`` ignored as wrappers).
Every other tag is dropped and its text kept (``script`` and ``style`` lose their text
too), every attribute is ignored, and nothing from the input is ever emitted as XML: the
Word elements are built with python-docx, so text always lands in ``w:t`` as text.

Lists are written as indented paragraphs with a visible bullet or number rather than
Word numbering, so they look the same whatever numbering definitions a template has.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Twips
from docx.text.paragraph import Paragraph
from lxml import etree

_WS = re.compile(r"[ \t\n\r\f\v]+")
# Characters XML cannot hold; HTML parsers drop them too.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LIST_INDENT_TWIPS = 420  # two CJK characters at 10.5 pt
_HANGING_TWIPS = 420
_TABLE_WIDTH_PCT = "5000"  # 100%, in fiftieths of a percent
_DROP_WITH_TEXT = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLOCK_TAGS = frozenset({"p", "div", "li", "table", "tr", "td", "th", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass
class _Run:
    text: str = ""
    bold: bool = False
    italic: bool = False
    underline: bool = False
    line_break: bool = False


@dataclass
class _Para:
    runs: list[_Run] = field(default_factory=list)
    prefix: str = ""  # bullet or number of a list item
    level: int = 0  # list nesting depth, 0 outside lists

    def text(self) -> str:
        return self.prefix + "".join("\n" if r.line_break else r.text for r in self.runs)


@dataclass
class _Table:
    rows: list[list[list[_Para]]] = field(default_factory=list)
    header_rows: set[int] = field(default_factory=set)


_Block = _Para | _Table


class _Builder(HTMLParser):
    """Collects paragraphs and tables from HTML, keeping only the allowed structure."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self._bold = self._italic = self._underline = 0
        self._drop = 0
        self._lists: list[list] = []  # [kind, next number]
        self._table: _Table | None = None
        self._table_depth = 0
        self._cell: list[_Para] | None = None
        self._para: _Para | None = None

    # Where paragraphs go: the current table cell, or the top level.
    def _container(self) -> list:
        return self._cell if self._cell is not None else self.blocks

    def _close_para(self) -> None:
        para = self._para
        self._para = None
        if para is None:
            return
        # Collapse the whitespace HTML would not show at the ends of a paragraph.
        while para.runs and not para.runs[0].line_break and not para.runs[0].text.strip():
            para.runs.pop(0)
        if para.runs and not para.runs[0].line_break:
            para.runs[0].text = para.runs[0].text.lstrip()
        while para.runs and not para.runs[-1].line_break and not para.runs[-1].text.strip():
            para.runs.pop()
        if para.runs and not para.runs[-1].line_break:
            para.runs[-1].text = para.runs[-1].text.rstrip()
        if para.runs or para.prefix:
            self._container().append(para)

    def _open_para(self, prefix: str = "", level: int = 0) -> _Para:
        self._close_para()
        self._para = _Para(prefix=prefix, level=level)
        return self._para

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP_WITH_TEXT:
            self._drop += 1
            return
        if self._drop:
            return
        if tag in ("b", "strong", "th"):
            self._bold += 1
        elif tag in ("i", "em"):
            self._italic += 1
        elif tag == "u":
            self._underline += 1
        if tag == "br":
            self._current().runs.append(_Run(line_break=True))
        elif tag in ("ul", "ol"):
            self._close_para()
            self._lists.append([tag, 1])
        elif tag == "li":
            prefix = "•\t"
            if self._lists and self._lists[-1][0] == "ol":
                prefix = f"{self._lists[-1][1]}.\t"
                self._lists[-1][1] += 1
            self._open_para(prefix, level=max(len(self._lists), 1))
        elif tag == "table":
            self._close_para()
            self._table_depth += 1
            if self._table_depth == 1:  # nested tables are flattened into the outer cell
                self._table = _Table()
        elif tag == "tr" and self._table is not None and self._table_depth == 1:
            self._close_para()
            self._table.rows.append([])
            self._cell = None
        elif tag in ("td", "th") and self._table is not None and self._table_depth == 1:
            self._close_para()
            if not self._table.rows:
                self._table.rows.append([])
            if tag == "th":
                self._table.header_rows.add(len(self._table.rows) - 1)
            self._cell = []
            self._table.rows[-1].append(self._cell)
        elif tag in _BLOCK_TAGS:
            self._open_block()

    def _open_block(self) -> None:
        """A ``p``/``div``/heading: editors write ``<li><p>..</p></li>``, so an empty list
        item paragraph is continued, and later paragraphs in the item stay indented."""
        if self._para is not None and not self._para.runs:
            return
        self._close_para()
        if self._lists:
            self._para = _Para(level=len(self._lists))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_WITH_TEXT:
            self._drop = max(self._drop - 1, 0)
            return
        if self._drop:
            return
        if tag in ("b", "strong", "th"):
            self._bold = max(self._bold - 1, 0)
        elif tag in ("i", "em"):
            self._italic = max(self._italic - 1, 0)
        elif tag == "u":
            self._underline = max(self._underline - 1, 0)
        if tag in ("ul", "ol"):
            self._close_para()
            if self._lists:
                self._lists.pop()
        elif tag == "table":
            self._close_para()
            self._table_depth = max(self._table_depth - 1, 0)
            if self._table_depth == 0 and self._table is not None:
                self._cell = None
                if self._table.rows:
                    self.blocks.append(self._table)
                self._table = None
        elif tag in ("td", "th") and self._table_depth == 1:
            self._close_para()
            self._cell = None
        elif tag in _BLOCK_TAGS:
            self._close_para()

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br" and not self._drop:
            self._current().runs.append(_Run(line_break=True))

    def handle_data(self, data: str) -> None:
        if self._drop:
            return
        text = _WS.sub(" ", _CONTROL.sub("", data))
        # Whitespace only matters inside a paragraph that has text (never between tags).
        if not text.strip() and (self._para is None or not self._para.runs):
            return
        self._current().runs.append(_Run(text, self._bold > 0, self._italic > 0, self._underline > 0))

    def _current(self) -> _Para:
        if self._para is None:
            # Text in a table row but outside any cell still belongs to the table.
            if self._table is not None and self._cell is None and self._table.rows:
                self._cell = []
                self._table.rows[-1].append(self._cell)
            self._para = _Para()
        return self._para

    def result(self) -> list[_Block]:
        self.close()
        self._close_para()
        if self._table is not None and self._table.rows:
            self.blocks.append(self._table)
        return self.blocks


class HtmlFragment:
    """A rich-text value ready for a template.

    Inline (``{{ clause }}``) it becomes runs inside the current paragraph, paragraph
    breaks turning into line breaks; standing alone (``{{p clause }}``) it becomes real
    paragraphs, lists and tables (see ``block_xml``).
    """

    def __init__(self, html: str) -> None:
        builder = _Builder()
        builder.feed(html)
        self._blocks = builder.result()

    def text(self) -> str:
        """The plain text, one line per paragraph and table row (cells tab-separated)."""
        lines: list[str] = []
        for block in self._blocks:
            if isinstance(block, _Para):
                lines.append(block.text())
            else:
                lines.extend("\t".join(" ".join(p.text() for p in cell) for cell in row) for row in block.rows)
        return "\n".join(lines)

    def block_xml(self) -> str:
        """Body-level XML: paragraphs and tables, ending in a paragraph as Word requires in table cells."""
        elements = [_table_element(b) if isinstance(b, _Table) else _paragraph_element(b) for b in self._blocks]
        if not elements or elements[-1].tag == qn("w:tbl"):
            elements.append(OxmlElement("w:p"))
        return "".join(_serialize(e) for e in elements)

    def inline_xml(self) -> str:
        """Run-level XML that closes the surrounding text run and reopens it afterwards."""
        runs: list[str] = []
        paragraphs = [p for b in self._blocks for p in (_table_paragraphs(b) if isinstance(b, _Table) else [b])]
        for index, para in enumerate(paragraphs):
            if index:
                runs.append(_serialize(_break_run()))
            host = Paragraph(OxmlElement("w:p"), None)
            _fill_paragraph(host, para)
            runs.extend(_serialize(r) for r in host._p.r_lst)
        return '</w:t></w:r>' + "".join(runs) + '<w:r><w:t xml:space="preserve">'

    # docxtpl and Jinja's autoescape treat objects with __html__ as markup to insert as is.
    def __html__(self) -> str:
        return self.inline_xml()

    def __str__(self) -> str:
        return self.text()


def _table_paragraphs(table: _Table) -> list[_Para]:
    """Flatten a table for inline use: one paragraph per row, cells separated by tabs."""
    rows: list[_Para] = []
    for row in table.rows:
        runs: list[_Run] = []
        for index, cell in enumerate(row):
            if index:
                runs.append(_Run("\t"))
            for n, para in enumerate(cell):
                if n:
                    runs.append(_Run(" "))
                runs.extend(para.runs)
        rows.append(_Para(runs))
    return rows


def _serialize(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode")


def _break_run() -> etree._Element:
    run = OxmlElement("w:r")
    run.append(OxmlElement("w:br"))
    return run


def _fill_paragraph(paragraph: Paragraph, para: _Para) -> None:
    if para.prefix:
        paragraph.add_run(para.prefix)
    for item in para.runs:
        if item.line_break:
            paragraph.add_run().add_break()
            continue
        run = paragraph.add_run(item.text)
        if item.bold:
            run.bold = True
        if item.italic:
            run.italic = True
        if item.underline:
            run.underline = True


def _paragraph_element(para: _Para) -> etree._Element:
    paragraph = Paragraph(OxmlElement("w:p"), None)
    if para.level:
        indent = paragraph.paragraph_format
        indent.left_indent = Twips(_LIST_INDENT_TWIPS * para.level + _HANGING_TWIPS)
        if para.prefix:  # the bullet hangs; continuation paragraphs align with the item text
            indent.first_line_indent = Twips(-_HANGING_TWIPS)
    _fill_paragraph(paragraph, para)
    return paragraph._p


def _table_element(table: _Table) -> etree._Element:
    columns = max(len(row) for row in table.rows) or 1
    tbl = OxmlElement("w:tbl")
    props = OxmlElement("w:tblPr")
    width = OxmlElement("w:tblW", {qn("w:w"): _TABLE_WIDTH_PCT, qn("w:type"): "pct"})
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        borders.append(OxmlElement(f"w:{side}", {qn("w:val"): "single", qn("w:sz"): "4", qn("w:space"): "0", qn("w:color"): "auto"}))
    props.append(width)
    props.append(borders)
    tbl.append(props)
    grid = OxmlElement("w:tblGrid")
    col_width = str(9000 // columns)  # twips; Word rescales to the pct width
    for _ in range(columns):
        grid.append(OxmlElement("w:gridCol", {qn("w:w"): col_width}))
    tbl.append(grid)
    for index, row in enumerate(table.rows):
        tr = OxmlElement("w:tr")
        if index in table.header_rows:
            tr_pr = OxmlElement("w:trPr")
            tr_pr.append(OxmlElement("w:tblHeader"))
            tr.append(tr_pr)
        for cell in row + [[] for _ in range(columns - len(row))]:
            tc = OxmlElement("w:tc")
            tc_pr = OxmlElement("w:tcPr")
            tc_pr.append(OxmlElement("w:tcW", {qn("w:w"): col_width, qn("w:type"): "dxa"}))
            tc.append(tc_pr)
            for para in cell or [_Para()]:  # every cell needs a paragraph
                tc.append(_paragraph_element(para))
            tr.append(tc)
        tbl.append(tr)
    return tbl
