"""Per-request DataLoaders: every read a query repeats per customer or identifier is
batched into one store call per field, whatever the number of customers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from app.bootstrap import Services
from app.domain.profile import Profile
from app.stores.base import (
    Cursor,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    MergeRecord,
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
    )
