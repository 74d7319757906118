"""The IdentityStore port: what every store adapter provides, one narrow interface per
concern (app/stores/ports/, and the outbox's in app/stores/outbox.py) combined. Use cases
and the read side may ask for no more than the interfaces they use."""

from __future__ import annotations

from abc import ABC

from app.stores.outbox import OutboxPort
from app.stores.ports import (
    AuditPort,
    CustomerPort,
    GraphPort,
    HistoryPort,
    LifecyclePort,
    ModelPort,
    ReadModelPort,
    ReviewPort,
    SearchPort,
    SegmentPort,
    TimelinePort,
)
from app.stores.values import CustomerData, CustomerReads


class IdentityStore(LifecyclePort, GraphPort, CustomerPort, TimelinePort, HistoryPort,
                    SegmentPort, ReviewPort, AuditPort, ModelPort, SearchPort, OutboxPort,
                    ReadModelPort, ABC):
    async def read_customers(self, reads: CustomerReads) -> CustomerData:
        """Every read of `reads`, answered as the methods named in CustomerData answer
        them. One round trip in an adapter that overrides it (the API makes the reads of a
        query's customer fields through it); this default makes them one by one."""
        data = CustomerData()
        if reads.identifiers:
            data.identifiers = await self.identifiers_of(reads.identifiers)
        if reads.observations:
            data.observations = await self.profile_observations(reads.observations)
        for window, ids in reads.timelines.items():
            data.timelines[window] = await self.timelines(
                ids, window.first, window.after, types=window.types, since=window.since,
                until=window.until)
        if reads.segment_states:
            data.segment_states = await self.segment_states(reads.segment_states)
        return data
