"""Ingest use case: validate raw events, resolve them, write them in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from app.clock import Clock, utc_now
from app.domain import bounds
from app.domain.changes import Change
from app.domain.effects import with_checks
from app.domain.events import Event, EventError, format_ts, parse_event
from app.domain.matching.model import ModelFormatError
from app.domain.matching.stream import match_queries, pending_records
from app.domain.matching.training import Matcher, matcher_for
from app.domain.plan import Gather, Plan
from app.domain.privacy import ALL_SUPPRESSED, SUPPRESSED
from app.domain.resolution import DEFAULT_RULES, plan_ingest
from app.domain.rules import Rules
from app.services.segments import SegmentService
from app.stores.base import IdentityStore

MATCHER_MODEL = "matcher"
log = logging.getLogger("idgraph.ingest")


@dataclass(frozen=True, slots=True)
class Problem:
    """A rejected event (`rejected`) or a dropped identifier of an accepted event."""

    position: str  # where the input was: "line 12", "events[3]", "topic/partition/offset"
    field: str
    reason: str
    rejected: bool
    event_id: str | None = None
    # dropped because it was erased and is suppressed: a decision, not a fault, so there
    # is nothing to dead-letter (a dead letter keeps the message's bytes) or replay
    erased: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "position": self.position,
            "event_id": self.event_id,
            "field": self.field,
            "reason": self.reason,
            "action": "event rejected" if self.rejected else "identifier dropped, event kept",
        }


def unexpected(position: str, field: str, exc: Exception, event_id: str | None = None
               ) -> Problem:
    """An exception no check foresaw, while reading one event: a fault of idgraph, not of
    the data. It is logged with its traceback and rejects that event alone, so that the
    rest of the batch is kept and the fault is seen."""
    log.error("unexpected %s while reading the event at %s", type(exc).__name__, position,
              exc_info=exc)
    return Problem(position, field, f"could not be read: {type(exc).__name__} (a fault of "
                   "idgraph, logged; please report it)", True, event_id)


def validate(raw: object, position: str, default_region: str) -> tuple[Event | None,
                                                                     list[Problem]]:
    """One raw event: the event (None when it is rejected) and its problems. The same
    check for every way in: the loaders here, and a rebuild's Spark tasks."""
    try:
        parsed = parse_event(raw, default_region=default_region)
    except EventError as exc:
        return None, [Problem(position, exc.field, exc.reason, True, _event_id(raw))]
    except Exception as exc:
        return None, [unexpected(position, "event", exc, _event_id(raw))]
    if not parsed.dropped:
        return parsed.event, []
    event_id = parsed.event.event_id
    return parsed.event, [
        Problem(position, "identifiers", str(d), False, event_id) for d in parsed.dropped
    ]


def _event_id(raw: object) -> str | None:
    """The id of an event that may not be one, if it is safe to quote in a report."""
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    return event_id if bounds.is_safe_text(event_id) else None


def plan_problems(plan: Plan) -> list[Problem]:
    """What a plan left out of its events: identifiers dropped after an erasure (a whole
    event when none is left), and traits left out of matching."""
    problems = [
        Problem(f"event {event_id}", "identifiers", f"{key}: {why}" if key else why,
                not key, event_id, erased=why in (SUPPRESSED, ALL_SUPPRESSED))
        for event_id, key, why in plan.dropped
    ]
    return problems + [
        Problem(f"event {event_id}", trait, f"ignored for matching: {why}", False, event_id)
        for event_id, trait, why in plan.trait_problems
    ]


@dataclass(slots=True)
class IngestResult:
    received: int = 0
    stored: int = 0  # new events written
    duplicates: int = 0  # events already stored (or repeated in the batch): changed nothing
    problems: list[Problem] = field(default_factory=list)
    new_customers: int = 0
    merges: int = 0
    affected_customers: set[str] = field(default_factory=set)
    changes: list[Change] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(p.rejected for p in self.problems)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.problems += other.problems
        self.new_customers += other.new_customers
        self.merges += other.merges
        self.affected_customers |= other.affected_customers
        self.changes += other.changes


class IngestService:
    def __init__(
        self,
        store: IdentityStore,
        *,
        default_region: str = "NL",
        rules: Rules = DEFAULT_RULES,
        clock: Clock = utc_now,
        segments: SegmentService | None = None,
    ) -> None:
        self.store = store
        self.default_region = default_region
        self.rules = rules
        self.clock = clock
        self.matcher: Matcher | None = None
        self.matcher_problem: str | None = None
        self.segments = segments  # memberships follow each write
        # Called right after each write commits, before anything else happens (the crash
        # tests kill the process there: IDGRAPH_TEST_KILL_AFTER_COMMIT).
        self.committed: Callable[[Plan], None] | None = None

    def validate(self, raw: object, position: str) -> tuple[Event | None, list[Problem]]:
        return validate(raw, position, self.default_region)

    async def ingest_raw(self, items: Iterable[tuple[str, object]]) -> IngestResult:
        """Validate and ingest (position, raw event) pairs: bad ones are reported, the rest
        are written. A raw item that is already a Problem (say, a line that is not JSON) is
        reported in its place."""
        events: list[Event] = []
        problems: list[Problem] = []
        received = 0
        for position, raw in items:
            received += 1
            if isinstance(raw, Problem):
                problems.append(raw)
                continue
            event, found = self.validate(raw, position)
            problems += found
            if event is not None:
                events.append(event)
        result = await self.ingest(events)
        result.received = received
        result.problems = problems + result.problems
        return result

    async def ingest(self, events: Sequence[Event]) -> IngestResult:
        result = IngestResult(received=len(events))
        if not events:
            return result
        pending = pending_records(events, self.rules)
        gather = Gather(
            keys=frozenset(i.key for e in events for i in e.identifiers),
            event_ids=frozenset(e.event_id for e in events),
            limited_types=tuple(self.rules.limits),
            hub_types=self.rules.hub_count_types,
            match_queries=match_queries(pending) if self.matcher else (),
        )
        now = format_ts(self.clock())
        plan = (await self.store.transact(
            gather,
            lambda snapshot: with_checks(plan_ingest(
                events, snapshot, now, self.rules, self.matcher, pending
            ), now),
        )).plan
        if self.committed is not None:
            self.committed(plan)
        result.stored = len(plan.events)
        # an event dropped whole (every identifier erased) is rejected, not a duplicate
        dropped = sum(1 for _, key, _ in plan.dropped if not key)
        result.duplicates = len(events) - result.stored - dropped
        result.new_customers = len(plan.new_customers)
        result.merges = len(plan.merges)
        result.affected_customers = plan.affected_customers
        result.changes = plan.changes
        if self.segments is not None:
            result.changes = result.changes + await self.segments.after_plan(plan, now)
        result.problems += plan_problems(plan)
        return result

    async def load_matcher(self) -> None:
        """Use the matcher trained into the store, if there is one, deciding with the
        rules' thresholds. A stored matcher this version cannot read is left unused, and
        `matcher_problem` says why."""
        body = await self.store.load_model(MATCHER_MODEL)
        self.matcher, self.matcher_problem = None, None
        if body:
            try:
                self.matcher = matcher_for(body, self.rules)
            except ModelFormatError as exc:
                self.matcher_problem = str(exc)
