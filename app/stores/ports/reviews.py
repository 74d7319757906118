"""The review queue: candidate matches between the thresholds, for a steward to decide."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.plan import ReviewStatus
from app.stores.values import ReviewRecord


class ReviewPort(ABC):
    @abstractmethod
    async def reviews(self, first: int, after: int | None, status: ReviewStatus = ReviewStatus.OPEN
                      ) -> list[ReviewRecord]:
        """Review items with this status, oldest first, with id above `after`."""

    @abstractmethod
    async def review_count(self, status: ReviewStatus = ReviewStatus.OPEN) -> int:
        """How many review items have this status."""

    @abstractmethod
    async def review(self, review_id: int) -> ReviewRecord | None: ...
