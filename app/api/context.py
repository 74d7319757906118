"""Per-request context: the services and one set of DataLoaders per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from app.bootstrap import Services
from app.stores.base import IdentifierRecord, MergeRecord


@dataclass
class Loaders:
    identifiers: DataLoader[str, list[IdentifierRecord]]
    merges: DataLoader[str, list[MergeRecord]]
    current_ids: DataLoader[str, str | None]


def make_loaders(services: Services) -> Loaders:
    store = services.store

    async def identifiers(ids: Sequence[str]) -> list[list[IdentifierRecord]]:
        found = await store.identifiers_of(ids)
        return [found.get(i, []) for i in ids]

    async def merges(ids: Sequence[str]) -> list[list[MergeRecord]]:
        found = await store.merges_into(ids)
        return [found.get(i, []) for i in ids]

    async def current_ids(ids: Sequence[str]) -> list[str | None]:
        found = await store.current_ids(ids)
        return [found.get(i) for i in ids]

    return Loaders(DataLoader(identifiers), DataLoader(merges), DataLoader(current_ids))


@dataclass
class Context:
    services: Services
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = make_loaders(self.services)
