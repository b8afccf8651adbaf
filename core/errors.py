"""The one error path: domain errors, each carrying its gRPC status code.

Domain code raises these; the server interceptor turns them into a
``google.rpc.Status`` (with a ``BadRequest`` detail for field violations) and the
gateway turns that into the HTTP answer described in API.md. Anything else that
escapes a handler is reported as INTERNAL with a generic message.
"""
from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One bad input field: its path in the request (lowerCamelCase) and what is wrong."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error a service reports on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, violations: list[FieldViolation] | tuple[FieldViolation, ...] = (),
                 *, reason: str = ""):
        super().__init__(message)
        self.message = message
        self.violations = tuple(violations)
        # A stable UPPER_SNAKE code for callers that sort problems (e.g. EXTERNAL_LINK); may be empty.
        self.reason = reason


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class OutOfRange(DomainError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class Aborted(DomainError):
    """A concurrent change won; the caller may retry."""

    code = grpc.StatusCode.ABORTED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED


def invalid(field: str, description: str, reason: str = "") -> InvalidArgument:
    """Shorthand for the common case of one bad field."""
    return InvalidArgument(f"{field}: {description}", [FieldViolation(field, description)], reason=reason)
