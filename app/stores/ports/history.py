"""The history half of the store port: the stored events read back in event time, and the
suppression list carried from one store to another. As-of queries and replay
(app/services/asof.py, app/services/replay.py) rebuild customers from these reads
through the ordinary services."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence

from app.domain.privacy import SuppressionKey
from app.stores.values import Cursor, EventRecord

# (hash, erased at): one row of the suppression list; a hash is keyed (app/domain/privacy.py)
Suppression = tuple[str, str]


class HistoryPort(ABC):
    # The secret the suppression list's hashes are keyed with; never stored in the store.
    suppression: SuppressionKey

    @abstractmethod
    async def events_observing(self, keys: Collection[str], until: str, limit: int
                               ) -> list[EventRecord]:
        """Up to `limit` events that observed any of `keys` with timestamp <= `until`,
        each once, oldest first (timestamp, then event id)."""

    @abstractmethod
    async def events_after(self, after: Cursor | None, limit: int, until: str | None = None
                           ) -> list[EventRecord]:
        """Up to `limit` stored events after the (timestamp, event id) cursor, oldest
        first; only those with timestamp <= `until` when it is given."""

    @abstractmethod
    async def suppressions(self) -> list[Suppression]:
        """The whole suppression list, by hash."""

    @abstractmethod
    async def add_suppressions(self, rows: Sequence[Suppression]) -> None:
        """Put these hashes on the suppression list (a hash already on it keeps its
        time). The hashes must be made with this store's suppression key."""
