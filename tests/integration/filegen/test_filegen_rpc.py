"""The filegen service over gRPC, in the running mesh: fill + convert, cache, previews, refusals."""
from __future__ import annotations

import base64
import hashlib
import io
import os
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
from services.filegen.tempfiles import TempFiles
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


# --- where renders are kept ------------------------------------------------------------


def _cache_entry(mesh, docx: bytes, data: dict, strict: bool) -> tuple[str, int]:
    """The render cache's value for one render, and its time to live in seconds."""
    from services.filegen.render import _cache_key

    ctx = mesh.contexts["filegen"]
    mode = "strict" if strict else "lenient"
    key = f"{ctx.settings.redis_prefix}filegen:render:{mode}:{_cache_key(hashlib.sha256(docx).hexdigest(), data)}"
    return ctx.redis.get(key).decode(), ctx.redis.ttl(key)


def _temp_ttl() -> float:
    return float(os.environ.get("FILEGEN_TMP_TTL") or 3600)


def test_previews_live_in_the_expiring_area_and_never_in_the_blob_store(filegen, mesh):
    blobs = mesh.contexts["filegen"].blobs
    docx = simple_docx("预览：{{ name }}")
    reply = _render(filegen, docx, {"name": "临时预览"}, strict=False)
    assert not blobs.exists("sha256:" + reply.sha256)
    ref, ttl = _cache_entry(mesh, docx, {"name": "临时预览"}, strict=False)
    assert ref.startswith("tmp:") and 0 < ttl <= _temp_ttl()
    kept_for_now = (mesh.settings("filegen").blob_dir / "tmp" / ref[4:]).read_bytes()
    assert hashlib.sha256(kept_for_now).hexdigest() == reply.sha256


def test_a_contract_render_delivered_as_a_blob_is_kept_for_good(filegen, mesh):
    blobs = mesh.contexts["filegen"].blobs
    docx = simple_docx("合同：{{ no }}")
    preview_first = _render(filegen, docx, {"no": "K-1"})
    assert not blobs.exists("sha256:" + preview_first.sha256)
    kept = _render(filegen, docx, {"no": "K-1"}, delivery=common_pb2.DELIVERY_BLOB)
    # The cached render is promoted: same bytes, now in the blob store, and the cache points there.
    assert kept.sha256 == preview_first.sha256 and kept.pdf.blob_ref == "sha256:" + kept.sha256
    assert blobs.get(kept.pdf.blob_ref) == preview_first.pdf.data
    ref, ttl = _cache_entry(mesh, docx, {"no": "K-1"}, strict=True)
    assert ref == kept.pdf.blob_ref and ttl > _temp_ttl()


def test_an_expired_temporary_render_is_rendered_again(filegen, mesh):
    docx = simple_docx("过期：{{ no }}")
    first = _render(filegen, docx, {"no": "E-1"}, strict=False)
    ref, _ = _cache_entry(mesh, docx, {"no": "E-1"}, strict=False)
    TempFiles(mesh.settings("filegen").blob_dir / "tmp").delete(ref[4:])
    again = _render(filegen, docx, {"no": "E-1"}, strict=False)
    new_ref, _ = _cache_entry(mesh, docx, {"no": "E-1"}, strict=False)
    assert new_ref.startswith("tmp:") and new_ref != ref
    assert "E-1" in "".join(preview.pdf_text(again.pdf.data)) and again.page_count == first.page_count


def _blob_count(mesh) -> int:
    root = mesh.settings("filegen").blob_dir
    return sum(1 for path in root.rglob("*") if path.is_file() and "tmp" not in path.relative_to(root).parts)


def test_trial_renders_and_inline_conversions_leave_nothing_in_the_blob_store(filegen, mesh):
    before = _blob_count(mesh)
    filegen.InspectTemplate(pb.InspectTemplateRequest(docx=common_pb2.FileData(data=simple_docx("试算 {{ x }}"))),
                            timeout=60)
    converted = filegen.ConvertToPdf(pb.ConvertToPdfRequest(document=common_pb2.FileData(data=simple_docx("转换 7")),
                                                            file_name="a.docx"), timeout=60)
    assert converted.page_count == 1 and _blob_count(mesh) == before


# --- inspection reports problems with their codes ----------------------------------------


@pytest.mark.parametrize(
    ("docx", "code"),
    [
        (lambda: malicious_docx("external_template"), "EXTERNAL_LINK"),
        (lambda: malicious_docx("macro_part"), "MACRO"),
        (lambda: malicious_docx("zip_bomb"), "TOO_LARGE"),
        (lambda: malicious_docx("doctype_entity"), "DOCTYPE"),
        (lambda: malicious_docx("not_a_zip"), "NOT_A_DOCX"),
        (lambda: simple_docx("{{ ''.__class__.__mro__ }}"), "UNSAFE_EXPRESSION"),
        (lambda: simple_docx("{% include 'x' %}"), "UNSAFE_EXPRESSION"),
        (lambda: simple_docx("{% if %}"), "SYNTAX_ERROR"),
    ],
    ids=["external", "macro", "zip_bomb", "doctype", "not_a_zip", "escape", "include", "syntax"],
)
def test_inspection_reports_an_unusable_template_with_its_code(filegen, docx, code):
    reply = filegen.InspectTemplate(pb.InspectTemplateRequest(docx=common_pb2.FileData(data=docx()),
                                                              keywords=["甲方"]), timeout=60)
    errors = [i for i in reply.issues if i.severity == pb.TemplateIssue.SEVERITY_ERROR]
    assert not reply.safe and [i.code for i in errors] == [code] and errors[0].message
    assert not reply.keyword_hits and reply.page_count == 0


def test_a_sound_template_is_safe_with_warnings_only(filegen):
    reply = filegen.InspectTemplate(pb.InspectTemplateRequest(docx=common_pb2.FileData(data=simple_docx("乙方 {{ y }}")),
                                                              keywords=["甲方"]), timeout=60)
    assert reply.safe and [(i.severity, i.code) for i in reply.issues] == [
        (pb.TemplateIssue.SEVERITY_WARNING, "KEYWORD_NOT_FOUND")]


# --- HTML previews check what they are given ------------------------------------------------


@pytest.mark.parametrize("kind", ["zip_bomb", "billion_laughs", "external_entity", "external_template"])
def test_html_of_a_hostile_document_is_refused_even_without_data(filegen, kind):
    request = pb.RenderHtmlRequest(document=common_pb2.FileData(data=malicious_docx(kind)),
                                   source_format=pb.RenderHtmlRequest.SOURCE_FORMAT_DOCX)
    with pytest.raises(grpc.RpcError) as caught:
        filegen.RenderHtml(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _violations(caught.value) == ["document"]


def test_html_of_a_pdf_is_recognised_from_its_bytes(filegen):
    pdf = _render(filegen, simple_docx("页面 HTML"), {}).pdf.data
    html = filegen.RenderHtml(pb.RenderHtmlRequest(document=common_pb2.FileData(data=pdf)), timeout=30).html
    assert html.count("<img") == 1 and "data:image/png;base64," in html
