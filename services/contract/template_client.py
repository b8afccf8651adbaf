"""The contract service's call to the template service: the approved version to pin.

The outgoing half of the RPC layer: protobuf is built and read only here.
"""
from __future__ import annotations

from dataclasses import dataclass

import grpc

from core.rpc.client import Peers
from services.contract.fill_data import FillField
from services.contract.model import Placement, Position
from services.contract.peer_errors import peer_error


@dataclass(frozen=True)
class Role:
    role: str
    kind: str  # PERSON or ORG
    placement: Placement


@dataclass(frozen=True)
class ApprovedTemplate:
    template_id: str
    name: str
    version: int
    docx_sha256: str
    docx_ref: str
    roles: tuple[Role, ...]
    fields: tuple[FillField, ...]

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.role == name), None)


def position(message) -> Position:
    return Position(message.keyword, message.page, message.x, message.y, message.width, message.height)


def _field(message) -> FillField:
    kind = message.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[message.type].name
    return FillField(message.name, kind, message.required, tuple(_field(f) for f in message.item_fields))


class Templates:
    def __init__(self, peers: Peers):
        self._peers = peers

    def resolve_approved(self, template_id: str, field: str = "templateId") -> ApprovedTemplate:
        """The template's current approved version (FAILED_PRECONDITION when it has none)."""
        from econtract.common.v1 import common_pb2
        from econtract.template.v1 import template_pb2, template_pb2_grpc

        stub = template_pb2_grpc.TemplateServiceStub(self._peers.channel("template"))
        try:
            reply = self._peers.call(
                stub.ResolveApprovedVersion, template_pb2.ResolveApprovedVersionRequest(template_id=template_id)
            )
        except grpc.RpcError as exc:
            raise peer_error(exc, "template", f"resolving the approved version of {field} {template_id}") from None
        return ApprovedTemplate(
            template_id=reply.template_id,
            name=reply.template_name,
            version=reply.version,
            docx_sha256=reply.docx_sha256,
            docx_ref=reply.docx.blob_ref,
            roles=tuple(
                Role(
                    role=r.role,
                    kind=common_pb2.SignerKind.Name(r.kind),
                    placement=Placement(tuple(position(p) for p in r.positions), r.riding_seal,
                                        position(r.date_position) if r.HasField("date_position") else None),
                )
                for r in reply.signers
            ),
            fields=tuple(_field(f) for f in reply.fields),
        )
