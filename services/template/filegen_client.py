"""The template service's calls to filegen: plain Python in, plain Python out.

This is the outgoing half of the RPC layer: protobuf messages are built and read only
here, and filegen's errors become this service's domain errors, with field paths renamed
to this service's request fields (filegen's ``template`` is our ``docx``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import grpc
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2

from core import errors
from core.rpc.client import Peers
from core.rpc.status import from_rpc_error
from services.template.fields import FillField

# Peer codes passed on as they are; anything else (INTERNAL, NOT_FOUND of a blob we
# stored...) is our own fault and surfaces as INTERNAL.
_PASSED_ON: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: errors.OutOfRange,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
}


@dataclass(frozen=True)
class Docx:
    """A .docx for filegen: inline bytes (not stored yet) or a blob-store reference."""

    data: bytes = b""
    ref: str = ""


@dataclass(frozen=True)
class Issue:
    severity: str  # ERROR or WARNING
    code: str
    message: str
    location: str


@dataclass(frozen=True)
class KeywordHit:
    keyword: str
    page: int
    x: float
    y: float


@dataclass(frozen=True)
class Inspection:
    safe: bool
    issues: tuple[Issue, ...]
    fields: tuple[FillField, ...]
    keyword_hits: tuple[KeywordHit, ...]
    page_count: int


@dataclass(frozen=True)
class Pdf:
    data: bytes
    page_count: int


@dataclass(frozen=True)
class PageImage:
    page: int
    png: bytes
    width: int
    height: int


def rename_template_field(field: str) -> str:
    """filegen calls the .docx ``template``; our requests call it ``docx``."""
    if field == "template" or field.startswith("template."):
        return "docx" + field[len("template"):]
    return field


class Filegen:
    """filegen's RPCs as the template service uses them."""

    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.filegen.v1 import filegen_pb2_grpc

        return filegen_pb2_grpc.FilegenServiceStub(self._peers.channel("filegen"))

    def _call(self, method: Callable, request, action: str, rename: Callable[[str], str]):
        try:
            return self._peers.call(method, request)
        except grpc.RpcError as exc:
            raise _domain_error(exc, action, rename) from None

    def inspect(self, docx: Docx, keywords: list[str]) -> Inspection:
        """Safety check, schema and keyword hits of a .docx (rendered with filegen's samples)."""
        from econtract.filegen.v1 import filegen_pb2 as pb

        reply = self._call(
            self._stub().InspectTemplate,
            pb.InspectTemplateRequest(docx=_file(docx), keywords=keywords),
            "checking the template",
            rename_template_field,
        )
        severity = {pb.TemplateIssue.SEVERITY_ERROR: "ERROR", pb.TemplateIssue.SEVERITY_WARNING: "WARNING"}
        return Inspection(
            safe=reply.safe,
            issues=tuple(Issue(severity.get(i.severity, "ERROR"), i.code, i.message, i.location) for i in reply.issues),
            fields=tuple(fill_field(f) for f in reply.fields),
            keyword_hits=tuple(KeywordHit(h.keyword, h.page, h.x, h.y) for h in reply.keyword_hits),
            page_count=reply.page_count,
        )

    def render_pdf(self, docx: Docx, data: dict[str, Any], *, strict: bool,
                   rename: Callable[[str], str] = rename_template_field) -> Pdf:
        """Fill and convert to PDF, returned inline."""
        from econtract.common.v1 import common_pb2
        from econtract.filegen.v1 import filegen_pb2 as pb

        reply = self._call(
            self._stub().RenderDocument,
            pb.RenderDocumentRequest(
                docx=_file(docx), data=_struct(data), delivery=common_pb2.DELIVERY_INLINE, strict=strict
            ),
            "rendering the template",
            rename,
        )
        return Pdf(reply.pdf.data, reply.page_count)

    def render_pages(self, pdf: bytes, dpi: int) -> list[PageImage]:
        """Every page of ``pdf`` as PNG at ``dpi``."""
        from econtract.common.v1 import common_pb2
        from econtract.filegen.v1 import filegen_pb2 as pb

        reply = self._call(
            self._stub().RenderPages,
            pb.RenderPagesRequest(pdf=common_pb2.FileData(data=pdf), dpi=dpi, delivery=common_pb2.DELIVERY_INLINE),
            "rendering the pages",
            lambda field: field,
        )
        return [PageImage(p.page, p.png.data, p.width, p.height) for p in reply.pages]

    def render_html(self, docx: Docx, data: dict[str, Any], *, dark: bool) -> str:
        """The .docx filled with ``data`` as one self-contained HTML page."""
        from econtract.filegen.v1 import filegen_pb2 as pb

        theme = pb.RenderHtmlRequest.THEME_DARK if dark else pb.RenderHtmlRequest.THEME_LIGHT
        reply = self._call(
            self._stub().RenderHtml,
            pb.RenderHtmlRequest(
                document=_file(docx),
                source_format=pb.RenderHtmlRequest.SOURCE_FORMAT_DOCX,
                theme=theme,
                data=_struct(data),
            ),
            "rendering HTML",
            rename_template_field,
        )
        return reply.html


def fill_field(message) -> FillField:
    """A ``common.v1.FillField`` message as a domain value."""
    return FillField(
        name=message.name,
        type=message.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[message.type].name,
        required=message.required,
        item_fields=tuple(fill_field(f) for f in message.item_fields),
        label=message.label,
    )


def _file(docx: Docx):
    from econtract.common.v1 import common_pb2

    return common_pb2.FileData(blob_ref=docx.ref) if docx.ref else common_pb2.FileData(data=docx.data)


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def _domain_error(exc: grpc.RpcError, action: str, rename: Callable[[str], str]) -> Exception:
    kind = _PASSED_ON.get(exc.code())
    if kind is None:
        return exc
    status = from_rpc_error(exc)
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(errors.FieldViolation(rename(v.field), v.description) for v in bad.field_violations)
    if kind is errors.InvalidArgument:
        # Restate the message with our field names when filegen gave them.
        message = "; ".join(f"{v.field}: {v.description}" for v in violations) or status.message
        return kind(message, violations)
    return kind(f"file generation failed while {action}: {status.message}", violations)
