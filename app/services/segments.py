"""Segments use case: definitions, memberships kept right on every change, batch refresh.

Memberships move one way only, `app.domain.segments.catch_up`: streaming (after each
ingest batch or steward action, for the customers it touched) and batch
(`idgraph segments refresh`, for everyone) both bring a customer from its last check to
now. A merge ends the absorbed customer's memberships ("merged into ...") and catches the
survivor up with everything it now holds; the parts of a split are evaluated as they are
at the split.

Every evaluation is one store transaction (`segment_transaction`): it reads the customers'
facts, check times and the definitions under the customers' write locks, decides, and
saves memberships, history and their change events (to the outbox) together. A write
that touches customers records pending checks for them in its own transaction
(app/domain/checks.py); `after_plan` evaluates them right after the commit, and `settle`
evaluates those that a process which died in between left behind. So a crash at any point
leaves a durable list of what to re-evaluate, never stale memberships without one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import timedelta

import anyio
import anyio.lowlevel

from app.clock import Clock, utc_now
from app.domain.changes import Change, membership_change
from app.domain.checks import PendingCheck
from app.domain.events import format_ts
from app.domain.plan import Plan
from app.domain.profile import Observation, build_profile
from app.domain.segments import (
    DefinitionLimits,
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
from app.domain.segments.membership import stale
from app.domain.traits import CustomerFacts, EventLike, TraitsConfig
from app.stores.base import IdentityStore
from app.stores.outbox import SegmentTx, SegmentWrite
from app.stores.values import (
    CustomerData,
    CustomerReads,
    IdentifierRecord,
    SegmentRecord,
    SegmentState,
    TimelineWindow,
)

log = logging.getLogger("idgraph.segments")
# The most events read per customer to evaluate it: a customer's whole history, in practice.
MAX_EVENTS = 20_000
PAGE = 500
# A membership transaction evaluates its customers on the event loop (the embedded store's
# connection is the transaction, so nothing else may run meanwhile): each one takes as
# many customers as took about this long in the one before, and the loop serves other
# requests between them.
LOOP_HOLD_S = 0.05
timer = time.perf_counter
HISTORY = TimelineWindow(MAX_EVENTS)
# A pending check older than this was left by a process that died before evaluating it:
# `settle(orphaned_only=True)` takes it over; younger ones are their writer's to evaluate.
ORPHANED_AFTER = timedelta(seconds=10)


def facts_of(customer_ids: Iterable[str], events: Mapping[str, Sequence[EventLike]],
             identifiers: Mapping[str, Sequence[IdentifierRecord]],
             observations: Mapping[str, list[Observation]]) -> dict[str, CustomerFacts]:
    """What segments, computed traits and models read of each customer: its events,
    active identifiers, profile traits and consent."""
    return {
        cid: CustomerFacts.from_profile(
            cid,
            events.get(cid, ()),
            [i.key for i in identifiers.get(cid, ()) if i.status == "active"],
            build_profile(observations.get(cid, [])),
        )
        for cid in customer_ids
    }


async def customer_facts(store: IdentityStore, customer_ids: Collection[str]
                         ) -> dict[str, CustomerFacts]:
    """The facts (facts_of) of current customers."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    events = await store.timelines(ids, MAX_EVENTS)
    identifiers = await store.identifiers_of(ids)
    observations = await store.profile_observations(ids)
    return facts_of(ids, events, identifiers, observations)


async def facts_and_states(read: Callable[[CustomerReads], Awaitable[CustomerData]],
                           current: Collection[str], others: Collection[str] = ()
                           ) -> tuple[dict[str, CustomerFacts], dict[str, SegmentState]]:
    """In one read: the facts of the `current` customers, and the segment states of those
    and of `others` (customers merged away, whose facts are their survivor's)."""
    ids = set(current)
    data = await read(CustomerReads(identifiers=ids, observations=ids,
                                    timelines={HISTORY: ids} if ids else {},
                                    segment_states=ids | set(others)))
    facts = facts_of(sorted(ids), data.timelines.get(HISTORY, {}), data.identifiers,
                     data.observations)
    return facts, data.segment_states


@dataclass(slots=True)
class _ReadOnly:
    """A SegmentTx that reads outside any transaction and is never saved: to evaluate a
    definition before storing it."""

    customers: list[str]
    pending: dict[str, PendingCheck]
    store: IdentityStore

    async def read(self, reads: CustomerReads) -> CustomerData:
        return await self.store.read_customers(reads)

    async def definitions(self) -> list[SegmentRecord]:
        return list(await self.store.segment_definitions())


async def all_customers(store: IdentityStore, page: int = PAGE) -> AsyncIterator[list[str]]:
    after: str | None = None
    while ids := await store.customer_page(after, page):
        yield ids
        after = ids[-1]


class _Pace:
    """Splits customers into the parts that successive membership transactions evaluate:
    the first part is one customer, and each next one as large as fits LOOP_HOLD_S at the
    pace of the one before (at most twice as large, and at most PAGE). Between parts the
    event loop runs other tasks."""

    def __init__(self) -> None:
        self.size = 1

    async def parts(self, ids: Sequence[str]) -> AsyncIterator[Sequence[str]]:
        start = 0
        while start < len(ids):
            part = ids[start:start + self.size]
            began = timer()
            yield part
            per_customer = max(timer() - began, 1e-6) / len(part)
            # at most twice as many: customers without events make a poor guide
            self.size = max(1, min(PAGE, 2 * len(part), int(LOOP_HOLD_S / per_customer)))
            start += len(part)
            # the embedded store never suspends a transaction: let the others in
            await anyio.lowlevel.checkpoint()


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    record: SegmentRecord
    segment: Segment
    size: int


@dataclass(frozen=True, slots=True)
class StaleMembership:
    """A customer whose stored memberships are not what the definitions give for what it
    holds, at its last check (app.domain.segments.membership.stale)."""

    customer_id: str
    missing: tuple[str, ...]  # segments it belongs in and is not in
    extra: tuple[str, ...]  # segments it is in and does not belong in
    checked_at: str | None  # None: never evaluated (then judged as of now)


@dataclass(slots=True)
class MembershipReport:
    customers: int = 0
    stale: list[StaleMembership] = field(default_factory=list)
    pending: int = 0  # pending checks: customers a write left to re-evaluate
    repaired: int = 0


class SegmentService:
    def __init__(self, store: IdentityStore, *, traits: TraitsConfig | None = None,
                 clock: Clock = utc_now) -> None:
        self.store = store
        self.traits = traits or TraitsConfig.default()
        self.clock = clock
        self._parsed: dict[tuple[str, str], Segment] = {}
        # the pace of the writes' checks, kept from one write to the next: their cost per
        # customer changes with the definitions only (a refresh learns its own from one)
        self._checks_pace = _Pace()

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
    async def define(self, name: str, text: str, *, update: bool = False,
                     limits: DefinitionLimits | None = None) -> list[MembershipChange]:
        """Store a definition and evaluate every customer for it now; returns the
        membership changes. All or nothing: every customer is evaluated, writing nothing,
        before the definition is stored (a SegmentError points at the fault in the text);
        if writing the memberships then fails, the previous definition is put back."""
        records = {r.name: r for r in await self.store.segment_definitions()}
        before = self._parse(list(records.values()))
        after = define_segment(before, name, text, self.vocabulary(before), update=update,
                               limits=limits)
        now = self.now()
        async for ids in all_customers(self.store):
            tx = _ReadOnly(ids, await self.store.pending_checks(ids), self.store)
            await self._decide(tx, after, now, before, off_loop=True)
        previous = records.get(name)
        created = previous.created_at if previous else now
        await self.store.save_segment(SegmentRecord(name, text, created, now))
        try:
            return await self.refresh(now=now, before=before, after=after)
        except BaseException as exc:
            await self._restore(name, previous, exc)
            raise

    async def _restore(self, name: str, previous: SegmentRecord | None,
                       cause: BaseException) -> None:
        """Undo a definition whose memberships could not all be written: delete it (and
        the memberships written for it), or put the previous text back (its members are
        caught up again at their next check). If the store refuses that too, say so: the
        caller sees the first failure."""
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
                      after: Catalogue | None = None) -> list[MembershipChange]:
        """Bring customers (everyone when None) up to date at `now`.

        With `before` and `after` (a definition changed), each customer is first caught
        up under the old definitions, then the new ones are applied at `now`, so the
        change is dated when it was made. Without them, the stored definitions apply."""
        now = now or self.now()
        if after is None and before is None and not await self.store.segment_definitions():
            return []
        changes: list[MembershipChange] = []
        pace = _Pace()
        if customer_ids is None:
            async for ids in all_customers(self.store):
                async for part in pace.parts(ids):
                    changes += (await self._evaluate(part, now, before, after)).changes
        elif customer_ids:
            async for part in pace.parts(sorted(set(customer_ids))):
                changes += (await self._evaluate(part, now, before, after)).changes
        return changes

    async def after_plan(self, plan: Plan, now: str | None = None) -> list[Change]:
        """Evaluate the pending checks a write recorded (Plan.segment_checks): its
        customers, the absorbed of its merges (they leave their segments), the parts of its
        splits; each up to its latest write (`now` is not needed: the checks hold it).
        Checks that another process evaluated meanwhile are gone, and skipped."""
        ids = sorted({c.customer_id for c in plan.segment_checks})
        changes: list[MembershipChange] = []
        async for part in self._checks_pace.parts(ids):
            changes += (await self._evaluate(part, pending_only=True)).changes
        return [membership_change(c) for c in changes]

    async def settle(self, *, orphaned_only: bool = False) -> list[Change]:
        """Evaluate the pending checks recorded before now, or only those older than
        ORPHANED_AFTER (left by a process that died after its write). A loader settles
        them when it starts. (Checks recorded meanwhile are their writers' to evaluate:
        with writers at work, "until none is left" might never come.)"""
        until = format_ts(self.clock() - (ORPHANED_AFTER if orphaned_only else timedelta()))
        changes: list[MembershipChange] = []
        while (write := await self._evaluate(None, marked_until=until)).states:
            changes += write.changes
        return [membership_change(c) for c in changes]

    async def _evaluate(self, customer_ids: Collection[str] | None, now: str | None = None,
                        before: Catalogue | None = None, after: Catalogue | None = None, *,
                        pending_only: bool = False, marked_until: str | None = None
                        ) -> SegmentWrite:
        async def work(tx: SegmentTx) -> SegmentWrite:
            catalogue = self._parse(await tx.definitions()) if after is None else after
            return await self._decide(tx, catalogue, now, before)

        return await self.store.segment_transaction(
            work, customer_ids, pending_only=pending_only, marked_until=marked_until)

    async def decide_in(self, tx: SegmentTx) -> SegmentWrite:
        """What evaluating the pending checks of `tx` decides, on its reads, not saved (a
        preview reads the customers as a planned change would leave them)."""
        return await self._decide(tx, self._parse(await tx.definitions()), None, None)

    async def _decide(self, tx: SegmentTx, after: Catalogue, now: str | None,
                      before: Catalogue | None, *, off_loop: bool = False) -> SegmentWrite:
        """Each customer caught up to `now` (with a pending check and no `now`: to its
        latest write); a customer merged away leaves its segments and is forgotten.

        `off_loop` (outside any store transaction only): evaluate in a worker thread, so
        that the event loop answers other requests meanwhile. Inside a write transaction
        nothing else may run: the embedded store's connection is the transaction."""
        absorbed = {cid for cid, check in tx.pending.items() if check.survivor}
        current = [cid for cid in tx.customers if cid not in absorbed]
        facts, states = await facts_and_states(tx.read, current, absorbed)
        args = (tx.customers, tx.pending, facts, states, after, now, before)
        if off_loop:
            return await anyio.to_thread.run_sync(self._caught_up, *args)
        return self._caught_up(*args)

    def _caught_up(self, customers: Sequence[str], pending: Mapping[str, PendingCheck],
                   facts: Mapping[str, CustomerFacts], states: Mapping[str, SegmentState],
                   after: Catalogue, now: str | None, before: Catalogue | None
                   ) -> SegmentWrite:
        write = SegmentWrite()
        for cid in customers:
            state = states.get(cid, SegmentState({}))
            check = pending.get(cid)
            at = now or (check.at if check else self.now())
            if check and check.survivor:
                write.changes += merged(cid, check.survivor, state.memberships, at)
                write.states[cid] = None
                continue
            checked_at, memberships = state.checked_at, dict(state.memberships)
            for gone in sorted(set(memberships) - set(after) - set(before or ())):
                # of a segment that no longer exists: left behind by a hand edit or a crash
                write.changes += segment_deleted(gone, [cid], at)
                del memberships[gone]
            if checked_at is None and check and check.split:
                checked_at = check.since  # a split part: as it is at the split
            if before is not None:
                old = catch_up(before, facts[cid], memberships, checked_at, at,
                               traits=self.traits)
                write.changes += old.changes
                memberships, checked_at = old.memberships, at
            done = catch_up(after, facts[cid], memberships, checked_at, at,
                            traits=self.traits)
            write.changes += done.changes
            write.states[cid] = SegmentState(done.memberships, done.checked_at,
                                             done.next_check)
        return write

    # -- verifying -----------------------------------------------------------------------
    async def verify(self, repair: bool = False) -> MembershipReport:
        """The current customers whose memberships are not what the definitions give for
        what they hold at their last check, and the pending checks. With `repair`, the
        pending checks are evaluated first and the stale customers caught up to now."""
        report = MembershipReport()
        if repair:
            await self.settle()
        catalogue = await self.catalogue()
        now = self.now()
        async for ids in all_customers(self.store):
            report.customers += len(ids)
            report.stale += await self._stale(ids, catalogue, now)
        report.pending = (await self.store.outbox_status()).pending_checks
        if repair and report.stale:
            await self.refresh([s.customer_id for s in report.stale], now=now)
            report.repaired = len(report.stale)
        return report

    async def _stale(self, ids: list[str], catalogue: Catalogue, now: str
                     ) -> list[StaleMembership]:
        """Those of `ids` with stale memberships; a customer with a pending check is not
        stale, only not evaluated yet."""
        facts = await customer_facts(self.store, ids)
        states = await self.store.segment_states(ids)
        pending = await self.store.pending_checks(ids)
        found = []
        for cid in ids:
            state = states.get(cid, SegmentState({}))
            if cid in pending:
                continue
            missing, extra = stale(catalogue, facts[cid], state.memberships,
                                   state.checked_at or now, traits=self.traits)
            if missing or extra:
                found.append(StaleMembership(cid, missing, extra, state.checked_at))
        return found

    # -- reading -----------------------------------------------------------------------
    async def memberships(self, customer_ids: Collection[str]) -> Mapping[str, SegmentState]:
        return await self.store.segment_states(customer_ids)

    async def history(self, customer_ids: Collection[str], first: int
                      ) -> dict[str, list[MembershipChange]]:
        return await self.store.membership_history(customer_ids, first)
