"""The console's one error path: any refusal (a domain error raised here, or a service's
status) becomes a ``Problem`` — a message in the page's language, what the service said,
and the HTTP status of the error page. Internals never reach a page.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
from google.rpc import code_pb2, error_details_pb2

from core.errors import DomainError, PermissionDenied
from core.rpc.status import from_rpc_error
from gateway.console.i18n import Translator
from gateway.errors import HTTP_STATUS

_HIDDEN = (code_pb2.INTERNAL, code_pb2.UNKNOWN, code_pb2.DATA_LOSS, code_pb2.UNAVAILABLE)


class RoleDenied(PermissionDenied):
    """The console user's role lacks the scope (as opposed to a service's own refusal)."""

    explained = True  # the catalogue's message says it all


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    detail: str
    violations: tuple[str, ...] = ()


def describe(exc: DomainError | grpc.RpcError, t: Translator, action: str, trace_id: str) -> Problem:
    if isinstance(exc, DomainError):
        number, detail = exc.code.value[0], exc.message
        violations = tuple(f"{v.field}: {v.description}" for v in exc.violations)
    else:
        status = from_rpc_error(exc)
        number, detail = status.code, status.message
        violations = _violations(status)
    code = code_pb2.Code.Name(number) if number in code_pb2.Code.values() else "UNKNOWN"
    if number in _HIDDEN or getattr(exc, "explained", False):
        detail, violations = "", ()
    key = f"error.{action}.{code}" if t.has(f"error.{action}.{code}") else f"error.{code}"
    if isinstance(exc, RoleDenied):
        key = "error.role"
    if not t.has(key):
        key = "error.UNKNOWN"
    params = {"trace": trace_id or "-"}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        params["minutes"] = str(max(1, math.ceil(retry_after / 60)))
    violations = tuple(v for v in violations if v != detail)
    return Problem(HTTP_STATUS.get(number, 500), code, t(key, **params), detail, violations)


def _violations(status) -> tuple[str, ...]:
    found = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found += [f"{v.field}: {v.description}" for v in bad.field_violations]
    return tuple(found)
