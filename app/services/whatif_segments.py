"""The segment entries and exits a planned change would make, without writing it.

After a write, the segment service evaluates the pending checks the plan leaves
(app/domain/checks.py) with its ordinary decision (SegmentService.decide_in) on what the
store then holds. Here the same decision runs on a transaction whose reads answer with the
customers as the plan would leave them: the data of the customers before it (identifiers,
timelines, profile observations, segment states), regrouped by the plan's owners. So the
entries and exits are the ones apply reports, as long as the customers' timelines fit
the segment service's window (MAX_EVENTS events each).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from app.domain.checks import PendingCheck
from app.domain.effects import pending_checks
from app.domain.plan import IdentifierStatus, Plan
from app.domain.profile import Observation
from app.domain.segments.membership import MembershipChange
from app.services.segments import HISTORY, SegmentService
from app.stores.base import IdentityStore
from app.stores.values import (
    CustomerData,
    CustomerReads,
    EventRecord,
    IdentifierRecord,
    SegmentRecord,
)


@dataclass(slots=True)
class _After:
    """A SegmentTx reading the customers as a plan would leave them."""

    customers: list[str]
    pending: dict[str, PendingCheck]
    store: IdentityStore
    data: CustomerData = field(default_factory=CustomerData)

    async def read(self, reads: CustomerReads) -> CustomerData:
        return self.data

    async def definitions(self) -> list[SegmentRecord]:
        return list(await self.store.segment_definitions())


async def segment_effect(segments: SegmentService, store: IdentityStore, plan: Plan,
                         before: Mapping[str, str | None], after: Mapping[str, str | None],
                         now: str) -> list[MembershipChange]:
    """The segment entries and exits that evaluating `plan`'s checks would make, with
    `before` and `after` the identifiers' customers on either side of it."""
    checks = {c.customer_id: c for c in pending_checks(plan, now)}
    if not checks or not await store.segment_definitions():
        return []
    old_ids = {c for c in before.values() if c is not None}
    read = await store.read_customers(CustomerReads(
        identifiers=old_ids, observations=old_ids, timelines={HISTORY: old_ids},
        segment_states=old_ids | set(checks)))
    tx = _After(sorted(checks), checks, store)
    tx.data = await _regrouped(store, read, before, after)
    tx.data.segment_states = read.segment_states
    return list((await segments.decide_in(tx)).changes)


def entries_exits(changes: list[MembershipChange]) -> tuple[int, int]:
    entries = sum(1 for c in changes if c.change == "entered")
    return entries, len(changes) - entries


async def _regrouped(store: IdentityStore, read: CustomerData,
                     before: Mapping[str, str | None],
                     after: Mapping[str, str | None]) -> CustomerData:
    records: dict[str, IdentifierRecord] = {r.key: r for rs in read.identifiers.values()
                                            for r in rs}
    joining = [k for k, c in after.items() if c is not None and k not in records]
    records.update({k: r for k, r in (await store.identifiers(joining)).items()})
    data = CustomerData()
    identifiers: dict[str, list[IdentifierRecord]] = defaultdict(list)
    for key, cid in sorted(after.items()):
        if cid is not None and key in records:
            identifiers[cid].append(replace(records[key], customer_id=cid,
                                                  status=IdentifierStatus.ACTIVE))
    events: dict[str, EventRecord] = {e.event_id: e for es in read.timelines.get(
        HISTORY, {}).values() for e in es}
    owners_of: dict[str, set[str]] = {
        eid: {after[i.key] for i in e.identifiers if after.get(i.key) is not None}  # type: ignore[misc]
        for eid, e in events.items()}
    timelines: dict[str, list[EventRecord]] = defaultdict(list)
    for eid, event in events.items():
        for cid in owners_of[eid]:
            timelines[cid].append(event)
    for cid in timelines:
        timelines[cid].sort(key=lambda e: (e.timestamp, e.event_id), reverse=True)
    observations: dict[str, dict[str, Observation]] = defaultdict(dict)
    for found in read.observations.values():
        for obs in found:
            for cid in owners_of.get(obs.event_id, ()):
                observations[cid][obs.event_id] = obs
    data.identifiers = dict(identifiers)
    data.timelines = {HISTORY: dict(timelines)}
    data.observations = {c: list(o.values()) for c, o in observations.items()}
    return data
