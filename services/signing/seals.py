"""Seal images: generated company seals (round or oval) and personal seals (square or
rectangular), and uploaded custom seals.

Every function returns normalised PNG bytes (RGBA, transparent background), the
only seal format the rest of the service handles. Generated seals are drawn as
a one-channel ink mask at twice the output size and averaged down 2×2, which gives
antialiased edges without depending on Pillow's (non-antialiased) primitives; glyphs
are scaled and rotated bilinearly at that doubled size, where finer filters add time
but nothing visible. The mask becomes the alpha of a solid seal-red image at the end.

Fonts: seals need a CJK font. ``find_cjk_font`` asks fontconfig for a bold serif
face covering zh-cn (``fonts-noto-cjk`` provides Noto Serif CJK SC) unless a
path is configured; nothing is looked up until a seal is drawn.
"""
from __future__ import annotations

import functools
import io
import math
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from core.errors import FailedPrecondition, InvalidArgument, invalid

SEAL_RED = (220, 30, 30, 255)
INK = 255  # full coverage in an ink mask

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class FontSpec:
    path: str
    index: int = 0


@dataclass(frozen=True)
class UploadLimits:
    """Limits on an uploaded seal image; anything beyond them is refused, not shrunk."""

    max_bytes: int = 2 * 1024 * 1024
    max_pixels: int = 16_000_000  # below Pillow's own bomb threshold, so we refuse first
    max_side: int = 8000
    output_max_side: int = 800


# ------------------------------------------------------------------ fonts


@functools.lru_cache(maxsize=8)
def find_cjk_font(configured: str | None = None, *, serif: bool = True) -> FontSpec:
    """The configured font file, else fontconfig's best bold CJK face for zh-cn."""
    if configured:
        path, _, index = configured.partition(":")
        return FontSpec(path, int(index) if index.isdigit() else 0)
    if shutil.which("fc-match") is None:
        raise FailedPrecondition("fontconfig (fc-match) is not installed and no seal font is configured")
    pattern = ("serif" if serif else "sans") + ":lang=zh-cn:bold"
    out = subprocess.run(
        ["fc-match", "-f", "%{file}|%{index}|%{lang}", pattern],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout
    path, _, rest = out.partition("|")
    index, _, langs = rest.partition("|")
    if not path or "zh-cn" not in langs.split("|"):
        raise FailedPrecondition(
            "no CJK font found: install fonts-noto-cjk or configure the seal font path")
    return FontSpec(path, int(index or 0))


@functools.lru_cache(maxsize=64)
def _font(spec: FontSpec, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(spec.path, size, index=spec.index)
    except OSError as exc:
        raise FailedPrecondition(f"cannot load seal font {spec.path}: {exc}") from exc


# ------------------------------------------------------------ glyph tiles


def _glyph(char: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """The ink mask of one character (or a short text), tightly cropped."""
    left, top, right, bottom = font.getbbox(char)
    tile = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(tile).text((-left, -top), char, font=font, fill=INK)
    return tile


def _paste_center(canvas: Image.Image, tile: Image.Image, cx: float, cy: float) -> None:
    # Ink over ink: coverage a + b·(1 − a), as alpha compositing would give.
    canvas.paste(INK, (round(cx - tile.width / 2), round(cy - tile.height / 2)), tile)


def _inked(mask: Image.Image) -> Image.Image:
    seal = Image.new("RGBA", mask.size, SEAL_RED)
    seal.putalpha(mask)
    return seal


def _to_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Seals are mostly transparent, so the fastest zlib level costs little size.
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, outer: float) -> None:
    inner = outer * math.sin(math.radians(18)) / math.sin(math.radians(54))
    points = []
    for k in range(10):
        radius = outer if k % 2 == 0 else inner
        angle = math.radians(-90 + 36 * k)
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=INK)


def _arc_text(canvas: Image.Image, text: str, font: ImageFont.FreeTypeFont, *, cx: float, cy: float,
              radius: float, max_span_deg: float, top: bool) -> None:
    """Characters along a circle: over the top reading clockwise, or along the bottom
    reading left to right; glyphs are squeezed horizontally when the text is long."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return
    size = font.size
    step = (size * 1.08) / radius  # radians per character at natural width
    span = min(step * len(chars), math.radians(max_span_deg))
    step = span / len(chars)
    squeeze = min(1.0, step * radius / (size * 1.02))
    for i, char in enumerate(chars):
        # Angle clockwise from 12 o'clock of this character's centre.
        offset = -span / 2 + step * (i + 0.5)
        theta = offset if top else math.pi - offset
        tile = _glyph(char, font)
        tile = tile.resize((max(1, round(size * squeeze)), size), Image.BILINEAR)
        # Top text: glyph tops point outward; bottom text: glyph tops point to the centre.
        rotation = -math.degrees(theta) if top else -math.degrees(theta - math.pi)
        tile = tile.rotate(rotation, resample=Image.BILINEAR, expand=True)
        _paste_center(canvas, tile, cx + radius * math.sin(theta), cy - radius * math.cos(theta))


def _fit_width(tile: Image.Image, max_width: float) -> Image.Image:
    if tile.width > max_width:
        return tile.resize((round(max_width), tile.height), Image.LANCZOS)
    return tile


# ------------------------------------------------------------ generators


def _company_seal_name(name: str, code: str | None, size: int) -> str:
    """The name a company seal shows, once the name, code and size fit on one."""
    name = name.strip()
    if not name:
        raise invalid("name", "must not be empty")
    if len(name) > 40:
        raise invalid("name", "at most 40 characters fit on a seal")
    if code is not None and len(code.strip()) > 20:
        raise invalid("code", "at most 20 characters")
    if not 120 <= size <= 2000:
        raise invalid("size", "must be between 120 and 2000 pixels")
    return name


def round_company_seal(name: str, code: str | None = None, *, title: str | None = None,
                       size: int = 480, font: FontSpec | None = None) -> bytes:
    """Round company seal: red ring, ``name`` along the top arc, a star, optional
    ``title`` under the star (e.g. 合同专用章) and ``code`` along the bottom."""
    name = _company_seal_name(name, code, size)
    spec = font or find_cjk_font()
    s = size * 2  # supersampled
    canvas = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(canvas)
    c = s / 2
    ring = round(s * 0.042)
    outer = s / 2 - s * 0.02
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=INK, width=ring)
    _star(draw, c, c - (s * 0.02 if title else 0), s * 0.16)

    name_size = round(s * (0.13 if len(name) <= 14 else 0.11))
    _arc_text(canvas, name, _font(spec, name_size), cx=c, cy=c,
              radius=outer - ring - name_size * 0.62, max_span_deg=250, top=True)
    if title:
        title_font = _font(spec, round(s * 0.075))
        _paste_center(canvas, _fit_width(_glyph(title.strip(), title_font), s * 0.5), c, c + s * 0.25)
    if code and code.strip():
        code_size = round(s * 0.05)
        _arc_text(canvas, code.strip(), _font(spec, code_size), cx=c, cy=c,
                  radius=outer - ring - code_size * 0.75, max_span_deg=70, top=False)
    return _to_png(_inked(canvas.reduce(2)))


def _ellipse_text(canvas: Image.Image, text: str, font: ImageFont.FreeTypeFont, *, cx: float, cy: float,
                  rx: float, ry: float, max_span_deg: float) -> None:
    """Characters over the top of an ellipse, reading clockwise, evenly spaced by arc
    length and each turned to the tangent; glyphs are squeezed when the text is long."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return
    size = font.size
    # Arc length from 12 o'clock, sampled every half degree (clockwise positive).
    half = math.radians(max_span_deg) / 2
    samples = [(-half + k * (2 * half) / 720) for k in range(721)]
    lengths = [0.0]
    for a, b in zip(samples, samples[1:]):
        lengths.append(lengths[-1] + math.dist((rx * math.sin(a), ry * math.cos(a)),
                                               (rx * math.sin(b), ry * math.cos(b))))
    middle = lengths[360]
    span = min(size * 1.08 * len(chars), lengths[-1])
    step = span / len(chars)
    squeeze = min(1.0, step / (size * 1.02))
    for i, char in enumerate(chars):
        target = middle - span / 2 + step * (i + 0.5)
        k = min(range(len(lengths)), key=lambda j: abs(lengths[j] - target))
        theta = samples[k]
        tile = _glyph(char, font)
        tile = tile.resize((max(1, round(size * squeeze)), size), Image.BILINEAR)
        tangent = math.atan2(ry * math.sin(theta), rx * math.cos(theta))
        tile = tile.rotate(-math.degrees(tangent), resample=Image.BILINEAR, expand=True)
        _paste_center(canvas, tile, cx + rx * math.sin(theta), cy - ry * math.cos(theta))


def oval_company_seal(name: str, code: str | None = None, *, title: str | None = None,
                      size: int = 480, font: FontSpec | None = None) -> bytes:
    """Oval company seal (as used for invoice and finance seals), 4:3 and without a star:
    ``name`` along the top of the ellipse, ``code`` (e.g. the tax number) across the
    middle and ``title`` (e.g. 发票专用章) under it. ``size`` is the width."""
    name = _company_seal_name(name, code, size)
    spec = font or find_cjk_font()
    w = size * 2  # supersampled
    h = round(w * 0.75)
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy = w / 2, h / 2
    ring = round(h * 0.04)
    margin = h * 0.02
    rx, ry = cx - margin, cy - margin
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=INK, width=ring)

    name_size = round(h * (0.14 if len(name) <= 14 else 0.11))
    inset = ring + name_size * 0.62
    _ellipse_text(canvas, name, _font(spec, name_size), cx=cx, cy=cy, rx=rx - inset, ry=ry - inset,
                  max_span_deg=200)
    if code and code.strip():
        tile = _glyph(code.strip(), _font(spec, round(h * 0.085)))
        _paste_center(canvas, _fit_width(tile, w * 0.6), cx, cy + h * 0.08)
    if title and title.strip():
        tile = _glyph(title.strip(), _font(spec, round(h * 0.1)))
        _paste_center(canvas, _fit_width(tile, w * 0.45), cx, cy + h * 0.25)
    return _to_png(_inked(canvas.reduce(2)))


def name_seal_layout(name: str) -> list[str]:
    """The characters of a square name seal in reading order (columns right to left).

    Three-character names get 印 (张小三印); two-character names get 之印 (张三之印),
    so both fill the 2×2 grid; four characters fill it as they are.
    """
    chars = [c for c in name.strip() if not c.isspace()]
    if not chars:
        raise invalid("name", "must not be empty")
    if len(chars) > 8:
        raise invalid("name", "at most 8 characters fit on a name seal")
    if len(chars) == 2:
        chars += ["之", "印"]
    elif len(chars) == 3:
        chars.append("印")
    return chars


def square_name_seal(name: str, *, size: int = 240, font: FontSpec | None = None) -> bytes:
    """Square personal seal: a red frame with the name in a 2×2 grid, read in
    columns from right to left, top to bottom."""
    if not 80 <= size <= 2000:
        raise invalid("size", "must be between 80 and 2000 pixels")
    chars = name_seal_layout(name)
    spec = font or find_cjk_font()
    s = size * 2
    canvas = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(canvas)
    border = round(s * 0.06)
    inset = round(s * 0.02)
    draw.rectangle((inset, inset, s - 1 - inset, s - 1 - inset), outline=INK, width=border)

    columns = 1 if len(chars) == 1 else 2
    rows = math.ceil(len(chars) / columns)
    inner = s - 2 * (inset + border)
    pad = inner * 0.04
    cell_w, cell_h = inner / columns, inner / rows
    glyph_font = _font(spec, round(min(cell_w, cell_h) * 1.1))
    for i, char in enumerate(chars):
        column, row = divmod(i, rows)
        x0 = inset + border + (columns - 1 - column) * cell_w  # rightmost column first
        y0 = inset + border + row * cell_h
        tile = _glyph(char, glyph_font)
        # Seal script fills its cell: stretch each glyph to the cell box.
        tile = tile.resize((max(1, round(cell_w - 2 * pad)), max(1, round(cell_h - 2 * pad))), Image.BILINEAR)
        _paste_center(canvas, tile, x0 + cell_w / 2, y0 + cell_h / 2)
    return _to_png(_inked(canvas.reduce(2)))


def rectangular_name_seal(name: str, *, size: int = 240, font: FontSpec | None = None) -> bytes:
    """Rectangular personal seal: a red frame with the name in one row, left to right,
    followed by 印 when the name has two or three characters (李小明印). ``size`` is
    the height; the width follows from the number of characters."""
    chars = [c for c in name.strip() if not c.isspace()]
    if not chars:
        raise invalid("name", "must not be empty")
    if len(chars) > 8:
        raise invalid("name", "at most 8 characters fit on a name seal")
    if not 80 <= size <= 1000:
        raise invalid("size", "must be between 80 and 1000 pixels")
    if len(chars) in (2, 3):
        chars.append("印")
    spec = font or find_cjk_font()
    h = size * 2
    border = round(h * 0.06)
    inset = round(h * 0.02)
    inner_h = h - 2 * (inset + border)
    cell = inner_h  # one square cell per character
    w = round(cell * len(chars) * 0.82) + 2 * (inset + border)  # glyphs a little narrower than tall
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=INK, width=border)
    cell_w = (w - 2 * (inset + border)) / len(chars)
    pad = inner_h * 0.08
    glyph_font = _font(spec, round(inner_h * 1.1))
    for i, char in enumerate(chars):
        tile = _glyph(char, glyph_font)
        tile = tile.resize((max(1, round(cell_w - pad)), max(1, round(inner_h - 2 * pad))), Image.BILINEAR)
        _paste_center(canvas, tile, inset + border + cell_w * (i + 0.5), h / 2)
    return _to_png(_inked(canvas.reduce(2)))


# ------------------------------------------------------------ uploads


def normalize_uploaded_seal(data: bytes, limits: UploadLimits = UploadLimits()) -> bytes:
    """Check an uploaded PNG/JPEG seal and return it as a transparent, cropped PNG.

    The format is decided by magic bytes, never by name or declared type; the
    pixel count is checked from the header before any pixel is decoded, so a
    decompression bomb is refused without being expanded.
    """
    if not data:
        raise invalid("image", "is empty")
    if len(data) > limits.max_bytes:
        raise invalid("image", f"larger than {limits.max_bytes} bytes")
    if data.startswith(PNG_MAGIC):
        expected = "PNG"
    elif data.startswith(JPEG_MAGIC):
        expected = "JPEG"
    else:
        raise invalid("image", "must be a PNG or JPEG image")
    try:
        image = Image.open(io.BytesIO(data), formats=[expected])
        width, height = image.size
        if width * height > limits.max_pixels or max(width, height) > limits.max_side:
            raise invalid("image", f"{width}x{height} pixels exceeds the limit of "
                                   f"{limits.max_pixels} pixels / {limits.max_side} per side")
        image.load()
    except InvalidArgument:
        raise
    except Image.DecompressionBombError as exc:
        raise invalid("image", "too many pixels (decompression bomb)") from exc
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        raise invalid("image", f"cannot be decoded as {expected}") from exc
    if expected == "JPEG":
        image = ImageOps.exif_transpose(image)
    rgba = image.convert("RGBA")
    rgba.putalpha(ImageChops.darker(rgba.getchannel("A"), _ink_alpha(rgba)))
    box = rgba.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    if box is None:
        raise invalid("image", "has no visible content after removing the white background")
    rgba = rgba.crop(box)
    rgba.thumbnail((limits.output_max_side, limits.output_max_side), Image.LANCZOS)
    return _to_png(rgba)


def _ink_alpha(image: Image.Image) -> Image.Image:
    """Opacity from how far each pixel is from white: paper vanishes, ink stays,
    and antialiased edges fade instead of keeping a white fringe."""
    r, g, b, _ = image.split()
    darkest = ImageChops.darker(ImageChops.darker(r, g), b)
    # distance from white: 0..255; <= 24 is paper, >= 96 is full ink
    return darkest.point(lambda v: max(0, min(255, (255 - v - 24) * 255 // 72)))


def image_size(png: bytes) -> tuple[int, int]:
    """Pixel size of a (trusted, already normalised) PNG."""
    with Image.open(io.BytesIO(png)) as image:
        return image.size
