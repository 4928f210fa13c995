"""Domain errors. The rpc layer maps each class to one canonical gRPC status code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error caused by what a client asked (never by a bug)."""


class InvalidArgument(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class Unavailable(DomainError):
    pass
