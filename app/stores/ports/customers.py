"""Customers as they are now, and how they came to be: current ids (following merges),
owners of identifiers, each customer's identifiers, and its merge and split history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection

from app.domain.plan import Merge, Split
from app.stores.values import IdentifierRecord


class CustomerPort(ABC):
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
    async def customer_page(self, after: str | None, limit: int) -> list[str]:
        """Current customer ids in id order, after `after`."""

    @abstractmethod
    async def splits_of(self, customer_ids: Collection[str]) -> dict[str, list[Split]]:
        """The splits recorded for each customer (or a customer merged into it), oldest
        first."""

    @abstractmethod
    async def merges_into(self, customer_ids: Collection[str]) -> dict[str, list[Merge]]:
        """The merges recorded with each customer as the survivor, oldest first."""
