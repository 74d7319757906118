"""GraphQL output types. Values reach a reader masked (app/api/masking.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.api.connections import Counted
from app.api.context import Context
from app.api.dataloaders import TimelineKey
from app.api.described import (
    READER_MASKED,
    UTC_TIME,
    After,
    First,
    IdentifierType,
    IdentifierValue,
)
from app.api.errors import InputError
from app.api.masking import UNMASKED, Masker, Shown
from app.api.node_ids import Node, global_id, sealed_id
from app.api.times import time_field
from app.api.views import View, loaders_of, services_of
from app.api.vocabularies import (
    AuditAction,
    ComputedTraitKind,
    IdentifierStatus,
    LinkStatus,
    MatchGuard,
    ReviewStatus,
    SurvivorshipRule,
)
from app.domain.asof import AsOfError, moment_of
from app.domain.identifiers import IdentifierError
from app.domain.matching.matchkey import stored_match_key
from app.domain.nba import Recommendation
from app.domain.profile import ConsentValue, TraitValue
from app.domain.search import disambiguator
from app.domain.traits import computed_profile
from app.services.customers import MAX_PAGE, CursorError, decode_cursor, encode_cursor
from app.stores.values import (
    AuditRecord,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    TimelineWindow,
)

if TYPE_CHECKING:
    from app.api.graph import GraphView

DEFAULT_PAGE = 20
MAX_TYPES = 20


def sees_pii(info: Info[Context, Any]) -> bool:
    return info.context.principal.sees_pii


def masker(info: Info[Context, Any]) -> Shown:
    """Values as the caller may see them, without knowing whose values they are."""
    if sees_pii(info):
        return UNMASKED
    return Masker(region=info.context.services.settings.default_region)


def customer_masker(info: Info[Context, Any], customer_id: str, view: View | None = None
                    ) -> Awaitable[Shown]:
    """Values as the caller may see them, knowing they are this customer's: a reader
    sees the customer's names, birth date and address masked wherever they appear.

    The profile is asked for now, not when awaited, so that it joins the read of the
    other fields that ask in this turn of the event loop."""
    if sees_pii(info):
        return _ready(UNMASKED)
    profile = loaders_of(info, view).profiles.load(customer_id)
    region = info.context.services.settings.default_region

    async def of_profile() -> Shown:
        return Masker.of_traits(((t.name, t.value) for t in (await profile).traits), region)

    return of_profile()


async def _ready(shown: Shown) -> Shown:
    return shown


async def customer_maskers(info: Info[Context, Any], customer_ids: list[str]
                           ) -> dict[str, Shown]:
    if sees_pii(info):
        return dict.fromkeys(customer_ids, UNMASKED)
    found = await asyncio.gather(*(customer_masker(info, c) for c in customer_ids))
    return dict(zip(customer_ids, found, strict=True))


def owner_masker(info: Info[Context, Any], customer_id: str | None) -> Awaitable[Shown]:
    """An identifier's values as the caller may see them: its customer's, when it has one."""
    return customer_masker(info, customer_id) if customer_id else _ready(masker(info))


def shown(info: Info[Context, Any], type_: str, value: str) -> str:
    return masker(info).value(type_, value)


def shown_key(info: Info[Context, Any], key: str) -> str:
    return masker(info).key(key)


def page_size(first: int, limit: int = MAX_PAGE, name: str = "first") -> int:
    if not 0 <= first <= limit:
        raise InputError(f"{name}: must be between 0 and {limit}, not {first}")
    return first


def utc_text(moment: datetime | None, name: str) -> str | None:
    """The stored text of a time argument `name`, which must have an offset."""
    if moment is None:
        return None
    try:
        return moment_of(moment, name)
    except AsOfError as exc:
        raise InputError(str(exc)) from None


@strawberry.type(description="Relay page information (cursor connections spec).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More edges follow this page")
    has_previous_page: bool = strawberry.field(
        description="Edges come before this page: true when it was asked for with `after` "
        "(paging starts at the first edge otherwise)")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor: pass it as "
                                              "`after` for the next page")

    @classmethod
    def of(cls, cursors: list[str], more: bool, after: object | None) -> PageInfo:
        """The page of these edges' cursors; `more`: rows beyond it were read."""
        return cls(has_next_page=more, has_previous_page=after is not None,
                   start_cursor=cursors[0] if cursors else None,
                   end_cursor=cursors[-1] if cursors else None)


@strawberry.type(description="One identifier of a customer: an e-mail, phone, cookie, ...")
class Identifier(Node):
    type: str = strawberry.field(description="email, phone, cookie, device_id, crm_id or "
                                 "another lower_snake_case type")
    value: str = strawberry.field(description="Normalised; masked for readers when personal")
    first_seen: str = time_field(description="Time of the earliest event seen with it, "
                                 f"{UTC_TIME}")
    last_seen: str = time_field(description="Time of the latest event seen with it, "
                                f"{UTC_TIME}")
    sources: list[str] = strawberry.field(description="The systems that sent it")
    status: IdentifierStatus = strawberry.field(description="Whether it links")
    key: strawberry.Private[str]

    @strawberry.field(description="The identifier's global id (Node): sealed, it says "
                      "nothing of the value")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        return sealed_id(info, "Identifier", self.key)

    @classmethod
    def of(cls, r: IdentifierRecord, m: Shown) -> Identifier:
        return cls(type=r.type, value=m.value(r.type, r.value), first_seen=r.first_seen,
                   last_seen=r.last_seen, sources=[m.text(s) for s in r.sources],
                   status=IdentifierStatus(r.status), key=r.key)


@strawberry.type(description="An identifier as observed in an event.")
class ObservedIdentifier:
    type: str = strawberry.field(description="The identifier's type: email, phone, cookie, ...")
    value: str = strawberry.field(description=f"Normalised; {READER_MASKED}")


@strawberry.type(description="One interaction: a page view, purchase, call, chat message, ...")
class Event(Node):
    @strawberry.field(description="The event's global id (Node), for client caches that "
                      "normalise objects by id; sealed, it says nothing of eventId")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        return sealed_id(info, "Event", self.stored_id)

    event_id: str = strawberry.field(description="The id its source gave it, unique: an "
                                     "event sent again changes nothing; personal values "
                                     "in it masked for readers")
    type: str = strawberry.field(description="The event type, snake_case: page_view, "
                                 "purchase, call, crm_record, ...")
    timestamp: str = time_field(description=f"When it happened (event time), {UTC_TIME}")
    source: str = strawberry.field(description="The system it came from: web, app, crm, "
                                   "callcenter, ...")
    identifiers: list[ObservedIdentifier] = strawberry.field(
        description="The identifiers seen together in it")
    properties: JSON = strawberry.field(description="The event's attributes as sent (url, "
                                        "campaign, amount, ...); personal values masked for "
                                        "readers")
    traits: JSON = strawberry.field(description="The person attributes it carried, by trait "
                                    "name; personal values masked for readers")
    consent: JSON = strawberry.field(description="The consent answers it carried: purpose to "
                                     "true or false")
    stored_id: strawberry.Private[str]

    @classmethod
    def of(cls, r: EventRecord, m: Shown) -> Event:
        return cls(
            event_id=m.text(r.event_id),
            type=r.type,
            timestamp=r.timestamp,
            source=m.text(r.source),
            identifiers=[ObservedIdentifier(type=i.type, value=m.value(i.type, i.value))
                         for i in r.identifiers],
            properties=m.json(r.properties),
            traits=JSON(m.traits(r.traits)),
            consent=m.json(r.consent),
            stored_id=r.event_id,
        )


@strawberry.type(description="An event of a customer's timeline, with its cursor.")
class EventEdge:
    cursor: str = strawberry.field(description="Pass it as `after` for the events after this one")
    node: Event = strawberry.field(description="The event")


@strawberry.type(description="A page of a customer's timeline, newest first (Relay connection).")
class EventConnection(Counted):
    edges: list[EventEdge] = strawberry.field(description="The events of the page, newest "
                                              "first")
    page_info: PageInfo = strawberry.field(description="Whether more pages follow, and the "
                                           "cursors to page on")


@strawberry.type(description="One profile trait: the surviving value, where and when it was "
                 "seen, and the survivorship rule that chose it.")
class Trait:
    name: str = strawberry.field(description="The trait's name, as events send it: first_name, "
                                 "birth_date, city, ...")
    value: JSON = strawberry.field(description=f"The surviving value; {READER_MASKED}")
    source: str = strawberry.field(description="The system whose event carried the value")
    observed_at: str = time_field(description="Time of the event that carried the value, "
                                  f"{UTC_TIME}")
    rule: SurvivorshipRule = strawberry.field(description="The survivorship rule that chose "
                                              "the value")
    observations: int = strawberry.field(description="Events that carried this trait")

    @classmethod
    def of(cls, t: TraitValue, m: Shown) -> Trait:
        # m.text(name): events may name a trait with an e-mail address or a phone number
        return cls(name=m.text(t.name), value=m.trait(t.name, t.value), source=m.text(t.source),
                   observed_at=t.observed_at, rule=SurvivorshipRule(t.rule),
                   observations=t.observations)


@strawberry.type(description="The latest answer for one consent purpose.")
class Consent:
    purpose: str = strawberry.field(description="The purpose, as events name it: "
                                    "email_marketing, ...")
    granted: bool = strawberry.field(description="true: consent given; false: refused or "
                                     "withdrawn")
    source: str = strawberry.field(description="The system whose event carried the answer")
    observed_at: str = time_field(description="Time of the event that carried the "
                                  f"answer, {UTC_TIME}")

    @classmethod
    def of(cls, c: ConsentValue, m: Shown) -> Consent:
        return cls(purpose=m.text(c.purpose), granted=c.granted, source=m.text(c.source),
                   observed_at=c.observed_at)


@strawberry.type(description="A trait computed from the customer's events at request time "
                 "(docs/segments.md, Computed traits), with its definition.")
class ComputedTrait:
    name: str = strawberry.field(description="The trait's name in the configuration: "
                                 "order_count, lifetime_value, ...")
    value: JSON | None = strawberry.field(description="A number, a time, text, an object of "
                                          "counts per event type (events_30d, ...), or null")
    definition: str = strawberry.field(description="How it is computed, as configured")
    kind: ComputedTraitKind = strawberry.field(description="How it is computed")


@strawberry.type(description="The unified profile: one value per trait, chosen by the "
                 "survivorship rules (docs/api.md): names and birth date by source priority, "
                 "gender and country by frequency, the rest the most recent.")
class Profile:
    traits: list[Trait] = strawberry.field(description="Every trait the customer's events "
                                           "carried, by name")
    customer_id: strawberry.Private[str]
    view: strawberry.Private[View | None] = None

    @strawberry.field(description="One trait by name, or null")
    def trait(self, name: Annotated[str, strawberry.argument(
            description="The trait's name: first_name, city, ...")]) -> Trait | None:
        return next((t for t in self.traits if t.name == name), None)

    @strawberry.field(description="The computed traits (order_count, lifetime_value, ...), "
                      "computed from the customer's events now, in configuration order.")
    async def computed(self, info: Info[Context, Any]) -> list[ComputedTrait]:
        services = services_of(info, self.view)
        facts = await loaders_of(info, self.view).facts.load(self.customer_id)
        traits = computed_profile(facts, services.segments.now(), services.segments.traits)
        m = await customer_masker(info, self.customer_id, self.view)
        return [ComputedTrait(name=t.name, value=m.json(t.value), definition=t.definition,
                              kind=ComputedTraitKind(t.kind)) for t in traits]


@strawberry.enum(description="A merge into the customer, or a split of it.")
class HistoryKind(Enum):
    MERGE = strawberry.enum_value("merge", description="Another customer was merged into this "
                                  "one")
    SPLIT = strawberry.enum_value("split", description="Identifiers were split off this "
                                  "customer into new ones")


@strawberry.type(description="A merge into this customer or a split of it, with when and why.")
class HistoryEntry:
    kind: HistoryKind = strawberry.field(description="A merge or a split")
    at: str = time_field(description=f"When it was done, {UTC_TIME}")
    reason: str = strawberry.field(description="Why: the evidence, rule or steward action; "
                                   "personal values masked for readers")
    absorbed_id: strawberry.ID | None = strawberry.field(description="merge: the customer "
                                                         "absorbed")
    survivor_id: strawberry.ID | None = strawberry.field(description="merge: the survivor")
    event_id: str | None = strawberry.field(description="merge: the event that caused it")
    customer_id: strawberry.ID | None = strawberry.field(description="split: the customer "
                                                         "split")
    parts: list[strawberry.ID] | None = strawberry.field(description="split: the customers "
                                                         "split off")


@strawberry.type(description="Membership of a segment: since when, and the conditions that "
                 "held when the customer entered, each with the value it saw.")
class SegmentMembership:
    segment_id: strawberry.ID = strawberry.field(description="The segment's id (its name)")
    since: str = time_field(description=f"When the customer entered, {UTC_TIME}")
    why: list[str] = strawberry.field(description="The conditions that held, each with the "
                                      "value it saw; personal values masked for readers")


@strawberry.enum(description="Whether the customer entered or left the segment.")
class MembershipChangeKind(Enum):
    ENTERED = strawberry.enum_value("entered", description="The customer entered the segment")
    LEFT = strawberry.enum_value("left", description="The customer left the segment")


@strawberry.type(description="A customer entering or leaving a segment, with when and why: "
                 "on entering the conditions that held, on leaving those that stopped "
                 "holding (or what ended the membership: a merge, the segment's deletion).")
class SegmentHistoryEntry:
    segment_id: strawberry.ID = strawberry.field(description="The segment's id (its name)")
    change: MembershipChangeKind = strawberry.field(description="Entered or left")
    at: str = time_field(description=f"When, {UTC_TIME}")
    why: list[str] = strawberry.field(description="The conditions that held (entered) or "
                                      "stopped holding (left), or what ended the membership; "
                                      "personal values masked for readers")


@strawberry.type(description="A likely next step and its probability.")
class StepScore:
    step: str = strawberry.field(description="event_type@source, such as purchase@web")
    score: float = strawberry.field(description="Probability that it is the next step, 0 to 1")


@strawberry.type(description="A feature that moved the purchase propensity: its value for "
                 "this customer and its contribution on the log-odds scale (positive pushes "
                 "towards a purchase).")
class PropensityDriver:
    feature: str = strawberry.field(description="The model's feature name")
    value: float | None = strawberry.field(description="null: unknown for this customer, "
                                           "counted as average")
    contribution: float = strawberry.field(description="Its push on the log-odds of a "
                                          "purchase; positive raises the propensity")


@strawberry.type(description="The customer's likely next step (a first-order Markov chain over "
                 "all customers' steps) and the propensity to purchase in the next 30 days "
                 "(docs/segments.md, Next-best-action).")
class NextBestAction:
    step: str = strawberry.field(description="event_type@source, such as purchase@web")
    event_type: str = strawberry.field(description="The step's event type")
    source: str = strawberry.field(description="The step's source")
    score: float = strawberry.field(description="Probability that it is the next step, 0 to 1")
    after: str = strawberry.field(description="The customer's last step, the model's input")
    evidence: int = strawberry.field(description="Transitions out of `after` the estimate "
                                     "rests on")
    alternatives: list[StepScore] = strawberry.field(description="The top steps, `step` "
                                                     "first")
    propensity: float = strawberry.field(description="Probability of a purchase within 30 "
                                         "days, 0 to 1")
    drivers: list[PropensityDriver] = strawberry.field(description="The features that moved "
                                                       "the propensity, and by how much")

    @classmethod
    def of(cls, r: Recommendation) -> NextBestAction:
        return cls(step=r.step, event_type=r.event_type, source=r.source, score=r.score,
                   after=r.after, evidence=r.evidence,
                   alternatives=[StepScore(step=s, score=p) for s, p in r.alternatives],
                   propensity=r.propensity,
                   drivers=[PropensityDriver(feature=d.feature, value=d.value,
                                             contribution=d.contribution) for d in r.drivers])


@strawberry.type(description="A link between two identifiers, with its evidence.")
class Link(Node):
    a: str = strawberry.field(description="Identifier key type:value (masked for readers)")
    b: str = strawberry.field(description="The other identifier's key type:value (masked for "
                              "readers)")
    status: LinkStatus = strawberry.field(description="Whether it joins its ends; rejected "
                                          "by a rule; removed or banned by a steward")
    reason: str = strawberry.field(description="Why it has its status; readers see what a "
                                   "steward did but not the words they typed")
    count: int = strawberry.field(description="Events that showed the two together")
    first_seen: str = time_field(description="Time of the earliest event that showed "
                                 f"them together, {UTC_TIME}")
    last_seen: str = time_field(description="Time of the latest event that showed them "
                                f"together, {UTC_TIME}")
    sources: list[str] = strawberry.field(description="The systems whose events showed them "
                                          "together")
    sample_event_ids: list[str] = strawberry.field(description="Ids of some of those events")
    weights: JSON | None = strawberry.field(
        default=None, description="A MATCHED link's score, weight per comparison and model "
        "version; null for links from events")
    match_key: str | None = strawberry.field(
        default=None, description="A MATCHED link's comparisons in one line, as "
        "`+FIRST_NAME+BIRTH_DATE-STREET`: +KEY for each comparison that was evidence for one "
        "person, -KEY for each against, strongest first; null for links from events")
    keys: strawberry.Private[tuple[str, str]] = ("", "")

    @strawberry.field(description="The link's global id (Node): sealed, it says nothing of "
                      "the identifiers")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        return sealed_id(info, "Link", link_key(*self.keys))

    @classmethod
    def of(cls, r: LinkRecord, m: Shown) -> Link:
        return cls(a=m.key(r.a), b=m.key(r.b), status=LinkStatus(r.status),
                   reason=m.reason(r.reason),
                   count=r.count, first_seen=r.first_seen, last_seen=r.last_seen,
                   sources=[m.text(s) for s in r.sources],
                   sample_event_ids=[m.text(e) for e in r.event_ids], weights=m.json(r.match),
                   match_key=stored_match_key(r.match), keys=(r.a, r.b))


@strawberry.type(description="An identifier in the identity graph.")
class GraphNode:
    key: str = strawberry.field(description="The identifier's key type:value (masked for "
                                "readers)")
    type: str = strawberry.field(description="The identifier's type: email, phone, cookie, ...")
    value: str = strawberry.field(description=f"Normalised; {READER_MASKED}")
    status: IdentifierStatus = strawberry.field(description="Whether it links")
    reason: str = strawberry.field(description="Why it is blocked or quarantined, empty when "
                                   "active; readers see what was done, not a steward's words")
    customer_id: strawberry.ID | None = strawberry.field(description="Its customer; null when "
                                                         "blocked or quarantined")
    hops: int = strawberry.field(description="Links from the customer's own identifiers; 0 "
                                 "for its own")


@strawberry.type(description="A customer's part of the identity graph, for the explorer.")
class IdentityGraph:
    customer_id: strawberry.ID = strawberry.field(description="The customer it was asked for")
    depth: int = strawberry.field(description="Hops beyond the customer's own identifiers, as "
                                  "asked for")
    nodes: list[GraphNode] = strawberry.field(description="The identifiers reached, nearest "
                                              "first")
    links: list[Link] = strawberry.field(description="The links between those identifiers, "
                                         "whatever their status")
    truncated: bool = strawberry.field(description="More nodes were in reach than returned")


@strawberry.type(description="Why an identifier belongs to its customer: the path of active "
                 "links to the customer's first-seen identifier (the anchor), and the links "
                 "of the identifier that rules or stewards keep out.")
class Explanation:
    identifier: str = strawberry.field(description="The identifier's key type:value (masked "
                                       "for readers)")
    customer_id: strawberry.ID | None = strawberry.field(description="Its customer; null when "
                                                         "it belongs to none")
    anchor: str | None = strawberry.field(description="The customer's first-seen identifier, "
                                          "where the path ends; null without a customer")
    path: list[Link] = strawberry.field(description="The active links from the identifier to "
                                        "the anchor, in order; empty for the anchor itself")
    stopped: list[Link] = strawberry.field(description="The identifier's links that rules or "
                                           "stewards keep out")


@strawberry.type(description="A unified customer: one connected component of the identity graph.")
class Customer(Node):
    id: strawberry.ID = strawberry.field(description="The customer's id, c_ and 16 hex "
                                         "digits, derived from the evidence that created it; "
                                         "its global id (Node) too")
    # where its fields read from: None, the store as it is; else a rebuild as of a moment
    view: strawberry.Private[View | None] = None

    @strawberry.field(description="Traits merged by the survivorship rules, each with its "
                      "source and time.")
    async def profile(self, info: Info[Context, Any]) -> Profile:
        profile = await loaders_of(info, self.view).profiles.load(str(self.id))
        m = await customer_masker(info, str(self.id), self.view)
        return Profile(traits=[Trait.of(t, m) for t in profile.traits],
                       customer_id=str(self.id), view=self.view)

    @strawberry.field(description="The latest consent answer per purpose.")
    async def consent(self, info: Info[Context, Any]) -> list[Consent]:
        profile = await loaders_of(info, self.view).profiles.load(str(self.id))
        m = await customer_masker(info, str(self.id), self.view)
        return [Consent.of(c, m) for c in profile.consent]

    @strawberry.field(description="The customer's identifiers; values masked for readers "
                      "when personal.")
    async def identifiers(self, info: Info[Context, Any]) -> list[Identifier]:
        records = await loaders_of(info, self.view).identifiers_of.load(str(self.id))
        m = masker(info)
        return [Identifier.of(r, m) for r in records]

    @strawberry.field(description="The customer's events across all its identifiers, newest "
                      "first; `types` keeps only those event types, `since` (inclusive) and "
                      "`until` (exclusive) bound the time.")
    async def timeline(
        self,
        info: Info[Context, Any],
        first: First = DEFAULT_PAGE,
        after: After = None,
        types: Annotated[list[str] | None, strawberry.argument(
            description=f"Only these event types, at most {MAX_TYPES}; null for all")] = None,
        since: Annotated[datetime | None, strawberry.argument(
            description="Only events at or after this time, RFC 3339 such as "
            "2024-03-01T00:00:00Z; null: from the first")] = None,
        until: Annotated[datetime | None, strawberry.argument(
            description="Only events before this time, RFC 3339 such as "
            "2024-03-01T00:00:00Z; null: to the last")] = None,
    ) -> EventConnection:
        page_size(first)
        if types is not None and len(types) > MAX_TYPES:
            raise InputError(f"types: at most {MAX_TYPES}")
        try:
            cursor = decode_cursor(after) if after else None
        except CursorError as exc:
            raise InputError(str(exc)) from None
        selection = TimelineWindow(0, None, tuple(sorted(set(types or ()))),
                                   utc_text(since, "since"), utc_text(until, "until"))
        key = TimelineKey(str(self.id), replace(selection, first=first + 1, after=cursor))
        loaders = loaders_of(info, self.view)
        # one read for both: the loaders batch what is asked for in the same turn
        rows, m = await asyncio.gather(loaders.timelines.load(key),
                                       customer_masker(info, str(self.id), self.view))
        edges = [EventEdge(cursor=encode_cursor(e.cursor), node=Event.of(e, m))
                 for e in rows[:first]]
        return EventConnection(edges=edges, page_info=PageInfo.of(
            [e.cursor for e in edges], len(rows) > first, after),
            count=lambda: loaders.timeline_counts.load(TimelineKey(str(self.id), selection)))

    @strawberry.field(description="Segments the customer belongs to, by segment id, as of "
                      "the last check (every write to the customer, and `idgraph segments "
                      "refresh`).")
    async def segments(self, info: Info[Context, Any]) -> list[SegmentMembership]:
        state, m = await asyncio.gather(
            loaders_of(info, self.view).segment_states.load(str(self.id)),
            customer_masker(info, str(self.id), self.view))
        if state is None:
            return []
        return [SegmentMembership(segment_id=strawberry.ID(s.segment), since=s.since,
                                  why=[m.why(w) for w in s.why])
                for _, s in sorted(state.memberships.items())]

    @strawberry.field(description="The customer's latest segment entries and exits, newest "
                      "first.")
    async def segment_history(self, info: Info[Context, Any], first: Annotated[
            int, strawberry.argument(description="How many entries, newest first, 0 to "
                                     f"{MAX_PAGE}")] = DEFAULT_PAGE
                              ) -> list[SegmentHistoryEntry]:
        page_size(first)
        changes, m = await asyncio.gather(
            loaders_of(info, self.view).segment_history.load((str(self.id), first)),
            customer_masker(info, str(self.id), self.view))
        return [SegmentHistoryEntry(segment_id=strawberry.ID(c.segment),
                                    change=MembershipChangeKind(c.change), at=c.at,
                                    why=[m.why(w) for w in c.why]) for c in changes]

    @strawberry.field(description="The likely next step and the purchase propensity, with "
                      "the reasons. Null when no model was trained (run `idgraph train`) or "
                      "the model knows no step to follow the customer's last.")
    async def next_best_action(self, info: Info[Context, Any]) -> NextBestAction | None:
        found = await loaders_of(info, self.view).next_best_actions.load(str(self.id))
        return NextBestAction.of(found) if found else None

    @strawberry.field(description="Merges into this customer and splits of it, oldest first.")
    async def merge_history(self, info: Info[Context, Any]) -> list[HistoryEntry]:
        cid = str(self.id)
        loaders = loaders_of(info, self.view)
        merges, splits, shown_ = await asyncio.gather(
            loaders.merges.load(cid), loaders.splits.load(cid),
            customer_masker(info, cid, self.view))
        entries = [
            HistoryEntry(kind=HistoryKind.MERGE, at=m.at, reason=shown_.text(m.reason),
                         absorbed_id=strawberry.ID(m.absorbed),
                         survivor_id=strawberry.ID(m.survivor), event_id=shown_.text(m.event_id),
                         customer_id=None, parts=None)
            for m in merges
        ] + [
            HistoryEntry(kind=HistoryKind.SPLIT, at=s.at, reason=shown_.text(s.reason),
                         absorbed_id=None, survivor_id=None, event_id=None,
                         customer_id=strawberry.ID(s.customer_id),
                         parts=[strawberry.ID(p) for p in s.parts])
            for s in splits
        ]
        return sorted(entries, key=lambda e: e.at)

    @strawberry.field(description="The customer's identifiers and their links, and `depth` "
                      "hops beyond them along links kept out (rejected, removed, banned) to "
                      "other customers' identifiers; depth 0 to 3, at most 500 nodes.")
    async def identity_graph(self, info: Info[Context, Any], depth: Annotated[
            int, strawberry.argument(description="Hops beyond the customer's own "
                                     "identifiers, 0 to 3")] = 1) -> IdentityGraph:
        from app.api.graph import MAX_DEPTH, identity_graph

        if not 0 <= depth <= MAX_DEPTH:
            raise InputError(f"depth: must be between 0 and {MAX_DEPTH}, not {depth}")
        graph, m = await asyncio.gather(
            identity_graph(loaders_of(info, self.view), str(self.id), depth),
            customer_masker(info, str(self.id), self.view))
        return graph_of(graph, m)

    @strawberry.field(description="Why the identifier belongs to its customer (see Explanation);"
                      " null when idgraph has never seen it.")
    async def explain(self, info: Info[Context, Any], type: IdentifierType,
                      value: IdentifierValue) -> Explanation | None:
        try:
            found = await services_of(info, self.view).customers.explain(type, value)
        except IdentifierError as exc:
            raise InputError(f"value: {exc}") from None
        if found is None:
            return None
        m = await customer_masker(info, str(self.id), self.view)
        return Explanation(
            identifier=m.key(found.key),
            customer_id=strawberry.ID(found.customer_id) if found.customer_id else None,
            anchor=m.key(found.anchor) if found.anchor else None,
            path=[Link.of(r, m) for r in found.path],  # type: ignore[arg-type]
            stopped=[Link.of(r, m) for r in found.stopped],  # type: ignore[arg-type]
        )


def link_key(a: str, b: str) -> str:
    """A link's key in its global id: its two identifier keys."""
    return json.dumps([a, b])


def graph_of(view: GraphView, m: Shown) -> IdentityGraph:
    nodes = [
        GraphNode(key=m.key(r.key), type=r.type, value=m.value(r.type, r.value),
                  status=IdentifierStatus(r.status), reason=m.reason(r.reason),
                  customer_id=strawberry.ID(r.customer_id) if r.customer_id else None,
                  hops=hops)
        for r, hops in view.nodes
    ]
    return IdentityGraph(customer_id=strawberry.ID(view.customer_id), depth=view.depth,
                         nodes=nodes, links=[Link.of(r, m) for r in view.links],
                         truncated=view.truncated)


@strawberry.type(description="An identifier and its place in the graph.")
class IdentifierInfo(Node):
    type: str = strawberry.field(description="email, phone, cookie, device_id, crm_id or "
                                 "another lower_snake_case type")
    value: str = strawberry.field(description=f"Normalised; {READER_MASKED}")
    status: IdentifierStatus = strawberry.field(description="Whether it links")
    reason: str = strawberry.field(description="Why it is blocked or quarantined, empty when "
                                   "active; readers see what was done, not a steward's words")
    first_seen: str = time_field(description="Time of the earliest event seen with it, "
                                 f"{UTC_TIME}")
    last_seen: str = time_field(description="Time of the latest event seen with it, "
                                f"{UTC_TIME}")
    sources: list[str] = strawberry.field(description="The systems that sent it")
    customer_id: strawberry.ID | None = strawberry.field(description="Its customer's id; null "
                                                         "when blocked or quarantined")
    key: strawberry.Private[str]

    @strawberry.field(description="The identifier's global id (Node): sealed, it says "
                      "nothing of the value")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        return sealed_id(info, "IdentifierInfo", self.key)

    @strawberry.field(description="The customer it belongs to; null when blocked or "
                      "quarantined.")
    def customer(self) -> Customer | None:
        return Customer(id=self.customer_id) if self.customer_id else None

    @strawberry.field(description="Every link of the identifier, whatever its status.")
    async def links(self, info: Info[Context, Any]) -> list[Link]:
        rows, m = await asyncio.gather(info.context.loaders.links_touching.load(self.key),
                                       owner_masker(info, self.customer_id))
        return [Link.of(r, m) for r in rows]

    @classmethod
    def of(cls, r: IdentifierRecord, m: Shown) -> IdentifierInfo:
        return cls(type=r.type, value=m.value(r.type, r.value),
                   status=IdentifierStatus(r.status),
                   reason=m.reason(r.reason), first_seen=r.first_seen,
                   last_seen=r.last_seen, sources=[m.text(s) for s in r.sources],
                   customer_id=strawberry.ID(r.customer_id) if r.customer_id else None,
                   key=r.key)


@strawberry.type(description="A customer a search found, with what matched and how well.")
class SearchEdge:
    cursor: str = strawberry.field(description="Pass it as `after` for the results after "
                                   "this one")
    node: Customer = strawberry.field(description="The customer found")
    score: float = strawberry.field(description="0 to 100, higher is closer")
    matched: str = strawberry.field(description="The name, e-mail or phone that matched best; "
                                    "readers see a name's initials and masked contacts")

    @strawberry.field(description="What tells customers of one name apart: the customer's "
                      "city, else its first e-mail address, else its first phone number "
                      "(contacts masked for readers); null when it has none of them")
    async def hint(self, info: Info[Context, Any]) -> str | None:
        cid = str(self.node.id)
        profile, records = await asyncio.gather(info.context.loaders.profiles.load(cid),
                                                info.context.loaders.identifiers_of.load(cid))
        found = disambiguator(profile.trait("city"), [r.key for r in records])
        if found is None:
            return None
        if found.kind == "city":
            return found.value
        return masker(info).value(found.kind, found.value)


@strawberry.type(description="Customers found by a fuzzy search, best first.")
class SearchConnection(Counted):
    edges: list[SearchEdge] = strawberry.field(description="The customers of the page, best "
                                               "first")
    page_info: PageInfo = strawberry.field(description="Whether more results follow, and the "
                                           "cursors to page on")


@strawberry.type(description="One side of a candidate match.")
class ReviewSide:
    key: str = strawberry.field(description="The identifier's key type:value (masked for "
                                "readers)")
    type: str = strawberry.field(description="The identifier's type: email, phone, cookie, ...")
    value: str = strawberry.field(description=f"Normalised; {READER_MASKED}")
    customer_id: strawberry.ID | None = strawberry.field(description="Its customer now; null "
                                                         "when it has none")

    @strawberry.field(description="Its customer now; null when it has none.")
    def customer(self) -> Customer | None:
        return Customer(id=self.customer_id) if self.customer_id else None


@strawberry.type(description="A customer that accepting a review item merges into another.")
class ReviewMerge:
    absorbed: strawberry.ID = strawberry.field(description="The customer that would be merged "
                                               "away")
    survivor: strawberry.ID = strawberry.field(description="The customer it would be merged "
                                               "into")


@strawberry.type(description="An identifier that accepting a review item moves to another "
                 "customer (null: to none).")
class ReviewMove:
    key: str = strawberry.field(description="The identifier's key type:value (masked for "
                                "readers)")
    customer_id: strawberry.ID | None = strawberry.field(description="The customer it would "
                                                         "move to; null: to none")


@strawberry.type(description="What accepting a review item would do: planned under the rules "
                 "when the queue is read, not applied.")
class ReviewEffect:
    acceptable: bool = strawberry.field(description="False when the rules keep the pair apart: "
                                        "accepting it would be refused (RuleBlocked).")
    blocked_by: str | None = strawberry.field(description="The rule that keeps the pair apart.")
    merges: list[ReviewMerge] = strawberry.field(description="The customers that would merge")
    moves: list[ReviewMove] = strawberry.field(description="The identifiers that would move to "
                                               "another customer, other than those of a merged "
                                               "customer")
    summary: str = strawberry.field(description="The effect in one line of text, or why the "
                                    "item cannot be accepted")


@strawberry.type(description="A candidate match scored between the thresholds: a steward "
                 "accepts (links the two) or rejects it.")
class Review:
    id: strawberry.ID = strawberry.field(description="The item's id: pass it to resolveReview")
    a: ReviewSide = strawberry.field(description="One identifier of the candidate match")
    b: ReviewSide = strawberry.field(description="The other identifier")
    score: float = strawberry.field(description="The log2 odds that the two are one person.")
    probability: float | None = strawberry.field(
        description="The match probability (null for items queued before probabilities).")
    guard: MatchGuard | None = strawberry.field(
        description="Why the pair was not linked whatever its score; null when its probability "
        "was between the thresholds.")
    weights: JSON = strawberry.field(description="The weight of each comparison.")
    match_key: str | None = strawberry.field(
        description="The comparisons in one line, as `+FIRST_NAME+BIRTH_DATE-STREET` "
        "(see Link.matchKey); null for items queued without weights per comparison.")
    status: ReviewStatus = strawberry.field(description="Where it stands (the queue holds "
                                            "open items)")
    created_at: str = time_field(description=f"When the item was queued, {UTC_TIME}")
    record: strawberry.Private[ReviewRecord]

    @strawberry.field(description="What accepting the item would do, planned under the "
                      "rules when asked for (each item a transaction that is rolled back).")
    async def effect(self, info: Info[Context, Any]) -> ReviewEffect:
        e = await info.context.services.steward.preview_review(self.record)
        return ReviewEffect(
            acceptable=e.acceptable, blocked_by=e.blocked_by, summary=e.summary,
            merges=[ReviewMerge(absorbed=strawberry.ID(a), survivor=strawberry.ID(s))
                    for a, s in e.merges],
            moves=[ReviewMove(key=shown_key(info, k), customer_id=strawberry.ID(c) if c else None)
                   for k, c in e.moves])


@strawberry.type(description="A review item, with its cursor.")
class ReviewEdge:
    cursor: str = strawberry.field(description="Pass it as `after` for the items after this "
                                   "one")
    node: Review = strawberry.field(description="The review item")


@strawberry.type(description="A page of the review queue, oldest first (Relay connection).")
class ReviewConnection(Counted):
    edges: list[ReviewEdge] = strawberry.field(description="The items of the page, oldest "
                                               "first")
    page_info: PageInfo = strawberry.field(description="Whether more items follow, and the "
                                           "cursors to page on")


@strawberry.type(description="A steward action: who, when, what, why, and whether it was "
                 "undone.")
class AuditEntry(Node):
    seq: int = strawberry.field(description="The entry's number, rising: pass it to "
                                "undoAction")
    actor: str = strawberry.field(description="Who did it: the API key's audit name "
                                  "(role-key-fingerprint), local-dev when no keys are set, "
                                  "or a CLI command's --actor")
    action: AuditAction = strawberry.field(description="What was done")
    target: str = strawberry.field(description="The customer ids or identifier keys it acted "
                                   "on, comma-separated; `rules` for a rules change")
    reason: str = strawberry.field(description="Why, as given (an erasure's reason without the "
                                   "erased customer's personal values)")
    at: str = time_field(description=f"When it was done, {UTC_TIME}")
    details: JSON = strawberry.field(description="What the action was given: keys, ban and "
                                     "customers; for forget the count of identifiers, for "
                                     "rules the settings and the text")
    undoable: bool = strawberry.field(description="true: undoAction can reverse it now")
    undone_by: int | None = strawberry.field(description="The seq of the entry that undid it; "
                                             "null while not undone")

    @strawberry.field(description="The entry's global id (Node)")
    def id(self, info: Info[Context, Any]) -> strawberry.ID:
        return strawberry.ID(global_id("AuditEntry", str(self.seq)))

    @classmethod
    def of(cls, r: AuditRecord) -> AuditEntry:
        return cls(seq=r.seq, actor=r.actor, action=AuditAction(r.action), target=r.target,
                   reason=r.reason, at=r.at, details=JSON(r.details),
                   undoable="kind" in r.undo and r.undone_by is None, undone_by=r.undone_by)


@strawberry.type(description="An audit entry, with its cursor.")
class AuditEdge:
    cursor: str = strawberry.field(description="Pass it as `after` for the entries older than "
                                   "this one")
    node: AuditEntry = strawberry.field(description="The audit entry")


@strawberry.type(description="The audit log, newest first.")
class AuditConnection(Counted):
    edges: list[AuditEdge] = strawberry.field(description="The entries of the page, newest "
                                              "first")
    page_info: PageInfo = strawberry.field(description="Whether older entries follow, and the "
                                           "cursors to page on")


@strawberry.input(description="An identifier to look up; the value is normalised first.")
class IdentifierInput:
    type: str = strawberry.field(description="The identifier's type, lower_snake_case: email, "
                                 "phone, cookie, device_id, crm_id or any other type events "
                                 "carry")
    value: str = strawberry.field(description="The identifier's value in any spelling: it is "
                                  "normalised by its type first")


CustomerID = Annotated[strawberry.ID, strawberry.argument(description="A customer id; the id of "
                                                          "a merged customer finds the "
                                                          "survivor")]
