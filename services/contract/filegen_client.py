"""The contract service's calls to filegen: render a template, convert an upload.

The outgoing half of the RPC layer: protobuf is built and read only here. filegen names
fill-data problems ``data.…``; ``data_field`` renames them to where the data sat in our
request (``data`` or ``extraDocuments[1].fillData``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import struct_pb2

from core.rpc.client import Peers
from services.contract.peer_errors import peer_error

# Rendering and converting can queue behind other renders in LibreOffice's pool.
RENDER_TIMEOUT = 60.0


@dataclass(frozen=True)
class Pdf:
    sha256: str
    pages: int
    blob_ref: str = ""  # set when stored in the blob store
    data: bytes = b""  # set when returned inline


def _renamer(data_field: str):
    def rename(field: str) -> str:
        if field == "data" or field.startswith(("data.", "data[")):
            return data_field + field[len("data"):]
        return field

    return rename


class Filegen:
    def __init__(self, peers: Peers):
        self._peers = peers

    def _stub(self):
        from econtract.filegen.v1 import filegen_pb2_grpc

        return filegen_pb2_grpc.FilegenServiceStub(self._peers.channel("filegen"))

    def render(self, docx_ref: str, data: dict[str, Any], *, store: bool, data_field: str = "data") -> Pdf:
        """Fill strictly (every missing field is INVALID_ARGUMENT) and convert to PDF;
        ``store`` keeps it in the blob store, else it comes back inline."""
        from econtract.common.v1 import common_pb2
        from econtract.filegen.v1 import filegen_pb2

        struct = struct_pb2.Struct()
        struct.update(data)
        request = filegen_pb2.RenderDocumentRequest(
            docx=common_pb2.FileData(blob_ref=docx_ref),
            data=struct,
            delivery=common_pb2.DELIVERY_BLOB if store else common_pb2.DELIVERY_INLINE,
            strict=True,
        )
        try:
            reply = self._peers.call(self._stub().RenderDocument, request, timeout=RENDER_TIMEOUT)
        except grpc.RpcError as exc:
            raise peer_error(exc, "filegen", "rendering the document", rename=_renamer(data_field)) from None
        return Pdf(reply.sha256, reply.page_count, reply.pdf.blob_ref, reply.pdf.data)

    def convert(self, data: bytes, file_name: str, field: str) -> Pdf:
        """An uploaded document (e.g. .docx) as a stored PDF."""
        from econtract.common.v1 import common_pb2
        from econtract.filegen.v1 import filegen_pb2

        request = filegen_pb2.ConvertToPdfRequest(
            document=common_pb2.FileData(data=data), file_name=file_name, delivery=common_pb2.DELIVERY_BLOB
        )
        try:
            reply = self._peers.call(self._stub().ConvertToPdf, request, timeout=RENDER_TIMEOUT)
        except grpc.RpcError as exc:
            raise peer_error(exc, "filegen", f"converting {field}", rename=lambda f: field) from None
        return Pdf(reply.sha256, reply.page_count, reply.pdf.blob_ref)
