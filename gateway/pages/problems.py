"""The one error path of the signing pages: whatever went wrong becomes a ``Problem`` (a
headline from the catalogue, an HTTP status, maybe a detail), shown on a friendly page or
next to the form that caused it. A signer never sees a stack trace; unexpected errors are
logged with the trace id, which the page shows so support can find them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import grpc

from core.errors import DomainError
from core.rpc.status import from_rpc_error
from core.tracing import current_trace_id
from gateway.errors import HTTP_STATUS

log = logging.getLogger(__name__)

# Codes whose service message helps the signer fix the input (identity masks contacts in them).
_EXPLAINED = {
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAUTHENTICATED,
}
_NAMED = _EXPLAINED | {
    grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
}


class PageRefusal(DomainError):
    """Something the pages themselves refuse, told in the catalogue's words (``key``)."""

    def __init__(self, key: str, code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION, *, body: str = "",
                 http: int | None = None, detail: str = "", **values: object):
        super().__init__(key)
        self.key, self.body, self.values, self.http, self.detail = key, body, values, http, detail
        self.code = code


@dataclass(frozen=True)
class Problem:
    title: str  # catalogue key
    status: int
    body: str = ""  # catalogue key, or empty
    values: dict = field(default_factory=dict)
    detail: str = ""  # the service's own words, only where they help fix the input
    trace: str = ""  # shown for errors on our side
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN


def _status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code.value[0], 500)


def _by_code(code: grpc.StatusCode, message: str) -> Problem:
    if code in _NAMED:
        return Problem(f"error.{code.name}", _status(code), detail=message if code in _EXPLAINED else "", code=code)
    return Problem("error.INTERNAL", 500, trace=current_trace_id(), code=grpc.StatusCode.INTERNAL)


def problem_of(exc: BaseException) -> Problem:
    if isinstance(exc, PageRefusal):
        return Problem(exc.key, exc.http or _status(exc.code), exc.body, exc.values, exc.detail, code=exc.code)
    if isinstance(exc, DomainError):
        return _by_code(exc.code, exc.message)
    if isinstance(exc, grpc.RpcError):
        status = from_rpc_error(exc)
        code = next((c for c in grpc.StatusCode if c.value[0] == status.code), grpc.StatusCode.UNKNOWN)
        if code not in _NAMED:
            log.error("signing page: a service failed: %s %s", code.name, status.message)
        return _by_code(code, status.message)
    log.exception("signing page: unexpected error", exc_info=exc)
    return Problem("error.INTERNAL", 500, trace=current_trace_id(), code=grpc.StatusCode.INTERNAL)
