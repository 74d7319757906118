"""Verify and repair use case: `idgraph resolve --verify [--repair]`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.events import format_ts
from app.domain.plan import Gather, Plan
from app.domain.resolution import DEFAULT_RULES, resolve_components
from app.domain.rules import Rules
from app.domain.verify import Drift, find_drift
from app.services.ingest import utc_now
from app.stores.base import IdentityStore


@dataclass(slots=True)
class VerifyReport:
    identifiers: int
    links: int
    drift: list[Drift] = field(default_factory=list)
    repaired: int = 0


class VerifyService:
    def __init__(
        self,
        store: IdentityStore,
        *,
        rules: Rules = DEFAULT_RULES,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    async def verify(self, repair: bool = False) -> VerifyReport:
        owners, links = await self.store.membership()
        report = VerifyReport(len(owners), len(links), find_drift(owners, links))
        if repair:
            for drift in report.drift:
                await self._repair(drift)
                report.repaired += 1
        return report

    async def _repair(self, drift: Drift) -> None:
        """Re-partition the drifted customers from their stored links, under the rules."""
        now = format_ts(self.clock())
        customers = frozenset(drift.customers)

        def decide(snapshot):  # type: ignore[no-untyped-def]
            plan = Plan()
            resolve_components(
                set(customers),
                snapshot,
                plan,
                self.rules,
                now,
                reason="idgraph resolve --repair re-partitioned a drifted component",
            )
            return plan

        await self.store.transact(Gather(customers=customers), decide)
