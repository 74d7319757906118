"""Collecting a batch: the new events (without erased identifiers), each identifier's
sightings, the evidence for each pair of identifiers seen together or matched, and the
identifiers that must not link."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from app.domain.events import Event
from app.domain.history import Moment, Tie, moment
from app.domain.identifiers import Identifier
from app.domain.matching.stream import PendingRecord, match_batch
from app.domain.matching.training import Matcher
from app.domain.personal import Spellings, identifier_known
from app.domain.plan import (
    BLOCKED,
    QUARANTINED,
    IdentifierDecision,
    Pair,
    Plan,
    ReviewItem,
    Snapshot,
    pair,
)
from app.domain.privacy import ALL_SUPPRESSED, ERASED_MARK, SUPPRESSED, brings_back
from app.domain.resolution.anchors import MATCHER_SOURCE, tie_of
from app.domain.rules import Rules, hub_reason

SAMPLE_EVENT_IDS = 10


def new_events(events: Iterable[Event], seen: set[str]) -> list[Event]:
    """The events not yet stored, each once, in time order (ties: event id)."""
    unique: dict[str, Event] = {}
    for event in events:
        if event.event_id not in seen:
            unique.setdefault(event.event_id, event)
    return sorted(unique.values(), key=lambda e: (e.ts, e.event_id))


@dataclass(slots=True)
class BatchSighting:
    type: str
    value: str
    first_seen: str
    last_seen: str
    first_event: str
    sources: set[str] = field(default_factory=set)

    @property
    def first(self) -> Moment:
        return moment(self.first_seen, self.first_event)


@dataclass(slots=True)
class LinkEvidence:
    count: int = 0
    first_seen: str = "~"
    last_seen: str = ""
    first_event: str = ""
    sources: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)

    def saw(self, event: Event, source: str) -> None:
        self.count += 1
        if (event.ts, event.event_id) < (self.first_seen, self.first_event):
            self.first_seen, self.first_event = event.ts, event.event_id
        self.last_seen = max(self.last_seen, event.ts)
        self.sources.add(source)
        if len(self.event_ids) < SAMPLE_EVENT_IDS:
            self.event_ids.append(event.event_id)

    def tie(self, a: str, b: str) -> Tie:
        return tie_of(a, b, self.first_seen, self.first_event, self.sources)


@dataclass(slots=True)
class Batch:
    events: list[Event]
    sightings: dict[str, BatchSighting]
    evidence: dict[Pair, LinkEvidence]
    # (record key, candidate key, event) of the links the matcher made
    matches: list[tuple[str, str, Event]] = field(default_factory=list)
    match_payloads: dict[Pair, dict[str, Any]] = field(default_factory=dict)


def collect(batch: list[Event]) -> Batch:
    sightings: dict[str, BatchSighting] = {}
    evidence: dict[Pair, LinkEvidence] = defaultdict(LinkEvidence)
    for event in batch:
        ts = event.ts
        for ident in event.identifiers:
            s = sightings.get(ident.key)
            if s is None:
                s = sightings[ident.key] = BatchSighting(ident.type, ident.value, ts, ts,
                                                     event.event_id)
            elif (ts, event.event_id) < (s.first_seen, s.first_event):
                s.first_seen, s.first_event = ts, event.event_id
            s.last_seen = max(s.last_seen, ts)
            s.sources.add(event.source)
        for a, b in combinations(sorted({i.key for i in event.identifiers}), 2):
            evidence[(a, b)].saw(event, event.source)
    return Batch(batch, sightings, dict(evidence))


def find_inactive(
    batch: Batch, snapshot: Snapshot, rules: Rules
) -> tuple[dict[str, IdentifierDecision], list[str]]:
    """Batch keys that must not link (blocked, or quarantined now or before), and the
    stored keys that this batch turns into hubs."""
    inactive: dict[str, IdentifierDecision] = {}
    new_hubs: list[str] = []
    new_neighbours: dict[str, set[str]] = defaultdict(set)
    counted = set(rules.hub_count_types)
    for a, b in batch.evidence:
        if (a, b) not in snapshot.link_status:
            if b.partition(":")[0] in counted:
                new_neighbours[a].add(b)
            if a.partition(":")[0] in counted:
                new_neighbours[b].add(a)
    for key, sighting in batch.sightings.items():
        if key in snapshot.statuses:
            inactive[key] = snapshot.statuses[key]
            continue
        rule = rules.blocked_by(Identifier(sighting.type, sighting.value))
        if rule is not None:
            inactive[key] = (BLOCKED, f"matches {rule}")
            continue
        degree = snapshot.degrees.get(key, 0) + len(new_neighbours.get(key, ()))
        limit = rules.hub_limit(sighting.type)
        if degree > limit:
            inactive[key] = (QUARANTINED, hub_reason(degree, limit))
            if key in snapshot.owners:
                new_hubs.append(key)
    return inactive, new_hubs


def add_matches(batch: Batch, plan: Plan, snapshot: Snapshot, matcher: Matcher | None,
           pending: Sequence[PendingRecord], now: str) -> None:
    """Match the batch's records: links join the batch's evidence as MATCHED links,
    candidates between the thresholds go to the review queue."""
    if not pending:  # most batches: no traits, and the index below would cost more
        return
    # An identifier dropped from its event (suppressed after an erasure) makes no record.
    kept = {e.event_id: {i.key for i in e.identifiers} for e in batch.events}
    records = [p for p in pending if p.key in kept.get(p.event.event_id, ())]
    plan.trait_problems = [(p.event.event_id, f"traits.{t.trait}", t.reason)
                           for p in records for t in p.problems]
    if matcher is None or not records:
        return
    step = match_batch(records, matcher, snapshot.match_buckets, snapshot.match_records,
                       snapshot.owners)
    plan.match_records = [(p.key, p.record.traits, p.blocks) for p in step.records if p.blocks]
    for match in step.matches:
        p = pair(match.a, match.b)
        if match.review:
            plan.reviews.append(ReviewItem(p[0], p[1], match.score, match.payload, now))
            continue
        batch.matches.append((match.a, match.b, match.event))
        batch.match_payloads[p] = match.payload
        batch.evidence.setdefault(p, LinkEvidence()).saw(match.event, MATCHER_SOURCE)


def drop_suppressed(events: list[Event], snapshot: Snapshot, plan: Plan,
                    rules: Rules) -> list[Event]:
    """Drop erased identifiers from events, unless the event brings one back with an
    explicit new consent to a purpose about its channel (privacy.brings_back,
    `rules.returning_purposes`). What is kept of an event no longer names
    them, and the problems name only their type."""
    if not snapshot.suppressed:
        return events
    kept = []
    for event in events:
        erased = [i for i in event.identifiers if i.key in snapshot.suppressed]
        back = {i.key for i in erased
                if brings_back(event.consent, event.ts, snapshot.suppressed[i.key],
                               rules.returning_purposes(i.type))}
        plan.unsuppress += sorted(back)
        gone = [i for i in erased if i.key not in back]
        if gone:
            plan.dropped += [(event.event_id, f"{i.type}:{ERASED_MARK}", SUPPRESSED)
                             for i in gone]
            rest = tuple(i for i in event.identifiers if i not in gone)
            if not rest:
                plan.dropped.append((event.event_id, "", ALL_SUPPRESSED))
                continue
            event = _without_mentions(event, rest, gone)
        kept.append(event)
    return kept


def _without_mentions(event: Event, rest: tuple[Identifier, ...],
                      gone: list[Identifier]) -> Event:
    spellings = Spellings([identifier_known(i.key) for i in gone])
    return replace(event, identifiers=rest,
                   properties=spellings.scrub_json(event.properties, ERASED_MARK),
                   traits=spellings.scrub_json(event.traits, ERASED_MARK))
