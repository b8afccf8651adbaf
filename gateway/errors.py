"""Errors as REST callers see them: a ``google.rpc.Status`` body and grpc-gateway's HTTP codes."""
from __future__ import annotations

import json

import grpc
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from starlette.responses import Response

from core.errors import DomainError
from core.rpc.status import from_rpc_error, internal_status, to_status

HTTP_STATUS = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.ABORTED: 409,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DEADLINE_EXCEEDED: 504,
}


def status_response(status: status_pb2.Status, headers: dict[str, str] | None = None) -> Response:
    http = HTTP_STATUS.get(status.code, 500)
    if http == 500 and status.code != code_pb2.INTERNAL:
        status = internal_status("")  # unknown codes carry no internals either
    body = json_format.MessageToDict(status, always_print_fields_with_no_presence=True)
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=http, media_type="application/json", headers=headers
    )


def domain_error_response(error: DomainError) -> Response:
    return status_response(to_status(error))


def rpc_error_response(error: grpc.RpcError, trace_id: str) -> Response:
    status = from_rpc_error(error)
    if status.code == code_pb2.UNAVAILABLE:
        status.message = "service temporarily unavailable"  # never echo a peer's address
    elif status.code in (code_pb2.INTERNAL, code_pb2.UNKNOWN, code_pb2.DATA_LOSS):
        status = internal_status(trace_id)
    return status_response(status)
