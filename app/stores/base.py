"""The IdentityStore port: what every store adapter provides.

Writes go through `transact`, which gathers a Snapshot, lets the caller's pure `decide`
turn it into a Plan, and applies the Plan, all in one transaction. An adapter may run
`decide` more than once (a retried deadlock), so `decide` must not have side effects.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.domain.events import Event, parse_ts
from app.domain.identifiers import Identifier
from app.domain.plan import Component, CustomerInfo, Gather, NeedComponents, Plan, Snapshot
from app.domain.profile import Observation
from app.domain.segments.membership import Membership, MembershipChange
from app.stores.history import HistoryPort
from app.stores.outbox import OutboxPort

Decide = Callable[[Snapshot], Plan]
# A component larger than this many customers is not re-partitioned in one transaction.
MAX_COMPONENT_CUSTOMERS = 5_000
Cursor = tuple[str, str]  # (timestamp, event_id) of the last event of a page
_NEWEST: Cursor = ("\uffff", "")  # a cursor before every event


class StoreError(Exception):
    """Base of the store errors."""


class StoreUnavailable(StoreError):
    """The store cannot be reached. Check the store URL, and that the server is running."""


class StoreURLError(StoreError):
    """The store URL is not one idgraph understands."""


class ComponentTooLarge(StoreError):
    """A decision asked for more of the graph than one transaction may hold."""


async def decide_with_components(
    snapshot: Snapshot,
    decide: Decide,
    gather: Callable[[set[str]], Awaitable[dict[str, Component]]],
    upfront: Collection[str] = (),
) -> Plan:
    """Run `decide`; whenever it asks for whole components, gather them and run it again.
    `upfront` components are gathered before the first run."""

    async def add(customer_ids: set[str]) -> None:
        if len(customer_ids) > MAX_COMPONENT_CUSTOMERS:
            raise ComponentTooLarge(
                f"re-evaluating {len(customer_ids)} customers at once exceeds "
                f"{MAX_COMPONENT_CUSTOMERS}; a hub may be missing from the rules"
            )
        for cid, component in (await gather(customer_ids)).items():
            snapshot.components[cid] = component
            snapshot.customers.setdefault(cid, component.customer or CustomerInfo(cid, ""))
            for key in component.identifiers:
                snapshot.owners.setdefault(key, cid)

    if upfront:
        await add(set(upfront))
    while True:
        try:
            return decide(snapshot)
        except NeedComponents as need:
            wanted = need.customer_ids - snapshot.components.keys()
            if not wanted:
                raise
            await add(wanted)


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
class LinkRecord:
    a: str
    b: str
    count: int
    first_seen: str
    last_seen: str
    sources: tuple[str, ...]
    event_ids: tuple[str, ...]
    status: str = "active"
    reason: str = ""
    match: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SplitRecord:
    customer_id: str
    parts: tuple[str, ...]
    at: str
    reason: str


@dataclass(frozen=True, slots=True)
class MergeRecord:
    absorbed: str
    survivor: str
    at: str
    event_id: str
    reason: str


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
    status: str  # open | accepted | rejected
    created_at: str


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


class IdentityStore(OutboxPort, HistoryPort, ABC):
    url: str

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Bring the store's schema up to date; return the migrations applied now."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def transact(self, gather: Gather, decide: Decide) -> Plan:
        """Gather the Snapshot, decide (see decide_with_components), apply the plan; all in
        one transaction."""

    @abstractmethod
    async def current_ids(self, customer_ids: Collection[str]) -> dict[str, str]:
        """Map each known customer id, current or merged away, to its current id."""

    @abstractmethod
    async def owners(self, keys: Collection[str]) -> dict[str, str]:
        """Map each known identifier key to the id of its customer."""

    @abstractmethod
    async def identifiers_of(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[IdentifierRecord]]:
        """Each current customer's identifiers, ordered by type and value."""

    @abstractmethod
    async def timeline(
        self, customer_id: str, first: int, after: Cursor | None
    ) -> list[EventRecord]:
        """Up to `first` of the customer's events older than `after`, newest first."""

    async def timelines(
        self,
        customer_ids: Collection[str],
        first: int,
        after: Cursor | None = None,
        *,
        types: Collection[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, list[EventRecord]]:
        """For each customer, up to `first` of its events older than `after`, newest first;
        only events of `types` (when given) with since <= timestamp < until. One round trip
        in an adapter that overrides it (the API batches timelines through it); this
        default pages through `timeline` customer by customer."""
        start = min(after or _NEWEST, (until, "") if until is not None else _NEWEST)
        found: dict[str, list[EventRecord]] = {}
        for cid in customer_ids:
            events: list[EventRecord] = []
            cursor: Cursor | None = None if start == _NEWEST else start
            while len(events) < first:
                page = await self.timeline(cid, max(first, 50), cursor)
                events += [e for e in page if (not types or e.type in types)
                           and (since is None or e.timestamp >= since)]
                if len(page) < max(first, 50) or (since and page[-1].timestamp < since):
                    break
                cursor = page[-1].cursor
            if events:
                found[cid] = events[:first]
        return found

    async def read_customers(self, reads: CustomerReads) -> CustomerData:
        """Every read of `reads`, answered as the methods named in CustomerData answer
        them. One round trip in an adapter that overrides it (the API makes the reads of a
        query's customer fields through it); this default makes them one by one."""
        data = CustomerData()
        if reads.identifiers:
            data.identifiers = await self.identifiers_of(reads.identifiers)
        if reads.observations:
            data.observations = await self.profile_observations(reads.observations)
        for window, ids in reads.timelines.items():
            data.timelines[window] = await self.timelines(
                ids, window.first, window.after, types=window.types, since=window.since,
                until=window.until)
        if reads.segment_states:
            data.segment_states = await self.segment_states(reads.segment_states)
        return data

    @abstractmethod
    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        """The stored identifiers with these keys, whatever their status."""

    @abstractmethod
    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        """Every link that touches one of the customer's identifiers, whatever its status,
        ordered by (a, b)."""

    @abstractmethod
    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        """Every link with an end among `keys`, whatever its status, ordered by (a, b)."""

    @abstractmethod
    async def links_with_status(self, status: str) -> list[tuple[str, str, str]]:
        """(a, b, reason) of every link with this status: what a rules change re-decides."""

    @abstractmethod
    async def audit_log(self, first: int, before: int | None) -> list[AuditRecord]:
        """Steward actions, newest first, with seq below `before`."""

    @abstractmethod
    async def audit_entry(self, seq: int) -> AuditRecord | None: ...

    @abstractmethod
    async def splits_of(self, customer_ids: Collection[str]) -> dict[str, list[SplitRecord]]:
        """The splits recorded for each customer (or a customer merged into it), oldest
        first."""

    @abstractmethod
    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[MergeRecord]]:
        """The merges recorded with each customer as the survivor, oldest first."""

    @abstractmethod
    async def customer_page(self, after: str | None, limit: int) -> list[str]:
        """Current customer ids in id order, after `after`."""

    @abstractmethod
    async def stats(self) -> StoreStats: ...

    @abstractmethod
    async def profile_observations(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[Observation]]:
        """The traits and consent of every event of each customer that carries them."""

    @abstractmethod
    async def load_model(self, name: str) -> dict[str, Any] | None:
        """A trained model's JSON document (the matcher: name "matcher")."""

    @abstractmethod
    async def save_model(self, name: str, body: dict[str, Any], trained_at: str) -> None: ...

    @abstractmethod
    async def membership(self) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
        """Every identifier's customer (None when inactive) and every active link: the
        whole graph, for verification."""

    @abstractmethod
    async def reviews(self, first: int, after: int | None, status: str = "open"
                      ) -> list[ReviewRecord]:
        """Review items with this status, oldest first, with id above `after`."""

    @abstractmethod
    async def review(self, review_id: int) -> ReviewRecord | None: ...

    @abstractmethod
    async def search(self, text: str, limit: int) -> list[tuple[str, str, str]]:
        """(key, customer id, term) of search terms that share a token (three characters or
        more) with `text`, best first."""

    # -- segments (docs/segments.md); the service keeps them right, the store only keeps them
    @abstractmethod
    async def segment_definitions(self) -> list[SegmentRecord]:
        """Every stored segment definition, by name."""

    @abstractmethod
    async def save_segment(self, record: SegmentRecord) -> None:
        """Create or replace the definition named `record.name`."""

    @abstractmethod
    async def delete_segment(self, name: str, changes: Sequence[MembershipChange]) -> None:
        """In one transaction: remove the definition and every current membership of it,
        and append `changes` (the members leaving) to the history."""

    @abstractmethod
    async def segment_states(self, customer_ids: Collection[str]) -> dict[str, SegmentState]:
        """The state of each customer that has one (customers never checked are missing)."""

    @abstractmethod
    async def save_segment_states(
        self, states: dict[str, SegmentState | None], changes: Sequence[MembershipChange]
    ) -> None:
        """In one transaction: replace each customer's state (None removes it and its
        memberships: a customer merged away) and append `changes` to the history."""

    @abstractmethod
    async def segment_members(
        self, segment: str, first: int, after: str | None
    ) -> list[tuple[str, Membership]]:
        """Up to `first` current members of the segment with id above `after`, by id."""

    @abstractmethod
    async def segment_sizes(self) -> dict[str, int]:
        """Current member count per segment (segments without members are missing)."""

    @abstractmethod
    async def membership_history(
        self, customer_ids: Collection[str], first: int
    ) -> dict[str, list[MembershipChange]]:
        """Each customer's latest `first` membership changes, newest first."""

    @abstractmethod
    async def erase_segment_data(self, customer_ids: Collection[str]) -> None:
        """Forget the customers' memberships, state and history (right to erasure)."""

    @abstractmethod
    async def purge_erased(self) -> None:
        """After an erasure: make what it deleted unrecoverable from the store's own files
        (free pages, the space left in pages, a write-ahead log), where the store can."""

