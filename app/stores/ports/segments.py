"""Segments (docs/segments.md): definitions, each customer's memberships and their history.
The segment service keeps them right; the store only keeps them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence

from app.domain.segments.membership import Membership, MembershipChange
from app.stores.values import SegmentRecord, SegmentState


class SegmentPort(ABC):
    @abstractmethod
    async def segment_definitions(self) -> list[SegmentRecord]:
        """Every stored segment definition, by name."""

    @abstractmethod
    async def save_segment(self, record: SegmentRecord) -> None:
        """Create or replace the definition named `record.name`."""

    @abstractmethod
    async def delete_segment(self, name: str, changes: Sequence[MembershipChange]) -> None:
        """In one transaction: remove the definition and every current membership of it,
        and append `changes` (the members leaving) to the history."""

    @abstractmethod
    async def segment_states(self, customer_ids: Collection[str]) -> dict[str, SegmentState]:
        """The state of each customer that has one (customers never checked are missing)."""

    @abstractmethod
    async def save_segment_states(
        self, states: dict[str, SegmentState | None], changes: Sequence[MembershipChange]
    ) -> None:
        """In one transaction: replace each customer's state (None removes it and its
        memberships: a customer merged away) and append `changes` to the history."""

    @abstractmethod
    async def segment_members(
        self, segment: str, first: int, after: str | None
    ) -> list[tuple[str, Membership]]:
        """Up to `first` current members of the segment with id above `after`, by id."""

    @abstractmethod
    async def segment_sizes(self) -> dict[str, int]:
        """Current member count per segment (segments without members are missing)."""

    @abstractmethod
    async def membership_history(
        self, customer_ids: Collection[str], first: int
    ) -> dict[str, list[MembershipChange]]:
        """Each customer's latest `first` membership changes, newest first."""

    @abstractmethod
    async def erase_segment_data(self, customer_ids: Collection[str]) -> None:
        """Forget the customers' memberships, state and history (right to erasure)."""
