"""The outbox half of the store port: change events written with the write that made
them, published from there at least once; and the segment checks a write leaves.

Every transaction that changes the graph or segment memberships appends its change events
to the outbox, numbered in commit order (`seq`). One publisher at a time drains it to the
changes topic: it holds a lease on the outbox cursor, publishes the changes after the
cursor, then moves the cursor (which deletes what it passed). A publisher that dies before
moving the cursor leaves its changes to be published again by the next holder: at least
once, in order, each with its change id for de-duplication.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.changes import Change, canonical, digest
from app.domain.checks import PendingCheck
from app.domain.segments.membership import MembershipChange
from app.stores.values import CustomerData, CustomerReads, SegmentRecord, SegmentState

# Pending checks evaluated per transaction.
CHECKS_PER_TRANSACTION = 500


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    newest: int  # seq of the newest change written (0: none yet)
    published: int  # seq up to which the changes were published
    unpublished: int  # changes after the cursor
    oldest_unpublished_at: str | None
    destination: str | None  # where the cursor's holder publishes
    holder: str | None
    lease_left_s: float  # seconds before the holder's lease runs out (<= 0: free)
    pending_checks: int  # customers waiting for their segment memberships to be evaluated


class SegmentTx(Protocol):
    """What a segment transaction offers its work: the customers to evaluate, their
    pending checks, and reads inside the transaction (under its locks)."""

    customers: list[str]
    pending: dict[str, PendingCheck]

    async def read(self, reads: CustomerReads) -> CustomerData: ...

    async def definitions(self) -> list[SegmentRecord]: ...


@dataclass(slots=True)
class SegmentWrite:
    """What a segment transaction saves: each customer's state (None: forget it, a
    customer merged away) and the membership changes, appended to the history and, as
    change events, to the outbox."""

    states: dict[str, SegmentState | None] = field(default_factory=dict)
    changes: list[MembershipChange] = field(default_factory=list)


SegmentWork = Callable[[SegmentTx], Awaitable[SegmentWrite]]


def outbox_rows(changes: Collection[Change]) -> list[tuple[str, str, str, str]]:
    """(change id, customer id, at, body) of each change, as the adapters store them: the
    body is the change's canonical JSON, which its id digests."""
    rows = []
    for change in changes:
        body = canonical(change)
        rows.append((change.id or digest(body), change.customer_id, change.at, body.decode()))
    return rows


def erased_texts(keys: Collection[str]) -> list[str]:
    """The erased identifier keys and their values, longest first (a key is replaced whole
    before its value is), to scrub from unpublished change events."""
    return sorted({t for k in keys for t in (k, k.partition(":")[2]) if t}, key=len,
                  reverse=True)


def outbox_change(change_id: str, body: str) -> Change:
    return Change.from_json(json.loads(body), change_id)


class OutboxPort(ABC):
    @abstractmethod
    async def segment_transaction(
        self, work: SegmentWork, customer_ids: Collection[str] | None = None, *,
        pending_only: bool = False, limit: int = CHECKS_PER_TRANSACTION,
        marked_until: str | None = None,
    ) -> SegmentWrite:
        """In one transaction, holding the customers' write locks: read their pending
        checks, let `work` read what it needs and decide, save its SegmentWrite and delete
        the checks read. `customer_ids` None: the `limit` oldest pending checks (those
        marked at or before `marked_until`, when given); with `pending_only`: the checks of
        these customers (a customer without one is left alone); else these customers,
        with their checks if they have any."""

    @abstractmethod
    async def pending_checks(self, customer_ids: Collection[str]) -> dict[str, PendingCheck]:
        """The pending checks of these customers."""

    @abstractmethod
    async def claim_outbox(self, holder: str, destination: str, lease_s: float) -> int | None:
        """Take or renew the publisher's lease for `lease_s` seconds (of the store's
        clock): the seq published so far, or None while another holder's lease runs."""

    @abstractmethod
    async def outbox_after(self, seq: int, limit: int) -> list[tuple[int, Change]]:
        """Up to `limit` changes numbered after `seq`, in order, each with its id."""

    @abstractmethod
    async def outbox_published(self, holder: str, through: int, lease_s: float) -> bool:
        """Move the cursor to `through` and delete the changes up to it, renewing the
        lease; False (nothing done) when `holder` no longer holds the lease."""

    @abstractmethod
    async def release_outbox(self, holder: str) -> None:
        """Give the lease up, so that another publisher takes over at once."""

    @abstractmethod
    async def outbox_status(self) -> OutboxStatus: ...
