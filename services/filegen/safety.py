"""Bounds for untrusted .docx templates and images, checked before anything parses them.

A .docx is a zip of XML parts, and each layer has its own classic attack: zip bombs
(huge declared or actual sizes, too many entries), XML entity expansion and external
entities, relationships that make Word or LibreOffice fetch something from the network
or a share (attached templates, linked images, OLE links), macros and ActiveX, and
images whose header promises billions of pixels to whoever decodes them.

Decisions (documented here because they are policy, not mechanics):
- External relationships are refused, except ``hyperlink`` relationships to ``http``,
  ``https`` or ``mailto`` targets: contracts link to websites and mail addresses, and a
  hyperlink is never fetched while rendering.
- Macros (``vbaProject``, macro-enabled content types), ActiveX controls, embedded OLE
  objects and ``altChunk`` imports are refused even when embedded: each hands foreign
  content to a parser or an engine that a contract does not need.
- Only PNG, JPEG, GIF and BMP images are accepted, recognised by their magic bytes, and
  their pixel count is read from the header without decoding, so a decompression bomb
  is an error before any decoder sees it.
"""
from __future__ import annotations

import hashlib
import io
import posixpath
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml import etree

from core.errors import InvalidArgument, invalid

MiB = 1024 * 1024

# Read zip entries in chunks so an entry that lies about its size is cut off early.
_CHUNK = 256 * 1024

_MAIN_DOCUMENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

# Relationship types (by their last path segment) refused even when internal.
_FORBIDDEN_REL_TYPES = {
    "vbaProject": "macros",
    "wordVbaData": "macros",
    "control": "ActiveX controls",
    "activeXControlBinary": "ActiveX controls",
    "oleObject": "embedded OLE objects",
    "package": "embedded OLE packages",
    "aFChunk": "imported foreign content (altChunk)",
    "attachedTemplate": "attached templates",
    "subDocument": "linked sub-documents",
}
_ALLOWED_LINK_SCHEMES = frozenset({"http", "https", "mailto"})

# Templates are filled many times; a verdict for the same bytes and limits never changes.
_PASSED_CACHE_SIZE = 256
_passed: OrderedDict[tuple[bytes, "Limits"], None] = OrderedDict()
_passed_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """How much untrusted input the service accepts; defaults suit contract templates."""

    max_upload_bytes: int = 20 * MiB
    max_entries: int = 2000
    max_uncompressed_bytes: int = 200 * MiB
    # One XML part is parsed into memory whole; lxml needs several times its size.
    max_xml_part_bytes: int = 32 * MiB
    max_image_pixels: int = 40_000_000
    max_image_bytes: int = 10 * MiB
    image_formats: frozenset[str] = field(default_factory=lambda: frozenset({"png", "jpeg", "gif", "bmp"}))


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ImageInfo:
    """What the header of an accepted image says."""

    format: str
    width: int
    height: int


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def safe_xml_parser() -> etree.XMLParser:
    """A parser that never resolves entities, loads a DTD or touches the network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse_xml(data: bytes, *, field: str, part: str) -> etree._Element:
    """Parse one XML part safely; any DOCTYPE (the carrier of entity tricks) is refused."""
    try:
        tree = etree.parse(io.BytesIO(data), safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise invalid(field, f"part {part} is not well-formed XML: {exc}", "NOT_A_DOCX") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise invalid(field, f"part {part} declares a DOCTYPE; DTDs and entities are not allowed", "DOCTYPE")
    return tree.getroot()


def check_docx(data: bytes, limits: Limits = DEFAULT_LIMITS, *, field: str = "template") -> None:
    """Refuse a .docx that breaks any bound; return quietly when it is safe to open.

    Raises ``InvalidArgument`` naming ``field`` and saying what is wrong. Bytes that
    passed before under the same limits are not examined again.
    """
    if len(data) > limits.max_upload_bytes:
        raise invalid(field, f"is {_size(len(data))}; the limit is {_size(limits.max_upload_bytes)}", "TOO_LARGE")
    key = (hashlib.sha256(data).digest(), limits)
    with _passed_lock:
        if key in _passed:
            _passed.move_to_end(key)
            return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise invalid(field, "is not a .docx file (not a zip archive)", "NOT_A_DOCX") from None
    with archive:
        entries = archive.infolist()
        _check_entries(entries, limits, field)
        parts = _read_entries(archive, entries, limits, field)
    _check_package(parts, limits, field)
    with _passed_lock:
        _passed[key] = None
        while len(_passed) > _PASSED_CACHE_SIZE:
            _passed.popitem(last=False)


def _check_entries(entries: list[zipfile.ZipInfo], limits: Limits, field: str) -> None:
    if len(entries) > limits.max_entries:
        raise invalid(field, f"has {len(entries)} zip entries; the limit is {limits.max_entries}", "TOO_LARGE")
    declared = sum(e.file_size for e in entries)
    if declared > limits.max_uncompressed_bytes:
        raise invalid(
            field,
            f"would unpack to {_size(declared)}; the limit is {_size(limits.max_uncompressed_bytes)} (zip bomb?)",
            "TOO_LARGE",
        )
    seen: set[str] = set()
    for entry in entries:
        name = entry.filename
        # Two entries with one name let different readers see different documents.
        if name.lower() in seen:
            raise invalid(field, f"has the zip entry {name!r} twice", "NOT_A_DOCX")
        seen.add(name.lower())
        if name.startswith("/") or "\\" in name or ".." in name.split("/"):
            raise invalid(field, f"has a zip entry with an unsafe name: {name!r}", "NOT_A_DOCX")
        if entry.flag_bits & 0x1:
            raise invalid(field, f"has an encrypted zip entry: {name!r}", "NOT_A_DOCX")


def _read_entries(
    archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], limits: Limits, field: str
) -> dict[str, bytes]:
    """Decompress every entry, counting the bytes really produced, not the declared ones."""
    budget = limits.max_uncompressed_bytes
    parts: dict[str, bytes] = {}
    for entry in entries:
        if entry.is_dir():
            continue
        chunks: list[bytes] = []
        try:
            with archive.open(entry) as stream:
                while chunk := stream.read(_CHUNK):
                    budget -= len(chunk)
                    if budget < 0:
                        raise invalid(
                            field,
                            f"unpacks to more than {_size(limits.max_uncompressed_bytes)} (zip bomb?)",
                            "TOO_LARGE",
                        )
                    chunks.append(chunk)
        except InvalidArgument:
            raise
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError, zlib.error, OSError) as exc:
            raise invalid(field, f"has a corrupt zip entry {entry.filename!r}: {exc}", "NOT_A_DOCX") from None
        parts[entry.filename] = b"".join(chunks)
    return parts


def _check_package(parts: dict[str, bytes], limits: Limits, field: str) -> None:
    content_types = parts.get("[Content_Types].xml")
    if content_types is None:
        raise invalid(field, "is not a Word document ([Content_Types].xml is missing)", "NOT_A_DOCX")
    overrides, defaults = _content_types(content_types, field)
    for ctype in [*overrides.values(), *defaults.values()]:
        if "macroenabled" in ctype.lower() or "vba" in ctype.lower():
            raise invalid(field, f"declares macro content ({ctype}); macro-enabled documents are not accepted", "MACRO")
    if _MAIN_DOCUMENT_TYPE not in overrides.values():
        raise invalid(field, "is not a Word .docx document (no main document part; .docm/.dotx are not accepted)", "NOT_A_DOCX")

    for name, blob in parts.items():
        lowered = name.lower()
        ext = posixpath.splitext(lowered)[1].lstrip(".")
        ctype = overrides.get("/" + lowered, defaults.get(ext, ""))
        base = posixpath.basename(lowered)
        if base.startswith(("vbaproject", "vbadata")):  # macro storage under any content type
            raise invalid(field, f"contains macros ({name}); macro-enabled documents are not accepted", "MACRO")
        if "activex" in lowered or "activex" in ctype.lower():
            raise invalid(field, f"contains ActiveX controls ({name})", "ACTIVE_CONTENT")
        if lowered.startswith("word/embeddings/") or "oleobject" in ctype.lower():
            raise invalid(field, f"contains an embedded object ({name}); embedded OLE objects are not accepted", "EMBEDDED_OBJECT")
        # Images first: SVG is XML, but it is an image format we do not accept.
        if ctype.startswith("image/") or lowered.startswith("word/media/"):
            check_image(blob, limits, field=field, label=f"image {name}")
        elif ctype.endswith("xml") or ext in ("xml", "rels"):
            if len(blob) > limits.max_xml_part_bytes:
                raise invalid(field, f"part {name} is {_size(len(blob))}; the limit is {_size(limits.max_xml_part_bytes)}", "TOO_LARGE")
            root = parse_xml(blob, field=field, part=name)
            if ext == "rels":
                _check_relationships(root, name, field)


def _content_types(blob: bytes, field: str) -> tuple[dict[str, str], dict[str, str]]:
    """Content types by part name and by extension; OPC names compare case-insensitively."""
    root = parse_xml(blob, field=field, part="[Content_Types].xml")
    overrides = {
        el.get("PartName", "").lower(): el.get("ContentType", "") for el in root.iter(f"{{{_CT_NS}}}Override")
    }
    defaults = {
        el.get("Extension", "").lower(): el.get("ContentType", "") for el in root.iter(f"{{{_CT_NS}}}Default")
    }
    return overrides, defaults


def _check_relationships(root: etree._Element, part: str, field: str) -> None:
    for rel in root.iter(f"{{{_REL_NS}}}Relationship"):
        kind = rel.get("Type", "").rstrip("/").rsplit("/", 1)[-1]
        target = rel.get("Target", "")
        if kind in _FORBIDDEN_REL_TYPES:
            raise invalid(field, f"{part} links {_FORBIDDEN_REL_TYPES[kind]} ({target!r}); they are not accepted", "EXTERNAL_LINK")
        if rel.get("TargetMode", "").lower() != "external":
            continue
        if kind != "hyperlink":
            raise invalid(
                field,
                f"{part} has an external {kind} relationship to {target!r}; "
                "only hyperlinks may point outside the document",
                "EXTERNAL_LINK",
            )
        scheme = urlsplit(target.strip()).scheme.lower()
        if scheme not in _ALLOWED_LINK_SCHEMES:
            raise invalid(field, f"{part} has a hyperlink to {target!r}; only http, https and mailto links are allowed", "EXTERNAL_LINK")


def check_image(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, field: str = "image", label: str = "image"
) -> ImageInfo:
    """Identify an image by its magic bytes and refuse unknown formats and pixel bombs.

    ``field`` is the request field to blame, ``label`` names the image in the message.
    """
    if len(data) > limits.max_image_bytes:
        raise invalid(field, f"{label} is {_size(len(data))}; the limit is {_size(limits.max_image_bytes)}", "BAD_IMAGE")
    info = _image_header(data, field, label)
    if info is None or info.format not in limits.image_formats:
        allowed = ", ".join(sorted(f.upper() for f in limits.image_formats))
        raise invalid(field, f"{label} is not an accepted image (accepted: {allowed}, recognised by content, not by name)", "BAD_IMAGE")
    if info.width <= 0 or info.height <= 0:
        raise invalid(field, f"{label} has an empty size {info.width}×{info.height}", "BAD_IMAGE")
    pixels = info.width * info.height
    if pixels > limits.max_image_pixels:
        raise invalid(
            field,
            f"{label} is a {info.format.upper()} of {info.width}×{info.height} = {pixels} pixels; "
            f"the limit is {limits.max_image_pixels} (decompression bomb?)",
            "BAD_IMAGE",
        )
    return info


def _image_header(data: bytes, field: str, label: str) -> ImageInfo | None:
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(data)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(data)
        if data.startswith(b"BM"):
            return _bmp(data)
    except (struct.error, _Malformed) as exc:
        raise invalid(field, f"{label} has a malformed header{': ' + str(exc) if str(exc) else ''}", "BAD_IMAGE") from None
    return None


class _Malformed(Exception):
    """An image header that claims a format but does not follow it."""


def _png(data: bytes) -> ImageInfo:
    length, kind, width, height = struct.unpack(">I4sII", data[8:24])
    if kind != b"IHDR" or length != 13:
        raise _Malformed("PNG without IHDR")
    return ImageInfo("png", width, height)


# JPEG markers that carry a frame size (SOF0..SOF15 minus DHT, JPG and DAC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _Malformed("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers carry no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            break
        (seg_len,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo("jpeg", width, height)
        pos += 2 + seg_len
    raise _Malformed("JPEG without a frame header")


def _gif(data: bytes) -> ImageInfo:
    width, height, flags = struct.unpack("<HHB", data[6:11])
    info = ImageInfo("gif", width, height)
    # A frame may be larger than the logical screen; decoders allocate per frame.
    pos = 13 + _color_table_size(flags)
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then data sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            fw, fh, fflags = struct.unpack("<HHB", data[pos + 5 : pos + 10])
            if fw * fh > info.width * info.height:
                info = ImageInfo("gif", max(fw, info.width), max(fh, info.height))
            pos += 10 + _color_table_size(fflags)
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
        else:
            raise _Malformed("unknown GIF block")
    return info


def _color_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _bmp(data: bytes) -> ImageInfo:
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
    elif header_size >= 40:
        width, height = struct.unpack("<ii", data[18:26])
    else:
        raise _Malformed("unknown BMP header")
    return ImageInfo("bmp", width, abs(height))
