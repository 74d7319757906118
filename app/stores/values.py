"""The values the store ports take and return (identifiers, events, links, audit entries,
review items, segment states, the batched customer reads), and the conversion of an event
to and from the JSON text that both adapters store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.domain.events import Event, parse_ts
from app.domain.identifiers import Identifier
from app.domain.plan import IdentifierStatus, LinkStatus, ReviewStatus
from app.domain.profile import Observation
from app.domain.segments.membership import Membership

Cursor = tuple[str, str]  # (timestamp, event_id) of the last event of a page


@dataclass(frozen=True, slots=True)
class IdentifierRecord:
    type: str
    value: str
    customer_id: str | None
    first_seen: str
    last_seen: str
    sources: tuple[str, ...]
    status: IdentifierStatus = IdentifierStatus.ACTIVE
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class EventRecord:
    event_id: str
    type: str
    timestamp: str
    source: str
    identifiers: tuple[Identifier, ...]
    traits: dict[str, Any]
    properties: dict[str, Any]
    consent: dict[str, bool]

    @property
    def cursor(self) -> Cursor:
        return (self.timestamp, self.event_id)


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A stored segment definition: its name and its text in the segment language."""

    name: str
    text: str
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class SegmentState:
    """One customer's segment memberships and when they were last brought up to date."""

    memberships: dict[str, Membership]
    checked_at: str | None = None
    next_check: str | None = None  # when a time window could next change an answer


@dataclass(frozen=True, slots=True)
class TimelineWindow:
    """Which of a customer's events a timeline page holds (see IdentityStore.timelines)."""

    first: int
    after: Cursor | None = None
    types: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None


@dataclass
class CustomerReads:
    """Reads of customers' data that a caller makes at the same moment (the API, for the
    fields of one query): which customers' identifiers, profile observations, timeline
    pages and segment states it wants."""

    identifiers: set[str] = field(default_factory=set)
    observations: set[str] = field(default_factory=set)
    timelines: dict[TimelineWindow, set[str]] = field(default_factory=dict)
    segment_states: set[str] = field(default_factory=set)


@dataclass
class CustomerData:
    """The answers to CustomerReads, as `identifiers_of`, `profile_observations`,
    `timelines` (per window) and `segment_states` give them."""

    identifiers: dict[str, list[IdentifierRecord]] = field(default_factory=dict)
    observations: dict[str, list[Observation]] = field(default_factory=dict)
    timelines: dict[TimelineWindow, dict[str, list[EventRecord]]] = field(default_factory=dict)
    segment_states: dict[str, SegmentState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkRecord:
    a: str
    b: str
    count: int
    first_seen: str
    last_seen: str
    sources: tuple[str, ...]
    event_ids: tuple[str, ...]
    status: LinkStatus = LinkStatus.ACTIVE
    reason: str = ""
    match: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    actor: str
    action: str
    target: str
    reason: str
    at: str
    details: dict[str, Any]
    undo: dict[str, Any]
    undone_by: int | None


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A candidate match between the thresholds, for a steward to accept or reject."""

    id: int
    a: str
    b: str
    score: float
    weights: dict[str, Any]
    status: ReviewStatus
    created_at: str


@dataclass(frozen=True, slots=True)
class StoreStats:
    customers: int
    identifiers: int
    links: int
    events: int


def event_body(event: Event) -> str:
    """The part of an event that stores keep as one JSON text."""
    body = {"traits": event.traits, "properties": event.properties, "consent": event.consent}
    try:
        return orjson.dumps(body, default=str).decode()
    except TypeError:  # an integer beyond 64 bits, which only the standard library writes
        return json.dumps(body, separators=(",", ":"), default=str)


def event_record(
    event_id: str, type_: str, ts: str, source: str, keys: Sequence[str], body: str
) -> EventRecord:
    data = json.loads(body)
    return EventRecord(
        event_id,
        type_,
        ts,
        source,
        tuple(Identifier.from_key(k) for k in sorted(keys)),
        data.get("traits", {}),
        data.get("properties", {}),
        data.get("consent", {}),
    )


def event_from_record(record: EventRecord) -> Event:
    """The event a stored record was made from (as-of queries and replay ingest it again)."""
    return Event(
        record.event_id,
        record.type,
        parse_ts(record.timestamp),
        record.source,
        record.identifiers,
        record.traits,
        record.properties,
        record.consent,
    )
