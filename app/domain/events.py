"""The v1 event contract: parsing raw JSON objects into validated events.

Every value is first checked against the bounds (app/domain/bounds.py), then the structure
against the committed JSON Schema (app/schemas/event.v1.schema.json), so the file users read
is the one that is enforced. Values are then normalised here. A quick screen
(app/domain/screen.py) passes the plain events, which both checks accept, in one walk; the
rest go through both checks, whose errors name the field and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import fastjsonschema

from app.domain import bounds, screen
from app.domain.identifiers import Identifier, IdentifierError, normalise


class EventError(ValueError):
    """A raw event that cannot be accepted: `field` names where, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    type: str
    timestamp: datetime
    source: str
    identifiers: tuple[Identifier, ...]
    traits: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    # the timestamp as fixed-width UTC text, so that text order is time order
    ts: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", format_ts(self.timestamp))

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "timestamp": self.ts,
            "source": self.source,
            "identifiers": [{"type": i.type, "value": i.value} for i in self.identifiers],
            "traits": self.traits,
            "properties": self.properties,
            "consent": self.consent,
        }


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    event: Event
    # Identifiers dropped from the event, each with its reason; the event itself is kept.
    dropped: tuple[IdentifierError, ...] = ()


def format_ts(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@cache
def _validator() -> Any:
    return fastjsonschema.compile(screen.committed_schema())


def schema() -> dict[str, Any]:
    return screen.committed_schema()


_FRIENDLY_PATTERNS = {
    "timestamp": "must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T12:00:00Z",
    "type": "must be lower_snake_case",
}


def _schema_error(raw: dict[str, Any], exc: fastjsonschema.JsonSchemaValueException) -> EventError:
    name = exc.name or "data"
    where = name.removeprefix("data").lstrip(".")
    if exc.rule == "required":
        node: Any = raw
        for part in exc.path[1:]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        missing = [k for k in exc.rule_definition if k not in node]
        return EventError(".".join(filter(None, [where, missing[0]])), "is required")
    if exc.rule == "pattern":
        last = where.rsplit(".", 1)[-1]
        return EventError(where, _FRIENDLY_PATTERNS.get(last, f"must match {exc.rule_definition}"))
    if exc.rule == "additionalProperties":
        return EventError(where or "event", "has fields the v1 contract does not define")
    reason = exc.message.removeprefix(name).strip()
    return EventError(where or "event", reason)


def _timestamp(text: str) -> datetime:
    """The event's moment as written (its offset kept), once it is known to fit in UTC."""
    try:
        moment = parse_ts(text)
        bounds.utc(moment)
    except ValueError as exc:
        raise EventError("timestamp", f"not a valid RFC 3339 date-time ({exc})") from None
    except bounds.OutOfBounds as exc:
        raise EventError("timestamp", exc.reason) from None
    return moment


def _check(raw: dict[str, Any]) -> None:
    """The full checks, which name the field and the reason of a fault."""
    try:
        bounds.check(raw)
    except bounds.OutOfBounds as exc:
        raise EventError(exc.field, exc.reason) from None
    try:
        _validator()(raw)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _schema_error(raw, exc) from None


def parse_event(raw: object, *, default_region: str = "NL") -> ParsedEvent:
    """Validate one raw event. Raises EventError; invalid identifiers are dropped, not fatal,
    unless no valid identifier is left."""
    if not isinstance(raw, dict):
        raise EventError("", "an event must be a JSON object")
    if not screen.plain(raw):
        _check(raw)
    timestamp = _timestamp(raw["timestamp"])
    identifiers: list[Identifier] = []
    dropped: list[IdentifierError] = []
    for item in raw["identifiers"]:
        try:
            ident = normalise(item["type"], item["value"], default_region=default_region)
        except IdentifierError as exc:
            dropped.append(exc)
            continue
        if ident not in identifiers:
            identifiers.append(ident)
    if not identifiers:
        reasons = "; ".join(str(d) for d in dropped)
        raise EventError("identifiers", f"no valid identifier ({reasons})")
    event = Event(
        event_id=raw["event_id"],
        type=raw["type"],
        timestamp=timestamp,
        source=raw["source"],
        identifiers=tuple(identifiers),
        traits=raw.get("traits") or {},
        properties=raw.get("properties") or {},
        consent=raw.get("consent") or {},
    )
    return ParsedEvent(event, tuple(dropped))
