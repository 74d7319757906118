"""The read side (cosmicpython's views.py): every read the API makes outside a use case, in
one place. The use cases write (gather -> decide -> apply); the API reads through here,
never through the store itself, so what it reads, and from which store interface, is
listed once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from app.domain.plan import Merge, Split
from app.domain.search import DEFAULT_BOUNDS, SearchBounds
from app.domain.segments import Membership
from app.domain.traits import CustomerFacts
from app.services.customers import SearchHit, search_customers
from app.services.segments import customer_facts
from app.stores import readmodel
from app.stores.base import IdentityStore
from app.stores.values import (
    AuditRecord,
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    LinkRecord,
    ReviewRecord,
    TimelineWindow,
)


class Views:
    def __init__(self, store: IdentityStore, *, read_model: bool = True) -> None:
        self.store = store
        # serve the reads the profile documents hold from them (app/stores/readmodel.py);
        # off: every read from the graph (the benchmark's baseline)
        self.read_model = read_model

    # -- customers, following merges (CustomerPort) -----------------------------------
    async def current_ids(self, customer_ids: Collection[str]) -> dict[str, str]:
        """Each known customer id, current or merged away, to its current id."""
        return await self.store.current_ids(customer_ids)

    async def owners(self, keys: Collection[str]) -> dict[str, str]:
        return await self.store.owners(keys)

    async def owners_and_documents(self, keys: Collection[str]
                                   ) -> tuple[dict[str, str], dict[str, str]]:
        """`owners`, and with the read model the profile documents of those owners, read
        in the same lookup (customer_data takes them as `prefetched`)."""
        if not self.read_model:
            return await self.store.owners(keys), {}
        found = await self.store.owner_documents(keys)
        return ({key: cid for key, (cid, _) in found.items()},
                {cid: body for cid, body in found.values() if body is not None})

    async def merges(self, customer_ids: Collection[str]) -> dict[str, list[Merge]]:
        return await self.store.merges_into(customer_ids)

    async def splits(self, customer_ids: Collection[str]) -> dict[str, list[Split]]:
        return await self.store.splits_of(customer_ids)

    # -- the graph (GraphPort) --------------------------------------------------------
    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        return await self.store.identifiers(keys)

    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        return await self.store.links_touching(keys)

    # -- what customers hold and did, read together -----------------------------------
    async def customer_data(self, reads: CustomerReads,
                            prefetched: Mapping[str, str] = MappingProxyType({})
                            ) -> CustomerData:
        """The identifiers, profile observations, timeline pages and segment states that a
        query's customer fields ask for at the same moment: the profile documents of the
        customers (one key lookup), and from the graph what they do not hold (one round
        trip on Neo4j). `prefetched`: documents read already (owners_and_documents)."""
        if not self.read_model:
            return await self.store.read_customers(reads)
        wanted = readmodel.customers_of(reads)
        stored = {cid: prefetched[cid] for cid in wanted if cid in prefetched}
        if missing := wanted - stored.keys():
            stored.update(await self.store.profile_documents(missing))
        data, rest = readmodel.serve(reads, stored)
        if readmodel.any_reads(rest):
            readmodel.combine(data, await self.store.read_customers(rest))
        return data

    async def events(self, event_ids: Collection[str]) -> dict[str, EventRecord]:
        return await self.store.events(event_ids)

    async def timeline_counts(self, customer_ids: Collection[str], window: TimelineWindow
                              ) -> dict[str, int]:
        """How many events each customer's timeline holds with the window's filters."""
        return await self.store.timeline_counts(customer_ids, window)

    async def facts(self, customer_ids: Collection[str]) -> dict[str, CustomerFacts]:
        """What computed traits read of each customer (services.segments.customer_facts)."""
        return await customer_facts(self.store, customer_ids)

    async def search(self, query: str, first: int, bounds: SearchBounds = DEFAULT_BOUNDS,
                     min_score: float = 0.0) -> list[SearchHit]:
        return await search_customers(self.store, query, first, bounds, min_score)

    # -- the review queue and segments ------------------------------------------------
    async def reviews(self, first: int, after: int | None) -> list[ReviewRecord]:
        """Open review items, oldest first, with id above `after`."""
        return await self.store.reviews(first, after)

    async def review_count(self) -> int:
        """How many review items are open."""
        return await self.store.review_count()

    async def audit_count(self) -> int:
        return await self.store.audit_count()

    async def audit_entry(self, seq: int) -> AuditRecord | None:
        return await self.store.audit_entry(seq)

    def node_secret(self) -> bytes:
        """The secret global ids that hold personal values are sealed with: the store's
        suppression key, the same for every process of the store (app/api/node_ids.py
        derives its own keys from it)."""
        return self.store.suppression.secret

    async def segment_members(self, segment: str, first: int, after: str | None
                              ) -> list[tuple[str, Membership]]:
        return await self.store.segment_members(segment, first, after)
