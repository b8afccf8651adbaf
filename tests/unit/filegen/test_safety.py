"""Bounds on untrusted .docx input and images: each crafted file is refused clearly."""
from __future__ import annotations

import struct

import pytest

from core.errors import InvalidArgument
from services.filegen import safety
from services.filegen.fill import fill_docx
from services.filegen.safety import Limits, check_docx, check_image
from tests.fixtures.docx_fixtures import (
    MALICIOUS_KINDS,
    with_document_relationships,
    malicious_docx,
    png_header_only,
    seal_png,
    simple_docx,
)

# What each refusal must say, so a template author knows what to fix.
EXPECTED_REASON = {
    "not_a_zip": "not a .docx file",
    "zip_bomb": "would unpack to",
    "lying_sizes": "corrupt zip entry",
    "too_many_entries": "zip entries; the limit is 2000",
    "duplicate_entry": "twice",
    "external_template": "attached templates",
    "external_image": "external image relationship",
    "external_ole": "OLE",
    "file_hyperlink": "only http, https and mailto",
    "doctype_entity": "DOCTYPE",
    "billion_laughs": "DOCTYPE",
    "external_entity": "DOCTYPE",
    "macro_part": "macro",
    "macro_content_type": "macro",
    "activex": "ActiveX",
    "embedded_ole": "embedded OLE",
    "huge_image": "decompression bomb",
    "fake_png": "not an accepted image",
    "svg_image": "not an accepted image",
}


def test_the_catalogue_is_covered():
    assert set(EXPECTED_REASON) == set(MALICIOUS_KINDS)


@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_crafted_file_is_refused(kind):
    with pytest.raises(InvalidArgument) as error:
        check_docx(malicious_docx(kind))
    assert EXPECTED_REASON[kind] in error.value.message
    assert [v.field for v in error.value.violations] == ["template"]


@pytest.mark.parametrize("kind", ["external_image", "billion_laughs", "huge_image"])
def test_filling_checks_the_template_first(kind):
    with pytest.raises(InvalidArgument) as error:
        fill_docx(malicious_docx(kind), {"borrower": {"name": "张三"}})
    assert EXPECTED_REASON[kind] in error.value.message


def test_a_clean_template_passes():
    check_docx(simple_docx("借款人：{{ borrower.name }}"))


def test_external_web_hyperlinks_are_allowed():
    linked = with_document_relationships(
        simple_docx("见官网"),
        ("hyperlink", "https://www.example.com/terms", "External"),
        ("hyperlink", "mailto:legal@example.com", "External"),
    )
    check_docx(linked)


def test_upload_size_cap():
    data = simple_docx("正文")
    with pytest.raises(InvalidArgument, match="the limit is 1000 bytes"):
        check_docx(data, Limits(max_upload_bytes=1000))


def test_declared_size_cap_is_configurable():
    data = simple_docx("正文")
    with pytest.raises(InvalidArgument, match="would unpack to"):
        check_docx(data, Limits(max_uncompressed_bytes=64 * 1024))


def test_reading_stops_at_the_cap_even_if_declared_sizes_get_through(monkeypatch):
    # CPython's zipfile never yields more than an entry declares (a liar fails its CRC,
    # see lying_sizes), so pretend the declared check was fooled: counting must still stop.
    monkeypatch.setattr(safety, "_check_entries", lambda entries, limits, field: None)
    with pytest.raises(InvalidArgument, match="unpacks to more than 2.0 MiB"):
        check_docx(malicious_docx("zip_bomb"), Limits(max_uncompressed_bytes=2 * 1024 * 1024))


def test_a_verdict_is_cached_only_for_passing_bytes(monkeypatch):
    data = simple_docx("缓存")
    check_docx(data)
    # Once passed, the same bytes are not unpacked again...
    monkeypatch.setattr(safety, "_read_entries", lambda *a: pytest.fail("re-read a passed template"))
    check_docx(data)
    # ...but other limits are a different question.
    with pytest.raises(InvalidArgument):
        check_docx(data, Limits(max_upload_bytes=10))


# --- images ----------------------------------------------------------------------------


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def _gif(width: int, height: int, frame: tuple[int, int] | None = None) -> bytes:
    fw, fh = frame or (width, height)
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, fw, fh, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + b"\x21\xf9\x04\x00\x00\x00\x00\x00" + descriptor + b"\x3b"


def _bmp(width: int, height: int) -> bytes:
    return b"BM" + bytes(12) + struct.pack("<Iii", 40, width, height) + bytes(28)


@pytest.mark.parametrize(
    ("data", "fmt", "size"),
    [
        (seal_png(), "png", (160, 160)),
        (_jpeg(640, 480), "jpeg", (640, 480)),
        (_gif(32, 16), "gif", (32, 16)),
        (_bmp(100, -50), "bmp", (100, 50)),  # negative height: a top-down bitmap
    ],
)
def test_images_are_recognised_by_content(data, fmt, size):
    info = check_image(data)
    assert (info.format, (info.width, info.height)) == (fmt, size)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png_header_only(50_000, 50_000), "decompression bomb"),
        (_jpeg(65_000, 65_000), "decompression bomb"),
        (_gif(10, 10, frame=(65_000, 65_000)), "decompression bomb"),  # a frame bigger than its screen
        (_bmp(100_000, 100_000), "decompression bomb"),
        (b"<html>not an image</html>", "not an accepted image"),
        (b"%PDF-1.7 named logo.png", "not an accepted image"),
        (b"II*\x00" + bytes(100), "not an accepted image"),  # TIFF is not on the list
        (b"\x89PNG\r\n\x1a\n\x00\x00", "malformed header"),
        (b"\xff\xd8\xff\xd9", "malformed header"),
    ],
)
def test_bad_images_are_refused(data, reason):
    with pytest.raises(InvalidArgument, match=reason):
        check_image(data, field="data.seal")


def test_pixel_limit_and_formats_come_from_limits():
    with pytest.raises(InvalidArgument, match="the limit is 100"):
        check_image(seal_png(), Limits(max_image_pixels=100))
    with pytest.raises(InvalidArgument, match="accepted: JPEG"):
        check_image(seal_png(), Limits(image_formats=frozenset({"jpeg"})))
