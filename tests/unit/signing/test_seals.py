import io

import pytest
from PIL import Image, ImageDraw

from core.errors import InvalidArgument
from services.signing import seals


def _open(png: bytes) -> Image.Image:
    assert png.startswith(seals.PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGBA"
    return image


def _is_red(pixel) -> bool:
    r, g, b, a = pixel
    return a > 200 and r > 180 and g < 90 and b < 90


def _ink(image: Image.Image) -> int:
    return sum(1 for a in image.getchannel("A").tobytes() if a)


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _red_ring(png: bytes, size: tuple[int, int], inset: int) -> Image.Image:
    """The seal, checked to be ``size`` with transparent corners and a red ring ``inset`` pixels in
    at the middle of its top and of its left side."""
    image = _open(png)
    assert image.size == size
    width, height = size
    for corner in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]:
        assert image.getpixel(corner)[3] == 0
    assert _is_red(image.getpixel((width // 2, inset)))  # top of the ring
    assert _is_red(image.getpixel((inset, height // 2)))  # left of the ring
    return image


def test_round_company_seal_is_a_transparent_red_ring_with_a_star():
    image = _red_ring(seals.round_company_seal("某某科技有限公司", "1101020012345", title="合同专用章", size=400),
                      (400, 400), 12)
    assert _is_red(image.getpixel((200, 190)))  # inside the star
    assert image.getpixel((200, 100))[3] == 0 or _is_red(image.getpixel((200, 100)))  # no other colours


def test_round_seal_draws_text_along_the_arc():
    plain = _open(seals.round_company_seal("某某科技有限公司", size=300))
    ring_only = _open(seals.round_company_seal("一", size=300))
    # The name occupies the band just inside the ring, left and right of the top.
    band = (40, 40, 260, 110)
    assert _ink(plain.crop(band)) > 2 * _ink(ring_only.crop(band))


def test_round_seal_code_goes_along_the_bottom():
    without = _open(seals.round_company_seal("某某科技有限公司", size=300))
    with_code = _open(seals.round_company_seal("某某科技有限公司", "1101020012345", size=300))
    bottom = (60, 230, 240, 270)
    assert _ink(with_code.crop(bottom)) > _ink(without.crop(bottom)) + 200


def test_long_company_names_still_fit():
    image = _open(seals.round_company_seal("北京某某某某某某信息技术股份有限公司上海分公司", size=300))
    assert image.getpixel((0, 0))[3] == 0


@pytest.mark.parametrize("kwargs", [{"name": " "}, {"name": "x" * 41}, {"name": "某", "size": 50},
                                    {"name": "某", "code": "1" * 21}])
def test_round_seal_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        seals.round_company_seal(**kwargs)


@pytest.mark.parametrize("name, layout", [
    ("张三", ["张", "三", "之", "印"]),
    ("张小三", ["张", "小", "三", "印"]),
    ("欧阳娜娜", ["欧", "阳", "娜", "娜"]),
    (" 李 四 ", ["李", "四", "之", "印"]),
])
def test_name_seal_layout_fills_the_two_by_two_grid(name, layout):
    assert seals.name_seal_layout(name) == layout


def test_name_seal_layout_rejects_empty_and_overlong_names():
    with pytest.raises(InvalidArgument):
        seals.name_seal_layout("  ")
    with pytest.raises(InvalidArgument):
        seals.name_seal_layout("一二三四五六七八九")


@pytest.mark.parametrize("name", ["张三", "张小三", "欧阳娜娜", "王"])
def test_square_name_seal_is_a_red_frame_with_transparent_outside(name):
    image = _open(seals.square_name_seal(name, size=200))
    assert image.size == (200, 200)
    assert image.getpixel((0, 0))[3] == 0  # outside the frame
    assert _is_red(image.getpixel((100, 8)))  # top edge of the frame
    assert _is_red(image.getpixel((8, 100)))  # left edge


def test_square_seal_reads_right_column_first():
    image = _open(seals.square_name_seal("张小三", size=200))
    left, right = image.crop((20, 20, 100, 180)), image.crop((100, 20, 180, 180))
    reference = _open(seals.square_name_seal("印印印印", size=200)).crop((20, 20, 100, 180))
    # the 印 added to a three-character name ends up bottom-left, with 三 above it
    bottom_left = image.crop((20, 100, 100, 180)).getchannel("A")
    assert bottom_left.tobytes() == reference.crop((0, 80, 80, 160)).getchannel("A").tobytes()
    assert left.getchannel("A").getbbox() and right.getchannel("A").getbbox()


def test_oval_company_seal_is_a_four_by_three_ring_without_a_star():
    image = _red_ring(seals.oval_company_seal("某某科技有限公司", "91110302MA01NNKT89", title="发票专用章", size=400),
                      (400, 300), 9)
    assert image.getpixel((200, 130))[3] == 0  # where a round seal has its star


def test_oval_seal_code_goes_across_the_middle_and_title_below():
    bare = _open(seals.oval_company_seal("某某科技有限公司", size=400))
    full = _open(seals.oval_company_seal("某某科技有限公司", "91110302MA01NNKT89", title="发票专用章", size=400))
    middle, lower = (90, 160, 310, 190), (130, 210, 270, 250)
    assert _ink(bare.crop(middle)) == 0 and _ink(bare.crop(lower)) == 0
    assert _ink(full.crop(middle)) > 500 and _ink(full.crop(lower)) > 500


@pytest.mark.parametrize("kwargs", [{"name": " "}, {"name": "x" * 41}, {"name": "某", "size": 50},
                                    {"name": "某", "code": "1" * 21}])
def test_oval_seal_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        seals.oval_company_seal(**kwargs)


def test_rectangular_name_seal_is_one_row_with_yin_for_short_names():
    three = _open(seals.rectangular_name_seal("李小明", size=100))
    four = _open(seals.rectangular_name_seal("欧阳娜娜", size=100))
    two = _open(seals.rectangular_name_seal("张三", size=100))
    assert three.height == 100 and three.width > 2.5 * three.height
    assert three.size == four.size  # 李小明 gets 印: four characters like 欧阳娜娜
    assert two.width < three.width  # 张三印: three
    assert three.getpixel((0, 0))[3] == 0
    assert _is_red(three.getpixel((three.width // 2, 4)))  # top edge of the frame
    # the last cell holds 印, drawn the same as in a seal made of 印 alone
    reference = _open(seals.rectangular_name_seal("印印印印", size=100))
    cell = (three.width * 3 // 4 + 4, 10, three.width - 10, 90)
    assert three.crop(cell).getchannel("A").tobytes() == reference.crop(cell).getchannel("A").tobytes()


@pytest.mark.parametrize("kwargs", [{"name": " "}, {"name": "一二三四五六七八九"}, {"name": "王", "size": 40}])
def test_rectangular_seal_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        seals.rectangular_name_seal(**kwargs)


def test_uploaded_png_white_background_becomes_transparent():
    source = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(source).ellipse((50, 20, 250, 180), outline=(200, 0, 0), width=12)
    image = _open(seals.normalize_uploaded_seal(_png(source)))
    assert image.size == (201, 161)  # cropped to the ink
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((100, 80))[3] == 0  # white inside the ring too
    assert _is_red(image.getpixel((100, 5)))


def test_uploaded_jpeg_is_accepted_and_normalised_to_png():
    source = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(source).rectangle((40, 40, 160, 160), outline=(210, 20, 20), width=14)
    image = _open(seals.normalize_uploaded_seal(_png(source, "JPEG")))
    assert _is_red(image.getpixel((image.width // 2, 6)))
    assert image.getpixel((image.width // 2, image.height // 2))[3] == 0


def test_uploaded_images_are_shrunk_to_the_output_limit():
    source = Image.new("RGB", (2000, 1000), (200, 0, 0))
    image = _open(seals.normalize_uploaded_seal(_png(source)))
    assert max(image.size) == seals.UploadLimits().output_max_side


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"GIF89a" + b"\x00" * 100, "PNG or JPEG"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "PNG or JPEG"),
    (seals.PNG_MAGIC + b"\x00" * 50, "cannot be decoded"),
    (seals.JPEG_MAGIC + b"\x00" * 50, "cannot be decoded"),
])
def test_uploads_that_are_not_png_or_jpeg_are_refused(data, message):
    with pytest.raises(InvalidArgument, match=message):
        seals.normalize_uploaded_seal(data)


def test_uploads_over_the_byte_limit_are_refused():
    with pytest.raises(InvalidArgument, match="larger than"):
        seals.normalize_uploaded_seal(seals.PNG_MAGIC + b"\x00" * 2000, seals.UploadLimits(max_bytes=1000))


@pytest.mark.parametrize("side", [5000, 20000])
def test_decompression_bombs_are_refused_before_decoding(side):
    # one-bit pixels compress to a few kilobytes: our own limit catches 25 MP,
    # Pillow's bomb guard (which we turn into the same error) 400 MP
    bomb = _png(Image.new("1", (side, side)))
    assert len(bomb) < seals.UploadLimits().max_bytes
    with pytest.raises(InvalidArgument, match="pixels"):
        seals.normalize_uploaded_seal(bomb)


def test_blank_uploads_are_refused():
    with pytest.raises(InvalidArgument, match="no visible content"):
        seals.normalize_uploaded_seal(_png(Image.new("RGB", (100, 100), "white")))


def test_fontconfig_finds_a_cjk_font():
    font = seals.find_cjk_font()
    assert font.path.endswith((".ttc", ".otf", ".ttf"))
    assert seals.find_cjk_font("/some/font.ttc:3") == seals.FontSpec("/some/font.ttc", 3)
