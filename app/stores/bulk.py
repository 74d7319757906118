"""The bulk port: what a rebuild needs of a store besides the IdentityStore port.

- `export` reads what the store holds, table by table, in batches (for a rebuild over a
  store with data);
- `fingerprint` tells whether the store changed while the rebuild ran (a loader wrote, a
  steward acted): the switch is refused then, and the rebuild can be run again;
- `switch` applies a rebuild's plans, in order, with the adapter's own `_apply`: on SQLite
  in one transaction (a rebuild killed before its commit leaves the store as it was); on
  Neo4j in batches of one transaction each, journaled in a Rebuild node, so that a switch
  killed half-way is finished by the next run (`pending_switch`);
- `record` keeps what a rebuild covered (its inputs and the Kafka offsets they reach), which
  `idgraph consume` starts from (`positions`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.plan import Plan
from app.stores.errors import StoreError

Row = dict[str, Any]
# Each table `export` reads, with its columns (and their types, for the Parquet files).
EXPORTS: dict[str, dict[str, str]] = {
    "identifiers": {"key": "string", "type": "string", "value": "string",
                    "first_seen": "string", "first_event": "string", "status": "string",
                    "reason": "string", "customer_id": "string"},
    "links": {"a": "string", "b": "string", "first_seen": "string", "first_event": "string",
              "sources": "list<string>", "status": "string", "reason": "string"},
    "customers": {"id": "string", "first_seen": "string", "first_event": "string",
                  "first_key": "string", "settled": "string", "merged_into": "string",
                  "erased": "bool"},
    "history": {"current": "string", "absorbed": "string", "survivor": "string",
                "at": "string", "event_id": "string", "reason": "string", "seq": "int64"},
    "bans": {"a": "string", "b": "string"},
    "event_ids": {"event_id": "string"},
}


class StoreChanged(StoreError):
    """The store changed while the rebuild ran; nothing was switched. Stop the loaders and
    stewards' writes, and run the rebuild again."""


class SwitchPending(StoreError):
    """An earlier rebuild's switch was cut off half-way; it must be finished first."""


@dataclass(frozen=True, slots=True)
class RebuildRecord:
    id: str
    started_at: str
    finished_at: str
    inputs: list[str]  # files read, or "store", or "kafka:topic"
    # topic -> partition -> the next offset a consumer reads (what the rebuild covered)
    positions: dict[str, dict[int, int]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Switch:
    """A rebuild's switch: its plans in order, each numbered (`step`), and what it records
    when it is done."""

    record: RebuildRecord
    fingerprint: str
    staging: str  # where its plans are read from, to finish it if it is cut off
    plan_rows: int  # rows a plan: the same plans are made again to finish it
    plans: Iterable[tuple[int, Plan]]
    # called with each step once it is applied (tests kill the process there)
    applied: Callable[[int], None] | None = None


@dataclass(frozen=True, slots=True)
class PendingSwitch:
    """A switch cut off half-way: the steps it applied, and how to make its plans again."""

    id: str
    staging: str
    now: str
    plan_rows: int
    done: int


class BulkStore(ABC):
    @abstractmethod
    async def is_empty(self) -> bool:
        """Whether the store holds no event, identifier or customer."""

    @abstractmethod
    async def fingerprint(self) -> str:
        """Changes whenever a write changes what a rebuild reads."""

    @abstractmethod
    def export(self, table: str) -> AsyncIterator[list[Row]]:
        """The rows of one of EXPORTS' tables, in batches."""

    @abstractmethod
    async def suppressed(self) -> dict[str, str]:
        """The suppression list: hash -> when erased."""

    @abstractmethod
    async def switch(self, switch: Switch) -> None:
        """Apply the plans (raises StoreChanged when the fingerprint differs), then record
        the rebuild."""

    @abstractmethod
    async def pending_switch(self) -> PendingSwitch | None:
        """A switch cut off half-way, if any."""

    @abstractmethod
    async def resume(self, pending: PendingSwitch, plans: Iterable[tuple[int, Plan]],
                     finished_at: str) -> None:
        """Apply the rest of a switch cut off half-way (its plans after `pending.done`)."""

    @abstractmethod
    async def positions(self) -> Mapping[str, dict[int, int]]:
        """The Kafka offsets the latest rebuild that read a topic covered, per topic."""
