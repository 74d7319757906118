"""What customers did: their events, newest first, in pages, and the observations (traits
and consent) that their profiles are built from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection

from app.domain.profile import Observation
from app.stores.values import Cursor, EventRecord, TimelineWindow

_NEWEST: Cursor = ("\uffff", "")  # a cursor before every event


class TimelinePort(ABC):
    @abstractmethod
    async def timeline(
        self, customer_id: str, first: int, after: Cursor | None
    ) -> list[EventRecord]:
        """Up to `first` of the customer's events older than `after`, newest first."""

    async def timelines(
        self,
        customer_ids: Collection[str],
        first: int,
        after: Cursor | None = None,
        *,
        types: Collection[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, list[EventRecord]]:
        """For each customer, up to `first` of its events older than `after`, newest first;
        only events of `types` (when given) with since <= timestamp < until. One round trip
        in an adapter that overrides it (the API batches timelines through it); this
        default pages through `timeline` customer by customer."""
        start = min(after or _NEWEST, (until, "") if until is not None else _NEWEST)
        found: dict[str, list[EventRecord]] = {}
        for cid in customer_ids:
            events: list[EventRecord] = []
            cursor: Cursor | None = None if start == _NEWEST else start
            while len(events) < first:
                page = await self.timeline(cid, max(first, 50), cursor)
                events += [e for e in page if (not types or e.type in types)
                           and (since is None or e.timestamp >= since)]
                if len(page) < max(first, 50) or (since and page[-1].timestamp < since):
                    break
                cursor = page[-1].cursor
            if events:
                found[cid] = events[:first]
        return found

    @abstractmethod
    async def timeline_counts(self, customer_ids: Collection[str], window: TimelineWindow
                              ) -> dict[str, int]:
        """For each customer with any, how many of its events `timelines` selects with the
        window's filters (types, since, until), all pages together: its page is ignored."""

    @abstractmethod
    async def events(self, event_ids: Collection[str]) -> dict[str, EventRecord]:
        """The stored events of these ids (ids of no stored event are missing)."""

    @abstractmethod
    async def profile_observations(
        self, customer_ids: Collection[str]
    ) -> dict[str, list[Observation]]:
        """The traits and consent of every event of each customer that carries them."""
