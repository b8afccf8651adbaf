"""The filegen service over gRPC, in the running mesh: fill + convert, cache, previews, refusals."""
from __future__ import annotations

import base64
import io
import re

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from econtract.common.v1 import common_pb2
from econtract.filegen.v1 import filegen_pb2 as pb
from econtract.filegen.v1 import filegen_pb2_grpc
from services.filegen import preview
from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes, malicious_docx, simple_docx


def _json_ready(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _struct(data: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(_json_ready(data))
    return message


@pytest.fixture(scope="module")
def filegen(mesh):
    channel = grpc.insecure_channel(mesh.env["FILEGEN_ADDR"])
    yield filegen_pb2_grpc.FilegenServiceStub(channel)
    channel.close()


def _render(filegen, docx: bytes, data: dict, strict: bool = True, **kw) -> pb.RenderDocumentResponse:
    return filegen.RenderDocument(
        pb.RenderDocumentRequest(docx=common_pb2.FileData(data=docx), data=_struct(data), strict=strict, **kw),
        timeout=60,
    )


def _violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)
    fields = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields.extend(v.field for v in bad.field_violations)
    return fields


def test_loan_contract_renders_every_value_row_and_chinese_text(filegen):
    data = loan_contract_data()
    reply = _render(filegen, loan_contract_docx_bytes(), data)
    text = "".join(preview.pdf_text(reply.pdf.data))
    assert reply.page_count == 3 and len(reply.sha256) == 64
    assert "JK-2026-000123" in text and "张三" in text and "北京示例小额贷款有限公司" in text
    assert "120,000.00" in text and "壹拾贰万元整" in text
    for row in data["plan"]:
        assert f"{row['total']:,.2f}" in text, row
    assert "五日前" in text  # rich text
    assert "李四" in text  # conditional guarantor clause


def test_values_that_look_like_markup_come_out_literally(filegen):
    docx = simple_docx("甲方：{{ name }}", "备注：{{ note }}")
    reply = _render(filegen, docx, {"name": "A&B <有限公司>", "note": '</w:t></w:r><w:r><w:t>"injected"'})
    text = "".join(preview.pdf_text(reply.pdf.data))
    assert "A&B <有限公司>" in text and '</w:t></w:r><w:r><w:t>"injected"' in text


def test_same_template_and_data_give_the_same_pdf_from_the_cache(filegen):
    docx = simple_docx("编号：{{ no }}")
    first = _render(filegen, docx, {"no": "C-1"})
    again = _render(filegen, docx, {"no": "C-1"})
    other = _render(filegen, docx, {"no": "C-2"})
    assert first.pdf.data == again.pdf.data and first.sha256 == again.sha256
    assert other.sha256 != first.sha256


def test_missing_fields_are_all_named(filegen):
    docx = simple_docx("{{ contract_no }} {{ borrower.name }} {{ amount|money }}")
    with pytest.raises(grpc.RpcError) as caught:
        _render(filegen, docx, {"amount": 1})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(_violations(caught.value)) >= {"data.contract_no", "data.borrower.name"}


def test_previews_render_missing_fields_empty_and_whole_numbers_as_integers(filegen):
    docx = simple_docx("期限：{{ term }}个月", "编号：{{ contract_no }}")
    text = "".join(preview.pdf_text(_render(filegen, docx, {"term": 12}, strict=False).pdf.data))
    assert re.search(r"期限：12\s*个月", text) and "12.0" not in text  # text extraction may space a font change
    assert "编号：" in text


@pytest.mark.parametrize("escape", ["{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}",
                                    "{{ name.__class__ }}"])
def test_sandbox_escapes_are_refused(filegen, escape):
    with pytest.raises(grpc.RpcError) as caught:
        _render(filegen, simple_docx("x " + escape), {"name": "a"})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("kind", ["zip_bomb", "external_template", "not_a_zip"])
def test_hostile_documents_are_invalid_argument(filegen, kind):
    with pytest.raises(grpc.RpcError) as caught:
        _render(filegen, malicious_docx(kind), {"borrower": {"name": "x"}})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details()


def test_inspect_reports_the_schema_and_finds_keywords(filegen):
    reply = filegen.InspectTemplate(
        pb.InspectTemplateRequest(docx=common_pb2.FileData(data=loan_contract_docx_bytes()),
                                  keywords=["甲方（盖章）", "没有这个词"]),
        timeout=60,
    )
    names = {f.name: f for f in reply.fields}
    assert names["contract_no"].required and names["amount"].type == common_pb2.FillField.NUMBER
    plan = names["plan"]
    assert plan.type == common_pb2.FillField.LOOP and {f.name for f in plan.item_fields} >= {"no", "date", "total"}
    hits = {h.keyword: h for h in reply.keyword_hits}
    assert "甲方（盖章）" in hits and 1 <= hits["甲方（盖章）"].page <= 3
    assert [i.location for i in reply.issues] == ["没有这个词"]
    assert reply.page_count == 3


def test_pages_render_to_png_at_the_requested_dpi(filegen):
    pdf = _render(filegen, simple_docx("第一页"), {}).pdf.data
    import pypdfium2
    from PIL import Image

    width_points = pypdfium2.PdfDocument(pdf)[0].get_width()
    for dpi in (72, 144):
        reply = filegen.RenderPages(pb.RenderPagesRequest(pdf=common_pb2.FileData(data=pdf), dpi=dpi), timeout=30)
        image = Image.open(io.BytesIO(reply.pages[0].png.data))
        assert image.size == (reply.pages[0].width, reply.pages[0].height)
        assert abs(image.size[0] - width_points * dpi / 72) <= 2


def test_html_preview_fills_and_themes(filegen):
    request = pb.RenderHtmlRequest(document=common_pb2.FileData(data=simple_docx("甲方：{{ name }}")),
                                   theme=pb.RenderHtmlRequest.THEME_DARK, data=_struct({"name": "<script>x</script>"}))
    html = filegen.RenderHtml(request, timeout=30).html
    assert 'data-theme="dark"' in html and "&lt;script&gt;" in html and "<script>" not in html


def test_blob_delivery_round_trips(filegen):
    reply = _render(filegen, simple_docx("交付"), {}, delivery=common_pb2.DELIVERY_BLOB)
    assert reply.pdf.blob_ref == "sha256:" + reply.sha256
    pages = filegen.RenderPages(pb.RenderPagesRequest(pdf=common_pb2.FileData(blob_ref=reply.pdf.blob_ref)), timeout=30)
    assert pages.page_count == 1
    temporary = _render(filegen, simple_docx("临时"), {}, delivery=common_pb2.DELIVERY_TEMPORARY_BLOB)
    assert temporary.pdf.blob_ref.startswith("tmp:")
    pages = filegen.RenderPages(pb.RenderPagesRequest(pdf=common_pb2.FileData(blob_ref=temporary.pdf.blob_ref)), timeout=30)
    assert pages.page_count == 1
