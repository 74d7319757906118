"""The identity graph: every write goes through `transact`, which gathers a Snapshot, lets
the caller's pure `decide` turn it into a Plan, and applies the Plan, all in one
transaction. An adapter may run `decide` more than once (a retried deadlock), so `decide`
must not have side effects. The reads here are of the graph itself: identifiers and links
whatever their status, and the whole graph for verification."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Mapping

from app.domain.plan import (
    Component,
    CustomerInfo,
    Gather,
    NeedComponents,
    Plan,
    Receipt,
    Snapshot,
    StoredIdentifier,
)
from app.stores.errors import ComponentTooLarge
from app.stores.values import IdentifierRecord, LinkRecord, StoreStats

Decide = Callable[[Snapshot], Plan]
# A component larger than this many customers is not re-partitioned in one transaction.
MAX_COMPONENT_CUSTOMERS = 5_000


class GraphPort(ABC):
    @abstractmethod
    async def transact(self, gather: Gather, decide: Decide) -> Receipt:
        """Gather the Snapshot, decide (see decide_with_components), apply the plan; all in
        one transaction. The receipt holds the plan and what the store reports of it."""

    @abstractmethod
    async def identifiers(self, keys: Collection[str]) -> dict[str, IdentifierRecord]:
        """The stored identifiers with these keys, whatever their status."""

    @abstractmethod
    async def links_of(self, customer_id: str) -> list[LinkRecord]:
        """Every link that touches one of the customer's identifiers, whatever its status,
        ordered by (a, b)."""

    @abstractmethod
    async def links_touching(self, keys: Collection[str]) -> list[LinkRecord]:
        """Every link with an end among `keys`, whatever its status, ordered by (a, b)."""

    @abstractmethod
    async def links_with_status(self, status: str) -> list[tuple[str, str, str]]:
        """(a, b, reason) of every link with this status: what a rules change re-decides."""

    @abstractmethod
    async def membership(self) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
        """Every identifier's customer (None when inactive) and every active link: the
        whole graph, for verification."""

    @abstractmethod
    async def stats(self) -> StoreStats: ...

    @abstractmethod
    async def purge_erased(self) -> None:
        """After an erasure: make what it deleted unrecoverable from the store's own files
        (free pages, the space left in pages, a write-ahead log), where the store can."""


async def decide_with_components(
    snapshot: Snapshot,
    decide: Decide,
    gather: Callable[[set[str]], Awaitable[dict[str, Component]]],
    upfront: Collection[str] = (),
) -> Plan:
    """Run `decide`; whenever it asks for whole components, gather them and run it again.
    `upfront` components are gathered before the first run."""

    async def add(customer_ids: set[str]) -> None:
        if len(customer_ids) > MAX_COMPONENT_CUSTOMERS:
            raise ComponentTooLarge(
                f"re-evaluating {len(customer_ids)} customers at once exceeds "
                f"{MAX_COMPONENT_CUSTOMERS}; a hub may be missing from the rules"
            )
        for cid, component in (await gather(customer_ids)).items():
            snapshot.components[cid] = component
            snapshot.customers.setdefault(cid, component.customer or CustomerInfo(cid, ""))
            for key in component.identifiers:
                snapshot.owners.setdefault(key, cid)

    if upfront:
        await add(set(upfront))
    while True:
        try:
            return decide(snapshot)
        except NeedComponents as need:
            wanted = need.customer_ids - snapshot.components.keys()
            if not wanted:
                raise
            await add(wanted)


def add_neighbours(components: dict[str, Component],
                   neighbours: Mapping[str, StoredIdentifier]) -> None:
    """Give each component the identifiers at the far ends of its links that are not its
    own: from `neighbours` (owned by none of `components`) or from another of
    `components`. A component must not depend on what was gathered with it: resolution
    follows its neighbours to the customers it is decided with, and the Neo4j store reads
    every component gathered so far again, so a neighbour gathered later would vanish."""
    known = dict(neighbours)
    for component in components.values():
        known.update(component.identifiers)
    for component in components.values():
        for a, b in component.links:
            for key in (a, b):
                if key not in component.identifiers and key in known:
                    component.neighbours[key] = known[key]
