"""A CJK font that reportlab can embed, made from a Noto CJK (CFF-outline) font.

reportlab embeds only TrueType outlines; Noto CJK ships PostScript (CFF) outlines in an
OpenType collection. So the face is cut down to the characters needed (fontTools'
subsetter), then its cubic outlines are turned into quadratic ones (cu2qu) in a
``glyf`` table. ``common_font`` does this once for GB 2312 (7,445 characters, about six
seconds) and keeps the result in a cache file; text beyond it (rare characters in
names) gets a font of its own characters (``truetype_subset``, half a second).
reportlab then embeds only the glyphs a PDF shows.
"""
from __future__ import annotations

import io
import os
import tempfile
from functools import lru_cache
from pathlib import Path

# Outline error allowed when converting curves, in font units (of 1000 per em): invisible.
_MAX_ERROR = 1.0
_SC_NAMES = ("CJK SC", "SC")


def _face_index(path: Path) -> int:
    """The Simplified Chinese face of a collection (0 for a single font)."""
    from fontTools.ttLib import TTCollection

    if path.suffix.lower() != ".ttc":
        return 0
    collection = TTCollection(str(path), lazy=True)
    try:
        for index, face in enumerate(collection.fonts):
            name = face["name"].getDebugName(4) or ""
            if any(tag in name for tag in _SC_NAMES):
                return index
    finally:
        collection.close()
    return 0


def truetype_subset(path: Path, text: str) -> bytes:
    """A TrueType font holding the glyphs of ``text`` (plus space and basic Latin)."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(str(path), fontNumber=_face_index(path), lazy=False)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text + " " + "".join(chr(c) for c in range(0x21, 0x7F)))
    subsetter.subset(font)
    if "glyf" not in font:
        order = font.getGlyphOrder()
        glyphs = font.getGlyphSet()
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {}
        for name in order:
            pen = TTGlyphPen(glyphs)
            glyphs[name].draw(Cu2QuPen(pen, _MAX_ERROR, reverse_direction=True))
            glyf.glyphs[name] = pen.glyph()
        for table in ("CFF ", "CFF2", "VORG"):
            if table in font:
                del font[table]
        font["glyf"] = glyf
        font["loca"] = newTable("loca")
        font["maxp"] = _truetype_maxp()
        font["head"].indexToLocFormat = 0
        font["head"].glyphDataFormat = 0
        font["post"].formatType = 2.0
        font["post"].extraNames = []
        font["post"].mapping = {}
        font.sfntVersion = "\x00\x01\x00\x00"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _truetype_maxp():
    from fontTools.ttLib import newTable

    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    # Recomputed from the glyphs on save; the hinting limits stay zero (no hinting).
    for field in ("numGlyphs", "maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours",
                  "maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxComponentDepth"):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    return maxp


@lru_cache(maxsize=1)
def gb2312() -> frozenset[str]:
    """The characters of GB 2312 (every hanzi and symbol of everyday Chinese text)."""
    chars = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def common_font(path: Path, cache_dir: Path) -> bytes:
    """The TrueType font of GB 2312 and basic Latin, made once and cached under ``cache_dir``."""
    stat = path.stat()
    cached = cache_dir / f"{path.stem}-{stat.st_size}-{int(stat.st_mtime)}-gb2312.ttf"
    if cached.exists():
        return cached.read_bytes()
    data = truetype_subset(path, "".join(sorted(gb2312())))
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a replica starting at the same time never reads half a file.
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, cached)
    return data


def covered(text: str) -> bool:
    """Whether ``common_font`` has every character of ``text``."""
    table = gb2312()
    return all(c in table or ord(c) < 0x7F for c in text)
