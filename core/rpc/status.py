"""Domain errors ↔ ``google.rpc.Status``, the one shape errors take on the wire."""
from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from core.errors import DomainError


def to_status(error: DomainError) -> status_pb2.Status:
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        status.details.append(detail)
    return status


def internal_status(trace_id: str) -> status_pb2.Status:
    suffix = f" (trace {trace_id})" if trace_id else ""
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error" + suffix)


def plain_status(code: grpc.StatusCode, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=code.value[0], message=message)


def from_rpc_error(error: grpc.RpcError) -> status_pb2.Status:
    """The rich status a server sent, or one made from the bare code and details."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    return plain_status(error.code(), error.details() or error.code().name)
