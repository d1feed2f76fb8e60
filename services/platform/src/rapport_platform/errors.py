"""Domain errors, shared by every service, and their one mapping to gRPC status codes.

A domain raises these; the gRPC server interceptor turns them into statuses; the gateway turns
statuses into problem+json. Messages are for humans and must never contain PHI.
"""

from __future__ import annotations

import grpc


class DomainError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    """A dependency (Mongo, NATS, Vault, another service) does not answer; the caller may retry."""

    code = grpc.StatusCode.UNAVAILABLE


def dependency_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'a dependency is down', whichever library raised them."""
    import hvac.exceptions
    import nats.errors
    import requests
    from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

    return (
        ConnectionFailure,
        ServerSelectionTimeoutError,
        nats.errors.ConnectionClosedError,
        nats.errors.NoServersError,
        nats.errors.TimeoutError,
        requests.ConnectionError,
        requests.Timeout,
        hvac.exceptions.VaultDown,
        hvac.exceptions.InternalServerError,
        ConnectionError,
        TimeoutError,
    )
