"""Verify and repair use case: `idgraph resolve --verify [--repair]`."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.clock import Clock, utc_now
from app.domain.effects import changes_of, with_checks
from app.domain.events import format_ts
from app.domain.plan import Gather, Plan, Snapshot
from app.domain.resolution import DEFAULT_RULES, resolve_components
from app.domain.rules import Rules
from app.domain.verify import Drift, find_drift
from app.services.segments import MembershipReport, SegmentService
from app.stores.base import IdentityStore


@dataclass(slots=True)
class VerifyReport:
    identifiers: int
    links: int
    drift: list[Drift] = field(default_factory=list)
    repaired: int = 0
    # with a segment service: stale memberships and pending checks
    memberships: MembershipReport | None = None


class VerifyService:
    def __init__(
        self,
        store: IdentityStore,
        *,
        rules: Rules = DEFAULT_RULES,
        clock: Clock = utc_now,
        segments: SegmentService | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.segments = segments

    async def verify(self, repair: bool = False) -> VerifyReport:
        owners, links = await self.store.membership()
        report = VerifyReport(len(owners), len(links), find_drift(owners, links))
        if repair:
            for drift in report.drift:
                await self._repair(drift)
                report.repaired += 1
        if self.segments is not None:
            # after the graph's repair, whose re-partitioned customers it re-evaluates
            report.memberships = await self.segments.verify(repair)
        return report

    async def _repair(self, drift: Drift) -> None:
        """Re-partition the drifted customers from their stored links, under the rules; the
        changes are published and the customers' memberships re-evaluated like any
        write's."""
        now = format_ts(self.clock())
        customers = frozenset(drift.customers)

        def decide(snapshot: Snapshot) -> Plan:
            plan = Plan()
            resolve_components(
                set(customers),
                snapshot,
                plan,
                self.rules,
                now,
                reason="idgraph resolve --repair re-partitioned a drifted component",
            )
            plan.changes = changes_of(plan, snapshot.owners, now)
            return with_checks(plan, now)

        plan = (await self.store.transact(Gather(customers=customers), decide)).plan
        if self.segments is not None:
            await self.segments.after_plan(plan)
