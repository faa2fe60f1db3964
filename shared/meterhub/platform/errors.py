"""Domain errors. Use cases raise these; the API layer maps each class to one HTTP status, once.

Why typed errors instead of messages: the mapping to status codes must never depend on wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base class; `title` is safe to show to the partner, `details` names the offending input."""

    status = 400

    def __init__(self, title: str, details: Mapping[str, Any] | list[dict[str, Any]] | None = None) -> None:
        super().__init__(title)
        self.title = title
        self.details: dict[str, Any] | list[dict[str, Any]] = (
            list(details) if isinstance(details, list) else dict(details or {})
        )


class InvalidInput(DomainError):
    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class PayloadTooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415


class Conflict(DomainError):
    status = 409


class AlreadyExists(Conflict):
    """A conditional create lost: the key is taken (raised by adapters, handled by use cases)."""


class StorageUnavailable(DomainError):
    """The store throttled or failed after retries; the caller may retry later."""

    status = 503
