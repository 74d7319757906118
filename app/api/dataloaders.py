"""Per-request DataLoaders: every read a query repeats per customer or identifier is
batched into one store call per field, whatever the number of customers. The customer
fields that a query resolves together (identifiers, profile, timeline, segments) share
one store call as well: `CustomerReader` gathers what their loaders ask for at the same
moment into one `read_customers` (one round trip on Neo4j).

`facts` (events, identifiers, profile) feeds the computed traits; nextBestAction reads
the same facts again inside the marketing service, so asking for both reads them twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.bootstrap import Services
from app.domain.nba import Recommendation
from app.domain.plan import Merge, Split
from app.domain.profile import Profile
from app.domain.segments import MembershipChange
from app.domain.traits import CustomerFacts
from app.services.customers import profiles_from
from app.services.marketing import MarketingService, NoModel
from app.services.segments import SegmentService
from app.services.views import Views
from app.stores.values import (
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    SegmentState,
    TimelineWindow,
)


@dataclass(frozen=True, slots=True)
class TimelineKey:
    customer_id: str
    window: TimelineWindow


class CustomerReader:
    """One `read_customers` for the reads that the loaders ask for in one turn of the event
    loop. The loaders of a query's customer fields dispatch their batches in the same turn
    (DataLoader schedules each batch for the next turn, and the fields resolve together);
    the read starts one turn after the first of them asked, so it holds them all. Reads
    asked for later go into the next call."""

    def __init__(self, views: Views) -> None:
        self.views = views
        # profile documents read with the owners of identifiers, for this request
        self.prefetched: dict[str, str] = {}
        self.reads: CustomerReads | None = None
        self.pending: asyncio.Future[CustomerData] | None = None

    async def read(self, ask: Callable[[CustomerReads], Any]) -> CustomerData:
        if self.reads is None or self.pending is None:
            self.reads = CustomerReads()
            self.pending = asyncio.ensure_future(self._read(self.reads))
        ask(self.reads)
        # shielded: one cancelled field must not cancel the read the others wait for
        return await asyncio.shield(self.pending)

    async def _read(self, reads: CustomerReads) -> CustomerData:
        self.reads = self.pending = None  # what is asked for from now on goes in a new read
        return await self.views.customer_data(reads, self.prefetched)


@dataclass
class Loaders:
    current_ids: DataLoader[str, str | None]
    owners: DataLoader[str, str | None]
    # owners for the customer fields that follow: the documents come in the same lookup
    customer_owners: DataLoader[str, str | None]
    identifiers_of: DataLoader[str, list[IdentifierRecord]]
    identifiers: DataLoader[str, IdentifierRecord | None]
    profiles: DataLoader[str, Profile]
    merges: DataLoader[str, list[Merge]]
    splits: DataLoader[str, list[Split]]
    links_touching: DataLoader[str, list[LinkRecord]]
    timelines: DataLoader[TimelineKey, list[EventRecord]]
    timeline_counts: DataLoader[TimelineKey, int]
    facts: DataLoader[str, CustomerFacts]
    segment_states: DataLoader[str, SegmentState | None]
    segment_history: DataLoader[tuple[str, int], list[MembershipChange]]
    next_best_actions: DataLoader[str, Recommendation | None]


def make_loaders(services: Services) -> Loaders:
    views = services.views
    reader = CustomerReader(views)
    return Loaders(
        current_ids=DataLoader(_lookup(views.current_ids, _none)),
        owners=DataLoader(_lookup(views.owners, _none)),
        customer_owners=DataLoader(_customer_owners(reader)),
        identifiers_of=DataLoader(_customer_data(
            reader, lambda reads, ids: reads.identifiers.update(ids),
            lambda data: data.identifiers, list)),
        identifiers=DataLoader(_lookup(views.identifiers, _none)),
        profiles=DataLoader(_profiles(reader)),
        merges=DataLoader(_lookup(views.merges, list)),
        splits=DataLoader(_lookup(views.splits, list)),
        links_touching=DataLoader(_links_touching(views)),
        timelines=DataLoader(_timelines(reader)),
        timeline_counts=DataLoader(_timeline_counts(views)),
        facts=DataLoader(_lookup(views.facts, _absent)),
        segment_states=DataLoader(_customer_data(
            reader, lambda reads, ids: reads.segment_states.update(ids),
            lambda data: data.segment_states, _none)),
        segment_history=DataLoader(_segment_history(services.segments)),
        next_best_actions=DataLoader(_next_best_actions(services.marketing)),
    )


K = TypeVar("K")
V = TypeVar("V")
Batch = Callable[[Sequence[K]], Awaitable[list[V]]]


def _none() -> None:
    return None


def _absent() -> Any:
    raise KeyError("the read answers every key it is asked for")


def _lookup(read: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], missing: Callable[[], V]
            ) -> Batch[K, V]:
    """A batch function over a store read that answers a mapping: `missing()` for each key
    the read does not answer."""

    async def load(keys: Sequence[K]) -> list[V]:
        found = await read(keys)
        return [found[k] if k in found else missing() for k in keys]

    return load


def _customer_data(reader: CustomerReader, ask: Callable[[CustomerReads, Sequence[str]], None],
                   answer: Callable[[CustomerData], Mapping[str, V]], missing: Callable[[], V]
                   ) -> Batch[str, V]:
    """A batch function over one of the reads that `reader` makes together."""

    async def load(ids: Sequence[str]) -> list[V]:
        found = answer(await reader.read(lambda reads: ask(reads, ids)))
        return [found[i] if i in found else missing() for i in ids]

    return load


def _customer_owners(reader: CustomerReader) -> Batch[str, str | None]:
    async def load(keys: Sequence[str]) -> list[str | None]:
        owners, documents = await reader.views.owners_and_documents(keys)
        reader.prefetched.update(documents)
        return [owners.get(k) for k in keys]

    return load


def _profiles(reader: CustomerReader) -> Batch[str, Profile]:
    async def load(ids: Sequence[str]) -> list[Profile]:
        found = (await reader.read(lambda reads: reads.observations.update(ids))).observations
        profiles = profiles_from(found, ids)
        return [profiles[i] for i in ids]

    return load


def _timelines(reader: CustomerReader) -> Batch[TimelineKey, list[EventRecord]]:
    async def load(keys: Sequence[TimelineKey]) -> list[list[EventRecord]]:
        def ask(reads: CustomerReads) -> None:
            for key in keys:
                reads.timelines.setdefault(key.window, set()).add(key.customer_id)

        pages = (await reader.read(ask)).timelines
        return [pages[k.window].get(k.customer_id, []) for k in keys]

    return load


def _timeline_counts(views: Views) -> Batch[TimelineKey, int]:
    """One count per distinct set of filters (a key's window: its page is ignored)."""

    async def load(keys: Sequence[TimelineKey]) -> list[int]:
        counts: dict[TimelineWindow, dict[str, int]] = {}
        for window in {k.window for k in keys}:
            ids = sorted({k.customer_id for k in keys if k.window == window})
            counts[window] = await views.timeline_counts(ids, window)
        return [counts[k.window].get(k.customer_id, 0) for k in keys]

    return load


def _links_touching(views: Views) -> Batch[str, list[LinkRecord]]:
    async def load(keys: Sequence[str]) -> list[list[LinkRecord]]:
        by_key: dict[str, list[LinkRecord]] = defaultdict(list)
        for link in await views.links_touching(keys):
            by_key[link.a].append(link)
            by_key[link.b].append(link)
        return [by_key.get(k, []) for k in keys]

    return load


def _segment_history(segments: SegmentService) -> Batch[tuple[str, int], list[MembershipChange]]:
    async def load(keys: Sequence[tuple[str, int]]) -> list[list[MembershipChange]]:
        # keyed by (customer, first): one store call per distinct page size
        pages: dict[int, dict[str, list[MembershipChange]]] = {}
        for first in {f for _, f in keys}:
            ids = sorted({c for c, f in keys if f == first})
            pages[first] = await segments.history(ids, first)
        return [pages[first].get(cid, []) for cid, first in keys]

    return load


def _next_best_actions(marketing: MarketingService) -> Batch[str, Recommendation | None]:
    async def load(ids: Sequence[str]) -> list[Recommendation | None]:
        try:
            found = await marketing.next_best_actions(ids)
        except NoModel:
            return [None] * len(ids)
        return [found.get(i) for i in ids]

    return load
