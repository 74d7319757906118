"""Per-request DataLoaders: every read a query repeats per customer or identifier is
batched into one store call per field, whatever the number of customers.

`facts` (events, identifiers, profile) feeds the computed traits; nextBestAction reads
the same facts again inside the marketing service, so asking for both reads them twice."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from app.bootstrap import Services
from app.domain.nba import Recommendation
from app.domain.profile import Profile
from app.domain.segments import MembershipChange
from app.domain.traits import CustomerFacts
from app.services.marketing import NoModel
from app.services.segments import customer_facts
from app.stores.base import (
    Cursor,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    MergeRecord,
    SegmentState,
    SplitRecord,
)


@dataclass(frozen=True, slots=True)
class TimelineKey:
    customer_id: str
    first: int
    after: Cursor | None = None
    types: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    @property
    def page(self) -> tuple[Any, ...]:
        return (self.first, self.after, self.types, self.since, self.until)


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

    async def current_ids(ids: Sequence[str]) -> list[str | None]:
        found = await store.current_ids(ids)
        return [found.get(i) for i in ids]

    async def owners(keys: Sequence[str]) -> list[str | None]:
        found = await store.owners(keys)
        return [found.get(k) for k in keys]

    async def identifiers_of(ids: Sequence[str]) -> list[list[IdentifierRecord]]:
        found = await store.identifiers_of(ids)
        return [found.get(i, []) for i in ids]

    async def identifiers(keys: Sequence[str]) -> list[IdentifierRecord | None]:
        found = await store.identifiers(keys)
        return [found.get(k) for k in keys]

    async def profiles(ids: Sequence[str]) -> list[Profile]:
        found = await services.customers.profiles(list(ids))
        return [found[i] for i in ids]

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
        # One store call per distinct page shape; a query asks for one or a few.
        pages: dict[tuple[Any, ...], dict[str, list[EventRecord]]] = {}
        for shape in {k.page for k in keys}:
            first, after, types, since, until = shape
            ids = sorted({k.customer_id for k in keys if k.page == shape})
            pages[shape] = await store.timelines(ids, first, after, types=types, since=since,
                                                 until=until)
        return [pages[k.page].get(k.customer_id, []) for k in keys]

    async def facts(ids: Sequence[str]) -> list[CustomerFacts]:
        found = await customer_facts(store, ids)
        return [found[i] for i in ids]

    async def segment_states(ids: Sequence[str]) -> list[SegmentState | None]:
        found = await services.segments.memberships(ids)
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
