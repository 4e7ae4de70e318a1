"""The root of every domain error; the api package maps subclasses to HTTP."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ("DomainError", "InvalidInput", "NotFound", "Conflict", "TooLarge", "Unauthenticated", "Unavailable")


class DomainError(Exception):
    """A failure the caller can act on; ``field`` names the input at fault, if any, and ``details``
    lists each separate finding (by default just ``detail``)."""

    def __init__(self, detail: str, *, field: str | None = None, details: Sequence[str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.details = list(details) if details else [detail]


class InvalidInput(DomainError):
    """The input is malformed or violates a rule."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class Conflict(DomainError):
    """The request clashes with the current state."""


class TooLarge(DomainError):
    """The input is over a size limit."""


class Unavailable(DomainError):
    """A needed resource (e.g. a trained bundle) is not there yet."""


class Unauthenticated(DomainError):
    """The request does not prove who sent it (a webhook whose signature does not verify)."""
