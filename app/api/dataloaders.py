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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from app.bootstrap import Services
from app.domain.nba import Recommendation
from app.domain.profile import Profile
from app.domain.segments import MembershipChange
from app.domain.traits import CustomerFacts
from app.services.customers import profiles_from
from app.services.marketing import NoModel
from app.services.segments import customer_facts
from app.stores.base import (
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    IdentityStore,
    LinkRecord,
    MergeRecord,
    SegmentState,
    SplitRecord,
)
from app.stores.values import TimelineWindow


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

    def __init__(self, store: IdentityStore) -> None:
        self.store = store
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
        return await self.store.read_customers(reads)


@dataclass
class Loaders:
    current_ids: DataLoader[str, str | None]
    owners: DataLoader[str, str | None]
    identifiers_of: DataLoader[str, list[IdentifierRecord]]
    identifiers: DataLoader[str, IdentifierRecord | None]
    profiles: DataLoader[str, Profile]
    merges: DataLoader[str, list[MergeRecord]]
    splits: DataLoader[str, list[SplitRecord]]
    links_touching: DataLoader[str, list[LinkRecord]]
    timelines: DataLoader[TimelineKey, list[EventRecord]]
    facts: DataLoader[str, CustomerFacts]
    segment_states: DataLoader[str, SegmentState | None]
    segment_history: DataLoader[tuple[str, int], list[MembershipChange]]
    next_best_actions: DataLoader[str, Recommendation | None]


def make_loaders(services: Services) -> Loaders:
    store = services.store
    reader = CustomerReader(store)

    async def current_ids(ids: Sequence[str]) -> list[str | None]:
        found = await store.current_ids(ids)
        return [found.get(i) for i in ids]

    async def owners(keys: Sequence[str]) -> list[str | None]:
        found = await store.owners(keys)
        return [found.get(k) for k in keys]

    async def identifiers_of(ids: Sequence[str]) -> list[list[IdentifierRecord]]:
        found = (await reader.read(lambda reads: reads.identifiers.update(ids))).identifiers
        return [found.get(i, []) for i in ids]

    async def identifiers(keys: Sequence[str]) -> list[IdentifierRecord | None]:
        found = await store.identifiers(keys)
        return [found.get(k) for k in keys]

    async def profiles(ids: Sequence[str]) -> list[Profile]:
        found = (await reader.read(lambda reads: reads.observations.update(ids))).observations
        profiles = profiles_from(found, ids)
        return [profiles[i] for i in ids]

    async def merges(ids: Sequence[str]) -> list[list[MergeRecord]]:
        found = await store.merges_into(ids)
        return [found.get(i, []) for i in ids]

    async def splits(ids: Sequence[str]) -> list[list[SplitRecord]]:
        found = await store.splits_of(ids)
        return [found.get(i, []) for i in ids]

    async def links_touching(keys: Sequence[str]) -> list[list[LinkRecord]]:
        by_key: dict[str, list[LinkRecord]] = defaultdict(list)
        for link in await store.links_touching(keys):
            by_key[link.a].append(link)
            by_key[link.b].append(link)
        return [by_key.get(k, []) for k in keys]

    async def timelines(keys: Sequence[TimelineKey]) -> list[list[EventRecord]]:
        def ask(reads: CustomerReads) -> None:
            for key in keys:
                reads.timelines.setdefault(key.window, set()).add(key.customer_id)

        pages = (await reader.read(ask)).timelines
        return [pages[k.window].get(k.customer_id, []) for k in keys]

    async def facts(ids: Sequence[str]) -> list[CustomerFacts]:
        found = await customer_facts(store, ids)
        return [found[i] for i in ids]

    async def segment_states(ids: Sequence[str]) -> list[SegmentState | None]:
        found = (await reader.read(lambda reads: reads.segment_states.update(ids))
                 ).segment_states
        return [found.get(i) for i in ids]

    async def segment_history(keys: Sequence[tuple[str, int]]) -> list[list[MembershipChange]]:
        # keyed by (customer, first): one store call per distinct page size
        pages: dict[int, dict[str, list[MembershipChange]]] = {}
        for first in {f for _, f in keys}:
            ids = sorted({c for c, f in keys if f == first})
            pages[first] = await services.segments.history(ids, first)
        return [pages[first].get(cid, []) for cid, first in keys]

    async def next_best_actions(ids: Sequence[str]) -> list[Recommendation | None]:
        try:
            found = await services.marketing.next_best_actions(ids)
        except NoModel:
            return [None] * len(ids)
        return [found.get(i) for i in ids]

    return Loaders(
        DataLoader(current_ids),
        DataLoader(owners),
        DataLoader(identifiers_of),
        DataLoader(identifiers),
        DataLoader(profiles),
        DataLoader(merges),
        DataLoader(splits),
        DataLoader(links_touching),
        DataLoader(timelines),
        DataLoader(facts),
        DataLoader(segment_states),
        DataLoader(segment_history),
        DataLoader(next_best_actions),
    )
