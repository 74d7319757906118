"""The values the store ports take and return: identifiers, events, segment states, and the
batched customer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.identifiers import Identifier
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
    status: str = "active"
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
