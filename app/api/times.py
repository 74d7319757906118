"""The DateTime scalar: every time the API gives out and takes.

Out, it is RFC 3339 text in UTC with microseconds and `Z`, as the store keeps times
(2024-01-02T10:00:00.000000Z): the form clients read before times were typed, so that
nothing that parsed them changes. In, it takes RFC 3339 text with any offset
(2024-03-01T00:00:00+01:00). A time without an offset names no moment until someone
guesses its zone: the field that takes it refuses it, naming the argument
(app/domain/asof.py, require_offset), which the scalar cannot do (it does not know which
argument it is parsing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from app.api.errors import InputError
from app.domain.asof import AsOfError, require_offset
from app.domain.events import format_ts, parse_ts

UtcTime = NewType("UtcTime", str)
EXAMPLE = "such as 2024-03-01T00:00:00Z"


def serialize(value: Any) -> str:
    if isinstance(value, str):  # as stored: already RFC 3339 in UTC
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return format_ts(value)
    raise TypeError(f"DateTime: {value!r} is not a time with an offset")


def parse_value(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"give RFC 3339 text, {EXAMPLE}")
    try:
        return parse_ts(value)
    except ValueError:
        # graphql-core's message shows the value given (found: ...)
        raise ValueError(f"not an RFC 3339 time, {EXAMPLE}") from None


DATETIME = strawberry.scalar(
    name="DateTime",
    description="A moment, RFC 3339: given out in UTC with microseconds, "
    "2024-01-02T10:00:00.000000Z; taken with any offset, 2024-03-01T00:00:00+01:00 (a time "
    "without an offset is refused, naming the argument)",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
    serialize=serialize,
    parse_value=parse_value,
)
# Output fields are typed UtcTime (the stored text); arguments datetime (parsed).
SCALARS: dict[object, ScalarDefinition] = {UtcTime: DATETIME, datetime: DATETIME}


def with_offset(moment: datetime, name: str) -> str:
    """The RFC 3339 text of the time an argument `name` gave, which must have an offset."""
    try:
        require_offset(moment, name)
    except AsOfError as exc:
        raise InputError(str(exc)) from None
    return moment.isoformat()


def time_field(*, description: str) -> Any:
    """An output field that holds a stored time (text) and is a DateTime in the schema."""
    return strawberry.field(description=description, graphql_type=UtcTime)
