"""Thin gRPC handlers of the filegen service: proto → domain call → proto."""
from __future__ import annotations

from google.protobuf import json_format

from core.errors import InvalidArgument, invalid
from econtract.common.v1 import common_pb2
from econtract.filegen.v1 import filegen_pb2 as pb
from econtract.filegen.v1 import filegen_pb2_grpc
from services.filegen import preview
from services.filegen.fill import fill_docx
from services.filegen.render import Renderer
from services.filegen.safety import check_docx
from services.filegen.schema import Loop, Schema
from services.filegen.stores import Stores, is_kept

_TYPES = {
    "string": common_pb2.FillField.TEXT,
    "block": common_pb2.FillField.TEXT,
    "number": common_pb2.FillField.NUMBER,
    "date": common_pb2.FillField.DATE,
    "boolean": common_pb2.FillField.BOOLEAN,
    "image": common_pb2.FillField.IMAGE,
    "html": common_pb2.FillField.RICH_TEXT,
}
_THEMES = {pb.RenderHtmlRequest.THEME_UNSPECIFIED: "light", pb.RenderHtmlRequest.THEME_LIGHT: "light",
           pb.RenderHtmlRequest.THEME_DARK: "dark"}


def schema_fields(schema: Schema) -> list[common_pb2.FillField]:
    def loop_field(loop: Loop) -> common_pb2.FillField:
        return common_pb2.FillField(
            name=loop.path,
            type=common_pb2.FillField.LOOP,
            required=loop.required,
            item_fields=[*(_field(f) for f in loop.fields), *(loop_field(inner) for inner in loop.loops)],
        )

    def _field(f) -> common_pb2.FillField:
        return common_pb2.FillField(name=f.path, type=_TYPES.get(f.type, common_pb2.FillField.TYPE_UNSPECIFIED),
                                    required=f.required)

    return [*(_field(f) for f in schema.fields), *(loop_field(loop) for loop in schema.loops)]


class FilegenApi(filegen_pb2_grpc.FilegenServiceServicer):
    def __init__(self, renderer: Renderer, stores: Stores):
        self.renderer = renderer
        self.stores = stores

    def _read(self, file: common_pb2.FileData, field: str) -> bytes:
        kind = file.WhichOneof("content")
        if kind == "data":
            if not file.data:
                raise invalid(field, "is empty")
            return file.data
        if kind == "blob_ref":
            return self.stores.get(file.blob_ref)
        raise invalid(field, "is required (inline data or a blob reference)")

    def _deliver(self, data: bytes, how: int, stored: str = "") -> common_pb2.FileData:
        """``data`` as the caller asked; ``stored`` is where it already is, reused when it fits."""
        if how not in (common_pb2.DELIVERY_BLOB, common_pb2.DELIVERY_TEMPORARY_BLOB):
            return common_pb2.FileData(data=data)
        keep = how == common_pb2.DELIVERY_BLOB
        ref = stored if stored and is_kept(stored) == keep else self.stores.put(data, keep=keep)
        return common_pb2.FileData(blob_ref=ref)

    def RenderDocument(self, request, context):
        docx = self._read(request.docx, "docx")
        data = struct_data(request.data) if request.HasField("data") else {}
        keep = request.delivery == common_pb2.DELIVERY_BLOB
        rendered = self.renderer.render(docx, data, strict=request.strict, keep=keep)
        return pb.RenderDocumentResponse(
            pdf=self._deliver(rendered.pdf, request.delivery, rendered.stored), sha256=rendered.sha256,
            page_count=rendered.pages,
        )

    def InspectTemplate(self, request, context):
        docx = self._read(request.docx, "docx")
        inspection = self.renderer.inspect(docx, list(request.keywords))
        return pb.InspectTemplateResponse(
            safe=inspection.safe,
            issues=[
                *(pb.TemplateIssue(severity=pb.TemplateIssue.SEVERITY_ERROR, code=p.code, message=p.message,
                                   location=p.location) for p in inspection.problems),
                *(pb.TemplateIssue(severity=pb.TemplateIssue.SEVERITY_WARNING, code="KEYWORD_NOT_FOUND",
                                   message=f"keyword {k!r} does not appear in the sample rendering", location=k)
                  for k in inspection.missing_keywords),
            ],
            fields=schema_fields(inspection.schema),
            keyword_hits=[pb.KeywordHit(keyword=k, page=p, x=x, y=y) for k, p, x, y in inspection.keyword_hits],
            page_count=inspection.pages,
            docx_sha256=inspection.sha256,
        )

    def ConvertToPdf(self, request, context):
        rendered = self.renderer.convert(self._read(request.document, "document"))
        return pb.ConvertToPdfResponse(
            pdf=self._deliver(rendered.pdf, request.delivery), sha256=rendered.sha256, page_count=rendered.pages
        )

    def RenderPages(self, request, context):
        pdf = self._read(request.pdf, "pdf")
        total = preview.page_count(pdf)
        first = request.first_page or 1
        last = request.last_page or total
        if not 1 <= first <= last <= total:
            raise InvalidArgument(f"pages {first}..{last} are outside the document's 1..{total}")
        dpi = request.dpi or 96
        pages = list(range(first, last + 1))
        images = preview.pdf_to_png(pdf, dpi=dpi, pages=pages)
        return pb.RenderPagesResponse(
            pages=[pb.PageImage(page=n, png=self._deliver(png, request.delivery), **_png_size(png))
                   for n, png in zip(pages, images)],
            page_count=total,
        )

    def RenderHtml(self, request, context):
        document = self._read(request.document, "document")
        theme = _THEMES.get(request.theme)
        if theme is None:
            raise invalid("theme", f"unknown theme {request.theme}")
        if _is_pdf(request.source_format, document):
            return pb.RenderHtmlResponse(html=preview.pdf_to_html(document, theme))
        if request.HasField("data"):
            # fill_docx checks the template first and writes a well-formed result.
            document = fill_docx(document, struct_data(request.data), image_loader=self.stores.blobs.get, strict=False)
        else:
            check_docx(document, field="document")
        return pb.RenderHtmlResponse(html=preview.docx_to_html(document, theme))


def _is_pdf(source_format: int, document: bytes) -> bool:
    if source_format == pb.RenderHtmlRequest.SOURCE_FORMAT_UNSPECIFIED:
        return document.startswith(b"%PDF-")  # guessed from the bytes, as the proto says
    return source_format == pb.RenderHtmlRequest.SOURCE_FORMAT_PDF


def struct_data(struct) -> dict:
    """Fill data from a Struct; JSON has one number type, so whole numbers become ints (12, not 12.0)."""

    def plain(value):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return plain(json_format.MessageToDict(struct))


def _png_size(png: bytes) -> dict[str, int]:
    # The IHDR chunk right after the signature holds width and height.
    return {"width": int.from_bytes(png[16:20], "big"), "height": int.from_bytes(png[20:24], "big")}
