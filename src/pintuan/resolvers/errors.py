"""Domain errors: business failures the schema layer reports to clients."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request; nothing was written.

    ``code`` is a stable machine-readable name, ``field`` the input it concerns.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
