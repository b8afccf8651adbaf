"""Dropping style definitions nothing in a filled document uses, before LibreOffice reads it.

Word's templates carry every built-in style (the loan contract's styles.xml defines 164,
its text uses 15), and LibreOffice builds each one on import: that was a quarter of its
time per contract. A style nobody refers to cannot change how the document looks, so the
copy sent for conversion keeps only the styles its parts name, what those are based on or
linked to, and the defaults; the PDF comes out the same, pixel for pixel.

Anything this cannot read with certainty is left as it is: a part that binds the main
namespace to another prefix, and fields that pick styles by name (STYLEREF, TOC).
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping

from lxml import etree

from services.filegen.safety import safe_xml_parser

STYLES_PART = "word/styles.xml"
_MAIN_NS = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# pStyle, rStyle, tblStyle, numStyleLink, styleLink, defaultTableStyle, clickAndTypeStyle...
_STYLE_REFERENCE = re.compile(rb'<w:[A-Za-z]*[Ss]tyle(?:Link)?\b[^>]*?\bw:val="([^"]*)"')
_NAMESPACE_PREFIX = re.compile(rb'xmlns(?::([A-Za-z_][\w.-]*))?="' + re.escape(_MAIN_NS) + rb'"')
# Field instructions: w:instrText (Word may split one over several runs) and w:fldSimple's w:instr.
_INSTRUCTION = re.compile(rb'<w:instrText\b[^>]*>([^<]*)<|\bw:instr="([^"]*)"')
_CHAINS = ("basedOn", "link", "next")
_CACHE_SIZE = 32

_cache: OrderedDict[tuple[bytes, frozenset[str]], bytes] = OrderedDict()
_cache_lock = threading.Lock()


def without_unused_styles(parts: Mapping[str, bytes]) -> dict[str, bytes]:
    """``parts`` (zip member name → bytes) with styles.xml reduced to the styles in use."""
    styles = parts.get(STYLES_PART)
    used = _referenced_styles(parts)
    if styles is None or used is None:
        return dict(parts)
    key = (styles, frozenset(used))
    with _cache_lock:
        slim = _cache.get(key)
        if slim is not None:
            _cache.move_to_end(key)
    if slim is None:
        slim = _slim_styles(styles, used)
        with _cache_lock:
            _cache[key] = slim
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return {**parts, STYLES_PART: slim}


def _referenced_styles(parts: Mapping[str, bytes]) -> set[str] | None:
    """Style ids named outside styles.xml, or None when that cannot be known for sure."""
    used: set[str] = set()
    for name, blob in parts.items():
        if not name.startswith("word/") or not name.endswith(".xml") or name == STYLES_PART:
            continue
        if name == "word/stylesWithEffects.xml":
            continue  # Word 2010's copy of styles.xml; LibreOffice ignores it
        prefixes = set(_NAMESPACE_PREFIX.findall(blob))  # b"" for a default namespace
        if prefixes - {b"w"} or (_MAIN_NS in blob and not prefixes):
            return None  # the main namespace under another prefix: the pattern would miss references
        if b"instr" in blob and _picks_styles_by_name(blob):
            return None
        used.update(value.decode() for value in _STYLE_REFERENCE.findall(blob))
    return used


def _picks_styles_by_name(blob: bytes) -> bool:
    instructions = b"".join(text or attribute for text, attribute in _INSTRUCTION.findall(blob))
    return b"STYLEREF" in instructions or b"TOC" in instructions


def _slim_styles(styles: bytes, used: set[str]) -> bytes:
    try:
        root = etree.fromstring(styles, safe_xml_parser())
    except etree.XMLSyntaxError:
        return styles
    by_id = {style.get(f"{_W}styleId"): style for style in root.iter(f"{_W}style")}
    keep = {style_id for style_id, style in by_id.items()
            if style.get(f"{_W}default") in ("1", "true", "on")} | used
    pending = list(keep)
    while pending:
        style = by_id.get(pending.pop())
        if style is None:
            continue
        # What a kept style builds on, and any style it names inside (e.g. a table style's rStyle).
        named = [style.find(f"{_W}{chain}") for chain in _CHAINS]
        named += [el for el in style.iter()
                  if el is not style and isinstance(el.tag, str) and el.tag.lower().endswith(("style", "stylelink"))]
        for element in named:
            target = None if element is None else element.get(f"{_W}val")
            if target is not None and target not in keep:
                keep.add(target)
                pending.append(target)
    unused = [style for style_id, style in by_id.items() if style_id not in keep]
    if not unused:
        return styles
    for style in unused:
        style.getparent().remove(style)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
