"""What every refusal of the domain carries, so that callers (the API, the CLI) act on its
code and fields and never on its message text."""

from __future__ import annotations

from enum import StrEnum


class DomainError(Exception):
    """A request the domain refuses: its `code` (stable, for programs), its `message` (for
    people), what to do instead (`suggestion`, or ""), and the input at fault (`field`, or
    "")."""

    def __init__(self, code: StrEnum, message: str, *, suggestion: str = "",
                 field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion
        self.field = field
