"""Previews through REST, checked for what they show: PDF text, PNG pixels, HTML text."""
from __future__ import annotations

import base64
import io

import pypdfium2
import pytest
from PIL import Image

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
    assert light_html != dark_html  # the theme changes the page


def test_bad_preview_requests(uploader, loan_template):
    low = uploader.post(f"/v1/templates/{loan_template}:preview", {"format": "PNG", "dpi": 10})
    assert "dpi" in violations(error(low, 400, 3))
    missing = uploader.post(f"/v1/templates/{loan_template}:preview", {"version": 9})
    error(missing, 404, 5)
    error(uploader.post("/v1/templates/tpl_nosuchtemplate:preview", {}), 404, 5)
