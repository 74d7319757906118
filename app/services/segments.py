"""Segments use case: definitions, memberships kept right on every change, batch refresh.

Memberships move one way only, `app.domain.segments.catch_up`: streaming (after each
ingest batch or steward action, for the customers it touched) and batch
(`idgraph segments refresh`, for everyone) both bring a customer from its last check to
now. A merge ends the absorbed customer's memberships ("merged into ...") and catches the
survivor up with everything it now holds; the parts of a split are evaluated as they are
at the split. The changes come back as `Change` objects (kinds segment_entered and
segment_left), which the callers publish with the other changes of the same write.

The membership writes follow the identity write in a second transaction: a process that
dies in between leaves memberships behind until the customer's next event or the next
refresh, which repair them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.domain.changes import Change
from app.domain.events import format_ts
from app.domain.plan import Plan
from app.domain.profile import build_profile
from app.domain.segments import (
    ENTERED,
    LEFT,
    MembershipChange,
    Segment,
    Vocabulary,
    catch_up,
    define_segment,
    delete_segment,
    merged,
    parse_segment,
    segment_deleted,
)
from app.domain.segments.evaluate import Catalogue
from app.domain.traits import CustomerFacts, TraitsConfig
from app.services.ingest import Clock, utc_now
from app.stores.base import IdentityStore, SegmentRecord, SegmentState

log = logging.getLogger("idgraph.segments")
# The most events read per customer to evaluate it: a customer's whole history, in practice.
MAX_EVENTS = 20_000
PAGE = 500
ENTERED_KIND, LEFT_KIND = "segment_entered", "segment_left"


def change_of(change: MembershipChange) -> Change:
    """A membership change as a change event for the outbound topic and subscriptions."""
    kind = ENTERED_KIND if change.change == ENTERED else LEFT_KIND
    return Change(kind, change.customer_id, change.at, (), (),
                  {"segment": change.segment, "why": list(change.why)})


async def customer_facts(store: IdentityStore, customer_ids: Collection[str]
                         ) -> dict[str, CustomerFacts]:
    """What segments, computed traits and models read of each current customer: its
    events, active identifiers, profile traits and consent."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    events = await store.timelines(ids, MAX_EVENTS)
    identifiers = await store.identifiers_of(ids)
    observations = await store.profile_observations(ids)
    return {
        cid: CustomerFacts.from_profile(
            cid,
            events.get(cid, ()),
            [i.key for i in identifiers.get(cid, ()) if i.status == "active"],
            build_profile(observations.get(cid, [])),
        )
        for cid in ids
    }


async def all_customers(store: IdentityStore, page: int = PAGE) -> AsyncIterator[list[str]]:
    after: str | None = None
    while ids := await store.customer_page(after, page):
        yield ids
        after = ids[-1]


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    record: SegmentRecord
    segment: Segment
    size: int


class SegmentService:
    def __init__(self, store: IdentityStore, *, traits: TraitsConfig | None = None,
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.traits = traits or TraitsConfig.default()
        self.clock = clock
        self._parsed: dict[tuple[str, str], Segment] = {}

    def now(self) -> str:
        return format_ts(self.clock())

    def vocabulary(self, names: Iterable[str]) -> Vocabulary:
        return Vocabulary.of(self.traits, segments=set(names))

    async def catalogue(self) -> dict[str, Segment]:
        """The stored definitions, parsed (each text once per process)."""
        return self._parse(await self.store.segment_definitions())

    def _parse(self, records: Sequence[SegmentRecord]) -> dict[str, Segment]:
        vocabulary = self.vocabulary(r.name for r in records)
        found: dict[str, Segment] = {}
        for record in records:
            key = (record.name, record.text)
            if key not in self._parsed:
                self._parsed[key] = parse_segment(record.name, record.text, vocabulary)
            found[record.name] = self._parsed[key]
        return found

    async def segments(self) -> list[SegmentInfo]:
        records = await self.store.segment_definitions()
        catalogue = self._parse(records)
        sizes = await self.store.segment_sizes()
        return [SegmentInfo(r, catalogue[r.name], sizes.get(r.name, 0)) for r in records]

    async def segment(self, name: str) -> SegmentInfo | None:
        return next((s for s in await self.segments() if s.record.name == name), None)

    # -- definitions -------------------------------------------------------------------
    async def define(self, name: str, text: str, *, update: bool = False
                     ) -> list[MembershipChange]:
        """Store a definition and evaluate every customer for it now; returns the
        membership changes. All or nothing: every customer is evaluated before anything
        is written, and the memberships are written in one transaction, so a failure
        (SegmentError pointing at the fault, or any other) leaves the segments as they
        were."""
        records = {r.name: r for r in await self.store.segment_definitions()}
        before = self._parse(list(records.values()))
        after = define_segment(before, name, text, self.vocabulary(before), update=update)
        now = self.now()
        states: dict[str, SegmentState | None] = {}
        changes: list[MembershipChange] = []
        async for ids in all_customers(self.store):
            page_states, page_changes = await self._decide(ids, now, before, after, ())
            states |= page_states
            changes += page_changes
        previous = records.get(name)
        created = previous.created_at if previous else now
        await self.store.save_segment(SegmentRecord(name, text, created, now))
        try:
            await self.store.save_segment_states(states, changes)
        except BaseException as exc:
            await self._restore(name, previous, exc)
            raise
        return changes

    async def _restore(self, name: str, previous: SegmentRecord | None,
                       cause: BaseException) -> None:
        """Undo a definition whose memberships could not be written (their transaction
        rolled back, so the definition is all there is to undo). If the store refuses that
        too, say so: the caller sees the first failure."""
        try:
            if previous is None:
                await self.store.delete_segment(name, [])
            else:
                await self.store.save_segment(previous)
        except Exception as undo:
            log.error("segment %s: its memberships were not written (%s: %s) and its "
                      "definition could not be put back (%s: %s); define or update it again",
                      name, type(cause).__name__, cause, type(undo).__name__, undo)

    async def delete(self, name: str) -> list[MembershipChange]:
        """Remove a definition (refused while another segment reads it); its members
        leave it now."""
        before = await self.catalogue()
        delete_segment(before, name)  # raises SegmentError when it cannot be deleted
        now = self.now()
        members: list[str] = []
        after: str | None = None
        while page := await self.store.segment_members(name, 1000, after):
            members += [cid for cid, _ in page]
            after = page[-1][0]
        changes = segment_deleted(name, members, now)
        await self.store.delete_segment(name, changes)
        return changes

    # -- keeping memberships right -------------------------------------------------------
    async def refresh(self, customer_ids: Collection[str] | None = None, *,
                      now: str | None = None, before: Catalogue | None = None,
                      after: Catalogue | None = None, split_parts: Collection[str] = ()
                      ) -> list[MembershipChange]:
        """Bring customers (everyone when None) up to date at `now`.

        With `before` and `after` (a definition changed), each customer is first caught
        up under the old definitions, then the new ones are applied at `now`, so the
        change is dated when it was made. `split_parts` are new customers from a split:
        evaluated as they are now, without replaying their past."""
        now = now or self.now()
        after = await self.catalogue() if after is None else after
        if not after and not before:
            return []
        changes: list[MembershipChange] = []
        if customer_ids is None:
            async for ids in all_customers(self.store):
                changes += await self._refresh(ids, now, before, after, split_parts)
        elif customer_ids:
            ids = sorted(set(customer_ids))
            for start in range(0, len(ids), PAGE):
                changes += await self._refresh(ids[start:start + PAGE], now, before, after,
                                               split_parts)
        return changes

    async def _refresh(self, ids: Sequence[str], now: str, before: Catalogue | None,
                       after: Catalogue, split_parts: Collection[str]
                       ) -> list[MembershipChange]:
        saved, changes = await self._decide(ids, now, before, after, split_parts)
        await self.store.save_segment_states(saved, changes)
        return changes

    async def _decide(self, ids: Sequence[str], now: str, before: Catalogue | None,
                      after: Catalogue, split_parts: Collection[str]
                      ) -> tuple[dict[str, SegmentState | None], list[MembershipChange]]:
        """The customers' new states and membership changes at `now`; writes nothing."""
        facts = await customer_facts(self.store, ids)
        states = await self.store.segment_states(ids)
        changes: list[MembershipChange] = []
        saved: dict[str, SegmentState | None] = {}
        for cid in ids:
            state = states.get(cid, SegmentState({}))
            checked_at = now if cid in split_parts else state.checked_at
            memberships = state.memberships
            if before is not None:
                old = catch_up(before, facts[cid], memberships, checked_at, now,
                               traits=self.traits)
                changes += old.changes
                memberships, checked_at = old.memberships, now
            done = catch_up(after, facts[cid], memberships, checked_at, now,
                            traits=self.traits)
            changes += done.changes
            saved[cid] = SegmentState(done.memberships, done.checked_at, done.next_check)
        return saved, changes

    async def after_plan(self, plan: Plan, now: str | None = None) -> list[Change]:
        """Re-evaluate what a write touched: its customers, the survivors of its merges
        (the absorbed leave their segments), the parts of its splits."""
        catalogue = await self.catalogue()
        if not catalogue or not plan:
            return []
        now = now or self.now()
        absorbed = {m.absorbed: m.survivor for m in [*plan.merges, *plan.renames]}
        changes: list[MembershipChange] = []
        if absorbed:
            states = await self.store.segment_states(absorbed)
            left = [c for cid, survivor in sorted(absorbed.items()) if cid in states
                    for c in merged(cid, survivor, states[cid].memberships, now)]
            await self.store.save_segment_states(dict.fromkeys(absorbed), left)
            changes += left
        parts = {p for s in plan.splits for p in s.parts}
        touched = plan.affected_customers - set(absorbed)
        changes += await self.refresh(touched, now=now, after=catalogue, split_parts=parts)
        return [change_of(c) for c in changes]

    async def forget(self, customer_ids: Collection[str], now: str | None = None
                     ) -> list[Change]:
        """Erase the customers' memberships and history; the exits are returned (not
        stored), so that audiences downstream drop the customers too."""
        at = now or self.now()
        states = await self.store.segment_states(customer_ids)
        await self.store.erase_segment_data(customer_ids)
        return [change_of(MembershipChange(cid, segment, LEFT, at,
                                           ("the customer was erased",)))
                for cid, state in sorted(states.items()) for segment in sorted(state.memberships)]

    # -- reading -----------------------------------------------------------------------
    async def memberships(self, customer_ids: Collection[str]) -> Mapping[str, SegmentState]:
        return await self.store.segment_states(customer_ids)

    async def history(self, customer_ids: Collection[str], first: int
                      ) -> dict[str, list[MembershipChange]]:
        return await self.store.membership_history(customer_ids, first)
