"""The profile read model (app/stores/readmodel.py): one document per customer, rewritten
by every write in its transaction, read with one key lookup."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection


class ReadModelPort(ABC):
    @abstractmethod
    async def profile_documents(self, customer_ids: Collection[str]) -> dict[str, str]:
        """The stored document of each customer that has one."""

    @abstractmethod
    async def owner_documents(self, keys: Collection[str]) -> dict[str, tuple[str, str | None]]:
        """Each owned identifier's customer and that customer's document (None when it
        has none), read together: `customerByIdentifier` in one key lookup."""

    @abstractmethod
    async def build_profile_documents(self, customer_ids: Collection[str]) -> int:
        """Write the documents of these customers from the graph, in one transaction under
        their locks (the backfill of a store written before the read model); how many
        customers have one now."""
