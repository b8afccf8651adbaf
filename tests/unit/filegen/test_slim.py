"""The converter's copy of a filled .docx keeps exactly the styles something uses."""
from __future__ import annotations

import io
import re
import zipfile

from lxml import etree

from services.filegen.fill import fill_docx
from services.filegen.slim import STYLES_PART, without_unused_styles
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _parts(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _style_ids(styles: bytes) -> dict[str, etree._Element]:
    return {s.get(f"{W}styleId"): s for s in etree.fromstring(styles).iter(f"{W}style")}


def _styles(*styles: str) -> bytes:
    return (f'<w:styles xmlns:w="{MAIN}">' + "".join(styles) + "</w:styles>").encode()


def _style(style_id: str, *inner: str, kind: str = "paragraph", default: bool = False) -> str:
    flag = ' w:default="1"' if default else ""
    return f'<w:style w:type="{kind}"{flag} w:styleId="{style_id}">' + "".join(inner) + "</w:style>"


def _document(body: str) -> bytes:
    return f'<w:document xmlns:w="{MAIN}"><w:body>{body}</w:body></w:document>'.encode()


def _package(body: str, **extra: bytes) -> dict[str, bytes]:
    styles = _styles(
        _style("Normal", default=True),
        _style("Base"),
        _style("Heading1", '<w:basedOn w:val="Base"/>', '<w:link w:val="Heading1Char"/>'),
        _style("Heading1Char", kind="character"),
        _style("Quote"),
        _style("Fancy", kind="table"),
        _style("ListPara"),
        _style("Unused1"),
        _style("Unused2", '<w:basedOn w:val="Unused1"/>'),
    )
    return {STYLES_PART: styles, "word/document.xml": _document(body), **extra}


def test_the_loan_contract_keeps_its_styles_in_use_and_only_those():
    filled = _parts(fill_docx(loan_contract_docx_bytes(), loan_contract_data(), compress=False))
    before = _style_ids(filled[STYLES_PART])
    after = _style_ids(without_unused_styles(filled)[STYLES_PART])
    referenced = set()
    for name, blob in filled.items():
        if name.startswith("word/") and name not in (STYLES_PART, "word/stylesWithEffects.xml"):
            referenced |= {m.decode() for m in re.findall(rb'[sS]tyle(?:Link)? w:val="([^"]+)"', blob)}
    defaults = {i for i, s in before.items() if s.get(f"{W}default") == "1"}
    assert referenced & set(before) <= set(after) and defaults <= set(after)
    for style in after.values():  # every chain a kept style hangs on is kept too
        for chain in ("basedOn", "link"):
            element = style.find(f"{W}{chain}")
            assert element is None or element.get(f"{W}val") in after
    assert len(before) > 100 and len(after) < 30


def test_references_from_any_part_and_chains_are_followed():
    parts = _package(
        '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr></w:p><w:tbl><w:tblPr><w:tblStyle w:val="Fancy"/></w:tblPr></w:tbl>',
        **{"word/numbering.xml": f'<w:numbering xmlns:w="{MAIN}"><w:lvl><w:pStyle w:val="ListPara"/></w:lvl></w:numbering>'.encode(),
           "word/settings.xml": f'<w:settings xmlns:w="{MAIN}"><w:clickAndTypeStyle w:val="Quote"/></w:settings>'.encode()},
    )
    kept = set(_style_ids(without_unused_styles(parts)[STYLES_PART]))
    assert kept == {"Normal", "Base", "Heading1", "Heading1Char", "Quote", "Fancy", "ListPara"}


def test_other_parts_are_untouched():
    parts = _package('<w:p><w:r><w:t>x</w:t></w:r></w:p>', **{"word/media/image1.png": b"\x89PNG..."})
    slim = without_unused_styles(parts)
    assert {k: v for k, v in slim.items() if k != STYLES_PART} == {k: v for k, v in parts.items() if k != STYLES_PART}
    assert set(_style_ids(slim[STYLES_PART])) == {"Normal"}


def test_fields_that_name_styles_keep_every_style():
    for instruction in ('<w:instrText xml:space="preserve"> TOC \\o "1-3" </w:instrText>',
                        '<w:instrText>STYLE</w:instrText></w:r><w:r><w:instrText>REF "Quote"</w:instrText>',
                        '<w:fldSimple w:instr=" STYLEREF Quote "/>'):
        parts = _package(f"<w:p><w:r>{instruction}</w:r></w:p>")
        assert without_unused_styles(parts)[STYLES_PART] == parts[STYLES_PART], instruction


def test_a_part_with_the_main_namespace_under_another_prefix_keeps_every_style():
    for document in (f'<x:document xmlns:x="{MAIN}"><x:body><x:p><x:pPr><x:pStyle x:val="Quote"/></x:pPr></x:p></x:body></x:document>',
                     f'<document xmlns="{MAIN}"><body><p><pPr><pStyle val="Quote"/></pPr></p></body></document>'):
        parts = _package("")
        parts["word/document.xml"] = document.encode()
        assert without_unused_styles(parts)[STYLES_PART] == parts[STYLES_PART]
