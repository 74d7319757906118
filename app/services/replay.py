"""Replay: rebuild a store from stored events (or events from files) and an audit log, through
the ordinary services (app/services/rebuild.py), so that the rebuilt store holds the same
customers with the same ids (docs/resolution.md, "Replay").

Erasures are honoured: the suppression list goes over first, so an erased identifier
never comes back (only an explicit new consent after the erasure brings it back, as in
any store), and an event from the files that observed an identifier before it was erased
is left out whole, as the erasure deleted it from the source. Segment definitions and
trained models go over too; memberships are evaluated once, at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from app.clock import utc_now
from app.domain.asof import Step, steps_of
from app.domain.events import Event, format_ts
from app.domain.privacy import SuppressionKey
from app.services.asof import recovered_steps
from app.services.container import Services
from app.services.ingest import Problem
from app.services.marketing import NBA_MODEL
from app.services.rebuild import DEFAULT_BATCH, Rebuild, RebuildReport
from app.stores.base import IdentityStore
from app.stores.errors import StoreError
from app.stores.values import event_from_record

MODELS = ("matcher", NBA_MODEL)
PAGE = 5_000
OUTBOX_HOLDER = "idgraph-replay"
ERASED_BEFORE = ("observed an identifier erased on request after this event: the erasure "
                 "deleted the event, so the replay leaves it out")


class ReplayError(StoreError):
    """A replay that cannot start; the message says why and what to do."""


@dataclass(slots=True)
class ReplayComparison:
    """The rebuilt store's customers next to the source's."""

    same: int = 0  # same id, same identifiers
    changed: int = 0  # same id, other identifiers
    only_source: int = 0
    only_rebuilt: int = 0
    examples: list[str] = field(default_factory=list)  # ids of customers that differ

    @property
    def equal(self) -> bool:
        return not (self.changed or self.only_source or self.only_rebuilt)


@dataclass(slots=True)
class ReplayReport:
    rebuild: RebuildReport
    suppressions: int = 0
    segments: int = 0
    models: tuple[str, ...] = ()
    discarded_changes: int = 0
    comparison: ReplayComparison | None = None
    problems: list[Problem] = field(default_factory=list)  # events left out, and why


async def audit_steps(store: IdentityStore, page: int = 1_000) -> list[Step]:
    """The store's audit log as replay steps, with scrubbed identifiers found again."""
    entries = []
    before: int | None = None
    while found := await store.audit_log(page, before):
        entries += found
        before = found[-1].seq
    return await recovered_steps(store, steps_of(entries))


async def stored_events(store: IdentityStore, page: int = PAGE
                        ) -> AsyncIterator[list[Event]]:
    after = None
    while found := await store.events_after(after, page):
        yield [event_from_record(r) for r in found]
        after = found[-1].cursor


class ErasedBefore:
    """Leaves out events that observed an identifier before it was erased: the erasure
    deleted such an event (every event of the erased identifiers) from the source."""

    def __init__(self, suppressions: Sequence[tuple[str, str]],
                 key: SuppressionKey | None) -> None:
        self.erased_at = dict(suppressions)
        self.key = key
        self.problems: list[Problem] = []

    async def pages(self, pages: AsyncIterator[list[Event]]) -> AsyncIterator[list[Event]]:
        async for page in pages:
            yield [e for e in page if self._kept(e)] if self.erased_at else page

    def _kept(self, event: Event) -> bool:
        assert self.key is not None  # there are suppressions: the store has their key
        for ident in event.identifiers:
            erased = self.erased_at.get(self.key.hash(ident.key))
            if erased is not None and event.ts <= erased:
                self.problems.append(Problem(f"event {event.event_id}",
                                             f"identifiers ({ident.type})", ERASED_BEFORE,
                                             True, event.event_id, erased=True))
                return False
        return True


class ReplayService:
    """Rebuild `target` (empty) from `source`: a store, or files with the audit log and
    suppression list of `source`'s store (`actions`)."""

    def __init__(self, target: Services, *, batch_size: int = DEFAULT_BATCH) -> None:
        self.target = target
        self.batch_size = batch_size

    async def check_empty(self) -> None:
        stats = await self.target.store.stats()
        if stats.events or stats.customers:
            raise ReplayError(f"--to: {self.target.store.url.split('@')[-1]} already holds "
                              f"{stats.events:,} events and {stats.customers:,} customers; "
                              "replay into an empty store")

    async def from_store(self, source: IdentityStore, *, keep_changes: bool = False,
                         compare: bool = True) -> ReplayReport:
        report = await self._prepare(source)
        report.rebuild = await self._rebuild(stored_events(source), await audit_steps(source))
        return await self._finish(report, source if compare else None, keep_changes)

    async def from_events(self, pages: AsyncIterator[list[Event]],
                          actions: IdentityStore | None, *, keep_changes: bool = False,
                          compare: bool = True) -> ReplayReport:
        """Events from elsewhere (files), with the audit log, suppression list, segments
        and models of `actions` when given; the rebuilt store is compared with it."""
        if actions is None:
            await self.check_empty()
            report, steps, suppressions = ReplayReport(RebuildReport()), [], []
        else:
            report = await self._prepare(actions)
            steps, suppressions = await audit_steps(actions), await actions.suppressions()
        erased = ErasedBefore(suppressions, getattr(self.target.store, "suppression", None))
        report.rebuild = await self._rebuild(erased.pages(pages), steps)
        report.problems = erased.problems
        return await self._finish(report, actions if compare else None, keep_changes)

    # -- the steps ---------------------------------------------------------------------
    async def _prepare(self, source: IdentityStore) -> ReplayReport:
        """Carry the suppression list, segment definitions and models over."""
        await self.check_empty()
        report = ReplayReport(RebuildReport())
        rows = await source.suppressions()
        if rows:
            await self.target.store.add_suppressions(rows)
        report.suppressions = len(rows)
        for record in await source.segment_definitions():
            await self.target.store.save_segment(record)
            report.segments += 1
        models = []
        for name in MODELS:
            body = await source.load_model(name)
            if body is not None:
                trained = str(body.get("trained_at") or format_ts(utc_now()))
                await self.target.store.save_model(name, body, trained)
                models.append(name)
        report.models = tuple(models)
        await self.target.ingest.load_matcher()
        return report

    async def _rebuild(self, pages: AsyncIterator[list[Event]], steps: list[Step]
                       ) -> RebuildReport:
        ingest, steward = self.target.ingest, self.target.steward
        # memberships are evaluated once at the end, not after every batch
        ingest.segments = steward.segments = None
        clocks = (ingest.clock, steward.clock)
        try:
            return await Rebuild(ingest, steward, batch_size=self.batch_size).run(pages, steps)
        finally:
            ingest.clock, steward.clock = clocks

    async def _finish(self, report: ReplayReport, source: IdentityStore | None,
                      keep_changes: bool) -> ReplayReport:
        segments = self.target.segments
        await segments.settle()
        await segments.refresh()
        if not keep_changes:
            report.discarded_changes = await self._discard_changes()
        if source is not None:
            report.comparison = await compare_exports(source, self.target.store)
        return report

    async def _discard_changes(self) -> int:
        """The rebuild's change events restate what the source published already: they
        are passed over, not published (--keep-changes keeps them in the outbox)."""
        store = self.target.store
        if await store.claim_outbox(OUTBOX_HOLDER, "discarded by idgraph replay", 60) is None:
            return 0
        try:
            status = await store.outbox_status()
            await store.outbox_published(OUTBOX_HOLDER, status.newest, 60)
            return status.unpublished
        finally:
            await store.release_outbox(OUTBOX_HOLDER)


async def export_of(store: IdentityStore, page: int = 500
                    ) -> AsyncIterator[tuple[str, tuple[str, ...]]]:
    """(customer id, its identifier keys) of every customer, by id."""
    after: str | None = None
    while ids := await store.customer_page(after, page):
        found = await store.identifiers_of(ids)
        for cid in ids:
            yield cid, tuple(sorted(r.key for r in found.get(cid, [])))
        after = ids[-1]


async def compare_exports(source: IdentityStore, rebuilt: IdentityStore,
                          keep: int = 50) -> ReplayComparison:
    """Walk both exports in id order side by side."""
    result = ReplayComparison()
    left, right = export_of(source), export_of(rebuilt)
    a = await anext(left, None)
    b = await anext(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            result.only_source += 1
            _note(result, a[0], keep)  # type: ignore[index]
            a = await anext(left, None)
        elif a is None or b[0] < a[0]:
            result.only_rebuilt += 1
            _note(result, b[0], keep)
            b = await anext(right, None)
        else:
            if a[1] == b[1]:
                result.same += 1
            else:
                result.changed += 1
                _note(result, a[0], keep)
            a, b = await anext(left, None), await anext(right, None)
    return result


def _note(result: ReplayComparison, customer_id: str, keep: int) -> None:
    if len(result.examples) < keep:
        result.examples.append(customer_id)
