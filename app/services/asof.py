"""As of a moment (event time): a customer as the evidence up to T, and the steward
actions made up to T, made it (docs/resolution.md, "As of a moment").

Exact by construction, and nothing of resolution is written twice: the part of the graph
the customer could have spanned at T is gathered (app/domain/asof.py), its events up to T
and the steward actions on it up to T are rebuilt through the ordinary services into a
scratch store in memory (app/services/rebuild.py), and every answer about the customer
then (its id, identifiers, links, profile, timeline, merge history, segments) is read
from that store by the ordinary reads. The whole store as of T (`idgraph export --as-of`)
is the same rebuild of every event up to T, into a temporary file.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.domain.asof import (
    MAX_REGION_EVENTS,
    Evidence,
    Region,
    RegionTooLarge,
    Step,
    is_blocked,
    links_made,
    recover,
    released_keys,
    scrubbed_keys,
    steps_of,
    steps_touching,
    with_recovered,
)
from app.domain.events import Event, parse_ts
from app.domain.identifiers import normalise
from app.domain.segments import Segment, SegmentError, Vocabulary, catch_up, parse_segment
from app.domain.segments.evaluate import Catalogue
from app.services.container import Services
from app.services.customers import CustomerService
from app.services.ingest import IngestService
from app.services.marketing import NBA_MODEL, MarketingService
from app.services.privacy import PrivacyService
from app.services.rebuild import Rebuild, RebuildReport
from app.services.scratch import POOL
from app.services.segments import SegmentService, customer_facts
from app.services.steward import StewardService
from app.services.views import Views
from app.stores.base import IdentityStore
from app.stores.sqlite.store import SQLiteStore
from app.stores.values import EventRecord, SegmentState, event_from_record

# A hub's own events loaded to make it a hub in the rebuild too (its earliest ones).
MAX_HUB_EVENTS = 2_000
AUDIT_PAGE = 1_000
EXPORT_PAGE = 5_000


@dataclass(slots=True)
class AsOf:
    """A customer as of a moment: the id it had then, and the scratch services holding
    the rebuilt part of the graph, through which every read about it is made."""

    at: str
    customer_id: str
    services: Services
    report: RebuildReport


def scratch_services(live: Services, store: IdentityStore, at: str) -> Services:
    """Services over `store` with the live rules, traits and matcher, their clocks at `at`."""
    moment = parse_ts(at)

    def clock():  # noqa: ANN202 - a Clock
        return moment

    region = live.settings.default_region
    ingest = IngestService(store, default_region=region, rules=live.ingest.rules, clock=clock)
    ingest.matcher = live.ingest.matcher
    return Services(
        settings=live.settings,
        store=store,
        ingest=ingest,
        customers=CustomerService(store, default_region=region),
        steward=StewardService(store, default_region=region, rules=live.ingest.rules,
                               clock=clock),
        privacy=PrivacyService(store, clock=clock, default_region=region),
        segments=SegmentService(store, traits=live.segments.traits, clock=clock),
        marketing=MarketingService(store, traits=live.segments.traits, clock=clock),
        views=Views(store),
    )


async def one_page(events: Sequence[Event]) -> AsyncIterator[Sequence[Event]]:
    yield events


class AsOfService:
    def __init__(self, live: Services) -> None:
        self.live = live
        self.store = live.store
        self.rules = live.ingest.rules
        self._steps: tuple[int, list[Step]] | None = None  # (newest seq, steps)

    # -- the answers -------------------------------------------------------------------
    async def customer(self, customer_id: str, at: str) -> AsOf | None:
        """The customer that `customer_id` (any id it had, or has now) names, as of `at`:
        the one holding its identifiers then. None before its first event, or for an id
        idgraph does not know."""
        current = (await self.store.current_ids([customer_id])).get(customer_id)
        if current is None:
            return None
        own = (await self.store.identifiers_of([current])).get(current, [])
        seeds = [r.key for r in sorted(own, key=lambda r: (r.first_seen, r.key))]
        return await self._rebuilt(seeds, at, [customer_id, current])

    async def by_identifier(self, type_: str, value: str, at: str) -> AsOf | None:
        """The customer an identifier belonged to as of `at`. Raises IdentifierError for a
        value that is not an identifier of its type."""
        key = normalise(type_, value, default_region=self.live.settings.default_region).key
        return await self._rebuilt([key], at, [])

    async def _rebuilt(self, seeds: list[str], at: str, ids: list[str]) -> AsOf | None:
        if not seeds or all(is_blocked(k, self.rules) for k in seeds):
            return None
        region, steps = await self.gathered(seeds, at)
        events = await self.events(region)
        if not events:
            return None
        services = await self.scratch(at)
        report = await Rebuild(services.ingest, services.steward).run(
            one_page(events), steps, until=at)
        answer = await _answer(services.store, ids, seeds)
        if answer is None:
            return None
        await self._segments(services, answer, at)
        return AsOf(at, answer, services, report)

    # -- what to rebuild ---------------------------------------------------------------
    async def steps(self) -> list[Step]:
        """The audit log as replay steps, read again only when it has a new entry (an
        undo or an erasure adds one too)."""
        newest = await self.store.audit_log(1, None)
        seq = newest[0].seq if newest else 0
        if self._steps is None or self._steps[0] != seq:
            entries = []
            before: int | None = None
            while page := await self.store.audit_log(AUDIT_PAGE, before):
                entries += page
                before = page[-1].seq
            self._steps = (seq, steps_of(entries))
        return self._steps[1]

    async def gathered(self, seeds: Sequence[str], at: str) -> tuple[Region, list[Step]]:
        """The region of `seeds` as of `at`, and the steward actions to replay on it. A hub
        stops the region only from before the first of those actions (app/domain/asof.py),
        so the region is gathered again, further, until that holds."""
        steps = await self.steps()
        hubs_from = at
        while True:
            region = await self.region(seeds, at, steps, hubs_from)
            found = recover(scrubbed_keys(steps), region.keys)
            replayed = steps_touching(with_recovered(steps, found), region.keys, at)
            first = min((s.at for s in replayed), default=at)
            if first >= hubs_from:
                return region, replayed
            hubs_from = first

    async def region(self, seeds: Sequence[str], at: str, steps: Sequence[Step],
                     hubs_from: str | None = None) -> Region:
        """The identifiers reachable from `seeds` along links first seen by `at`; through
        a hub only if it was not one yet at `hubs_from`."""
        region = Region(at, hubs_from or at, links_made(steps, hubs_from or at),
                        keys=set(seeds))
        released = released_keys(steps, at)
        frontier = {k for k in seeds if not is_blocked(k, self.rules)}
        while frontier:
            links = await self.store.links_touching(frontier)
            region.add_links(Evidence(link.a, link.b, link.first_seen) for link in links)
            frontier = {k for k in region.expand(frontier, self.rules, released)
                        if not is_blocked(k, self.rules)}
        return region

    async def events(self, region: Region) -> list[Event]:
        """The region's events up to its moment, and its hubs' earliest, in time order."""
        own = [k for k in region.own_keys if not is_blocked(k, self.rules)]
        found = {e.event_id: e for e in await self.store.events_observing(
            own, region.until, MAX_REGION_EVENTS + 1)}
        if len(found) > MAX_REGION_EVENTS:
            raise RegionTooLarge(
                f"as of {region.until} this customer's part of the graph holds more "
                f"than {MAX_REGION_EVENTS:,} events, more than one as-of answer rebuilds; use "
                "`idgraph export --as-of` for the whole store")
        for hub in sorted(region.hubs):
            for record in await self.store.events_observing([hub], region.until,
                                                            MAX_HUB_EVENTS):
                found.setdefault(record.event_id, record)
        return [event_from_record(r) for r in sorted(found.values(), key=_time_order)]

    async def scratch(self, at: str, store: IdentityStore | None = None) -> Services:
        """Scratch services at `at` (in memory unless a store is given), with the segment
        definitions of the live store and its next-best-action model if it was trained by
        then."""
        if store is None:
            pooled = await POOL.take()
            services = scratch_services(self.live, pooled, at)
            POOL.lend(pooled, services)  # back to the pool when nothing reads from it
        else:
            services = scratch_services(self.live, store, at)
        store = services.store
        model = await self.store.load_model(NBA_MODEL)
        if model is not None and str(model.get("trained_at", "")) <= at:
            await store.save_model(NBA_MODEL, model, str(model["trained_at"]))
        for record in await self.store.segment_definitions():
            await store.save_segment(record)
        return services

    async def _segments(self, services: Services, customer_id: str, at: str) -> None:
        """The customer's memberships at `at`, caught up from its first event, with their
        history. The definitions are today's (they are not versioned, and a segment
        defined after events were loaded asks about them too)."""
        catalogue = _catalogue(services.segments, await services.store.segment_definitions())
        if not catalogue:
            return
        facts = (await customer_facts(services.store, [customer_id]))[customer_id]
        done = catch_up(catalogue, facts, {}, None, at, traits=services.segments.traits)
        await services.store.save_segment_states(
            {customer_id: SegmentState(done.memberships, done.checked_at, done.next_check)},
            done.changes)

    # -- the whole store ---------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def whole(self, at: str) -> AsyncIterator[Services]:
        """Every event up to `at` and every steward action made by then, rebuilt into a
        temporary store, which is deleted afterwards."""
        with tempfile.TemporaryDirectory(prefix="idgraph-asof-") as folder:
            store = SQLiteStore(str(Path(folder) / "asof.db"))
            try:
                await store.migrate()
                services = await self.scratch(at, store)
                await Rebuild(services.ingest, services.steward).run(
                    self._all_events(at), await recovered_steps(self.store, await self.steps()),
                    until=at)
                yield services
            finally:
                await store.close()

    async def _all_events(self, at: str) -> AsyncIterator[list[Event]]:
        after = None
        while page := await self.store.events_after(after, EXPORT_PAGE, until=at):
            yield [event_from_record(r) for r in page]
            after = page[-1].cursor


async def recovered_steps(store: IdentityStore, steps: list[Step]) -> list[Step]:
    """The steps with the identifiers an erasure scrubbed found again among the store's
    (app/domain/asof.py); the whole graph is read only when some were scrubbed."""
    scrubbed = scrubbed_keys(steps)
    if not scrubbed:
        return steps
    owners, _ = await store.membership()
    return with_recovered(steps, recover(scrubbed, owners))


def _time_order(record: EventRecord) -> tuple[str, str]:
    return record.cursor


async def _answer(store: IdentityStore, ids: Sequence[str], seeds: Sequence[str]) -> str | None:
    """Which rebuilt customer the question named: an id it asked for, when the customer
    had it then; else the owner of its earliest identifier that had one (an id given
    later, by a split or a rename, names the customer that held its identifiers)."""
    found = await store.current_ids(ids) if ids else {}
    for cid in ids:
        if cid in found:
            return found[cid]
    owners = await store.owners(seeds)
    return next((owners[k] for k in seeds if k in owners), None)


def _catalogue(segments: SegmentService, records: Sequence) -> Catalogue:
    """The definitions, parsed (a stored one that no longer parses, under other computed
    traits, is left out with those that read it)."""
    kept = {r.name: r for r in records}
    while True:
        vocabulary = Vocabulary.of(segments.traits, segments=set(kept))
        catalogue: dict[str, Segment] = {}
        dropped = set()
        for name, record in kept.items():
            try:
                catalogue[name] = parse_segment(name, record.text, vocabulary)
            except SegmentError:
                dropped.add(name)
        if not dropped:
            return catalogue
        kept = {n: r for n, r in kept.items() if n not in dropped}
