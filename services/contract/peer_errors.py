"""Another service's error as this service's domain error.

A peer's answer code is passed on when it describes the caller's request (bad input, a
precondition, a refusal) or the peer's availability; anything else (INTERNAL, or a
NOT_FOUND for a blob we stored) is our own fault and surfaces as INTERNAL.
"""
from __future__ import annotations

from collections.abc import Callable

import grpc
from google.rpc import error_details_pb2

from core import errors
from core.rpc.status import from_rpc_error

_PASSED_ON: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: errors.OutOfRange,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
}


def peer_error(
    exc: grpc.RpcError,
    service: str,
    action: str,
    *,
    rename: Callable[[str], str] = lambda field: field,
    passed_on: frozenset[grpc.StatusCode] | None = None,
) -> Exception:
    """The domain error for ``exc`` (raised by ``service`` while ``action``); field
    violations keep their descriptions under this service's field names (``rename``)."""
    code = exc.code()
    kind = _PASSED_ON.get(code)
    if kind is None or (passed_on is not None and code not in passed_on):
        return exc
    status = from_rpc_error(exc)
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(errors.FieldViolation(rename(v.field), v.description) for v in bad.field_violations)
    if code is grpc.StatusCode.UNAVAILABLE:
        return kind(f"the {service} service is unavailable ({action}); try again shortly")
    return kind(f"{service} service, {action}: {status.message}", violations)


def violations_of(error: errors.DomainError, field: str) -> list[errors.FieldViolation]:
    """The violations of ``error``, or one for ``field`` carrying its message."""
    return list(error.violations) or [errors.FieldViolation(field, error.message)]
