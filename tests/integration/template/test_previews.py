"""Previews through REST, checked for what they show: PDF text, PNG pixels, HTML text."""
from __future__ import annotations

import base64
import io
import re

import pypdfium2
import pytest
from PIL import Image, ImageChops

from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes
from tests.integration.template.helpers import created, error, unique, violations

A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def loan_template(uploader) -> str:
    return created(uploader, loan_contract_docx_bytes(), name=unique("预览借款合同"))["templateId"]


@pytest.fixture(scope="module")
def loan_data() -> dict:
    data = loan_contract_data()
    seal = data["lender_seal"]
    data["lender_seal"] = {**seal, "$image": base64.b64encode(seal["$image"]).decode("ascii")}
    return data


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(pages)
    finally:
        document.close()


def preview(client, template_id: str, **body) -> dict:
    reply = client.post(f"/v1/templates/{template_id}:preview", body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_pdf_preview_shows_the_given_data(uploader, loan_template, loan_data):
    body = preview(uploader, loan_template, format="PDF", data=loan_data)
    assert body["contentType"] == "application/pdf" and body["version"] == 1
    pdf = base64.b64decode(body["data"])
    text = pdf_text(pdf)
    for expected in ("个人借款合同", "JK-2026-000123", "张三", "北京示例小额贷款有限公司", "壹拾贰万元整", "120,000.00"):
        assert expected in text, expected
    assert body["pageCount"] == len(pypdfium2.PdfDocument(pdf)) >= 2


def test_pdf_preview_with_sample_data_fills_every_field(uploader, loan_template):
    body = preview(uploader, loan_template, format="PDF", useSampleData=True, data={"contract_no": "YL-0001"})
    text = pdf_text(base64.b64decode(body["data"]))
    assert "YL-0001" in text  # given values win over samples
    assert "张三" in text and "示例科技有限公司" in text  # borrower and lender from the sample data
    assert "{{" not in text


def test_raw_pdf_with_alt_media(uploader, loan_template, loan_data):
    reply = uploader.post(f"/v1/templates/{loan_template}:preview?alt=media", {"data": loan_data})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf" and reply.content.startswith(b"%PDF-")


def test_png_preview_gives_one_decodable_image_per_page_at_the_asked_resolution(uploader, loan_template, loan_data):
    body = preview(uploader, loan_template, format="PNG", dpi=72, data=loan_data)
    assert body["contentType"] == "image/png" and body["data"] == ""
    pages = body["pages"]
    assert [p["page"] for p in pages] == list(range(1, body["pageCount"] + 1))
    for page in pages:
        image = Image.open(io.BytesIO(base64.b64decode(page["png"])))
        assert image.format == "PNG"
        assert image.size == (page["width"], page["height"])
        assert abs(image.width - A4_POINTS[0]) <= 2 and abs(image.height - A4_POINTS[1]) <= 2
    first = Image.open(io.BytesIO(base64.b64decode(pages[0]["png"]))).convert("L")
    assert first.getextrema()[0] < 100, "the first page is blank"


def png(page: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(page["png"]))).convert("L")


def pdf_page_image(pdf: bytes, index: int, dpi: int) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[index].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        document.close()


def text_boxes(pdf: bytes, index: int, text: str, dpi: int) -> list[tuple[float, float, float, float]]:
    """Every occurrence of ``text`` on a page, as (left, top, right, bottom) in image pixels at ``dpi``."""
    scale = dpi / 72
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[index]
        height = page.get_height()
        textpage = page.get_textpage()
        searcher = textpage.search(text, match_case=True)
        boxes = []
        while (found := searcher.get_next()) is not None:
            chars = [textpage.get_charbox(i) for i in range(found[0], found[0] + found[1])]
            left, right = min(c[0] for c in chars), max(c[2] for c in chars)
            bottom, top = min(c[1] for c in chars), max(c[3] for c in chars)
            boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
        return boxes
    finally:
        document.close()


def test_png_pages_are_the_pdf_preview_of_the_same_data(uploader, loan_template, loan_data):
    pdf = base64.b64decode(preview(uploader, loan_template, format="PDF", data=loan_data)["data"])
    pages = preview(uploader, loan_template, format="PNG", dpi=72, data=loan_data)["pages"]
    assert len(pages) == len(pypdfium2.PdfDocument(pdf))
    for index, page in enumerate(pages):
        image, expected = png(page), pdf_page_image(pdf, index, 72)
        assert image.size == expected.size
        differing = sum(ImageChops.difference(image, expected).point(lambda v: 255 if v > 64 else 0).histogram()[255:])
        # Both come from the same PDF rendering: a changed value alone differs by hundreds of pixels.
        assert differing <= 20, f"page {index + 1}: {differing} pixels differ from the PDF preview"
    # The filled values are where the PDF has them, drawn in ink, on the PNG of page 1.
    first = png(pages[0])
    for value in ("JK-2026-000123", "张三"):
        left, top, right, bottom = text_boxes(pdf, 0, value, 72)[0]
        assert first.crop((int(left), int(top), int(right) + 1, int(bottom) + 1)).getextrema()[0] < 100, value


def test_changing_one_field_changes_the_png_only_where_that_field_is(uploader, loan_template, loan_data):
    dpi = 72
    other = {**loan_data, "contract_no": "ZX-7777-888999"}  # as long as the original: nothing else moves
    before = png(preview(uploader, loan_template, format="PNG", dpi=dpi, data=loan_data)["pages"][0])
    after = png(preview(uploader, loan_template, format="PNG", dpi=dpi, data=other)["pages"][0])
    changed = ImageChops.difference(before, after).point(lambda v: 255 if v > 32 else 0).getbbox()
    assert changed is not None, "a different contract number left page 1 unchanged"

    pdf = base64.b64decode(preview(uploader, loan_template, format="PDF", data=loan_data)["data"])
    boxes = text_boxes(pdf, 0, loan_data["contract_no"], dpi)
    assert boxes, "the contract number is not on page 1"
    margin = 3
    left = min(b[0] for b in boxes) - margin
    top = min(b[1] for b in boxes) - margin
    right = max(b[2] for b in boxes) + margin
    bottom = max(b[3] for b in boxes) + margin
    assert left <= changed[0] and top <= changed[1] and changed[2] <= right and changed[3] <= bottom, (changed, boxes)
    # And each place the number is printed did change.
    for box in boxes:
        region = tuple(int(v) for v in (box[0], box[1], box[2] + 1, box[3] + 1))
        assert ImageChops.difference(before.crop(region), after.crop(region)).getbbox() is not None, box


THEME_VARIABLES = re.compile(r':root\[data-theme="(?P<theme>\w+)"\]\s*\{(?P<body>[^}]*)\}')


def theme_colours(html: str) -> dict[str, float]:
    """The page's own theme (``data-theme`` on <html>) as the relative luminance of its
    background and text colours, read from the CSS variables that theme sets."""
    theme = re.search(r'<html[^>]*\sdata-theme="(\w+)"', html).group(1)
    declared = {m["theme"]: m["body"] for m in THEME_VARIABLES.finditer(html)}
    colours = dict(re.findall(r"--(bg|fg|page):\s*#([0-9a-fA-F]{6})", declared[theme]))

    def luminance(hex_colour: str) -> float:
        red, green, blue = (int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4))
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    return {"theme": theme, **{name: luminance(value) for name, value in colours.items()}}


def test_html_preview_light_and_dark_show_the_filled_text(uploader, loan_template, loan_data):
    light = preview(uploader, loan_template, format="HTML", theme="LIGHT", data=loan_data)
    dark = preview(uploader, loan_template, format="HTML", theme="DARK", data=loan_data)
    assert light["contentType"] == dark["contentType"] == "text/html; charset=utf-8"
    light_html = base64.b64decode(light["data"]).decode("utf-8")
    dark_html = base64.b64decode(dark["data"]).decode("utf-8")
    for html in (light_html, dark_html):
        assert html.lstrip().lower().startswith("<!doctype html")
        for expected in ("张三", "JK-2026-000123", "北京示例小额贷款有限公司"):
            assert expected in html, expected
        assert "{{" not in html
    # Each page declares its theme and gets that theme's colours: dark text on a light
    # page, light text on a dark one.
    assert 'name="color-scheme" content="light"' in light_html and 'name="color-scheme" content="dark"' in dark_html
    light_colours, dark_colours = theme_colours(light_html), theme_colours(dark_html)
    assert light_colours["theme"] == "light" and dark_colours["theme"] == "dark"
    assert light_colours["bg"] > 0.9 and light_colours["page"] > 0.9 and light_colours["fg"] < 0.2, light_colours
    assert dark_colours["bg"] < 0.1 and dark_colours["page"] < 0.15 and dark_colours["fg"] > 0.8, dark_colours


def test_html_preview_with_sample_data_shows_every_field_filled(uploader, loan_template):
    body = preview(uploader, loan_template, format="HTML", useSampleData=True, data={"contract_no": "YL-0002"})
    assert body["contentType"] == "text/html; charset=utf-8" and body["version"] == 1
    html = base64.b64decode(body["data"]).decode("utf-8")
    assert "YL-0002" in html  # given values win over samples
    assert "张三" in html and "示例科技有限公司" in html  # borrower and lender from the sample data
    assert "{{" not in html and "{%" not in html


def test_bad_preview_requests(uploader, loan_template):
    low = uploader.post(f"/v1/templates/{loan_template}:preview", {"format": "PNG", "dpi": 10})
    assert "dpi" in violations(error(low, 400, 3))
    missing = uploader.post(f"/v1/templates/{loan_template}:preview", {"version": 9})
    error(missing, 404, 5)
    error(uploader.post("/v1/templates/tpl_nosuchtemplate:preview", {}), 404, 5)
