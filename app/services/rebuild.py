"""Rebuild: feed events, in event time, and steward actions, at their moments, through the
ordinary ingest and steward services. As-of answers (app/services/asof.py) rebuild a part
of the graph into a scratch store this way, replay (app/services/replay.py) a whole store.

An action counts from its moment: it is carried out after every event dated at or before
it and before every later one, on the graph those events make, with the clock set to its
moment (a split part's id derives from it). Each batch of events is written with the
clock at its latest event, so that nothing in the rebuilt store depends on when it was
rebuilt.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.asof import Step, StepKind, link_pair
from app.domain.events import Event, parse_ts
from app.domain.steward import (
    Action,
    StewardActionKind,
    StewardError,
    StewardErrorCode,
    action_kind,
)
from app.services.ingest import IngestService, Problem
from app.services.steward import ActionResult, StewardService

log = logging.getLogger("idgraph.rebuild")
DEFAULT_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Skipped:
    """An audit entry that was not carried out again, and why."""

    seq: int
    at: str
    action: str
    why: str


@dataclass(slots=True)
class RebuildReport:
    events: int = 0  # events offered
    stored: int = 0  # events written
    problems: list[Problem] = field(default_factory=list)
    replayed: int = 0  # audit entries carried out again
    skipped: list[Skipped] = field(default_factory=list)
    # the seq each replayed entry got in the rebuilt store
    seqs: dict[int, int] = field(default_factory=dict)


def at_moment(text: str) -> datetime:
    return parse_ts(text)


class Rebuild:
    def __init__(self, ingest: IngestService, steward: StewardService, *,
                 batch_size: int = DEFAULT_BATCH) -> None:
        self.ingest = ingest
        self.steward = steward
        self.batch_size = batch_size
        self.report = RebuildReport()

    async def run(self, pages: AsyncIterable[Sequence[Event]], steps: Iterable[Step],
                  until: str | None = None) -> RebuildReport:
        """Events from `pages` (in time order) and the `steps` made up to `until`."""
        queue = deque(sorted((s for s in steps if until is None or s.at <= until),
                             key=Step.order))
        batch: list[Event] = []
        async for page in pages:
            for event in page:
                while queue and queue[0].at < event.ts:
                    await self._write(batch)
                    batch = []
                    await self._step(queue.popleft())
                batch.append(event)
                if len(batch) >= self.batch_size:
                    await self._write(batch)
                    batch = []
        await self._write(batch)
        while queue:
            await self._step(queue.popleft())
        return self.report

    async def _write(self, batch: list[Event]) -> None:
        if not batch:
            return
        latest = at_moment(max(e.ts for e in batch))
        self.ingest.clock = lambda: latest
        result = await self.ingest.ingest(batch)
        self.report.events += len(batch)
        self.report.stored += result.stored
        self.report.problems += result.problems

    async def _step(self, step: Step) -> None:
        moment = at_moment(step.at)
        self.steward.clock = lambda: moment
        try:
            result = await self._carry_out(step)
        except StewardError as exc:
            self._skip(step, f"{exc.code}: {exc.message}")
            return
        if result is None:
            return
        self.report.replayed += 1
        if result.audit_seq is not None:
            self.report.seqs[step.seq] = result.audit_seq

    def _skip(self, step: Step, why: str) -> None:
        log.info("audit entry #%s (%s at %s) not carried out again: %s", step.seq,
                 step.action, step.at, why)
        self.report.skipped.append(Skipped(step.seq, step.at, step.action, why))

    async def _carry_out(self, step: Step) -> ActionResult | None:
        if step.kind is StepKind.ERASURE:
            self._skip(step, "an erasure: what it erased is gone from the events, and its "
                       "identifiers stay suppressed")
            return None
        if step.kind is StepKind.NOT_REPLAYABLE:
            self._skip(step, "it names no identifier to act on")
            return None
        if step.kind is StepKind.UNDO:
            assert step.undoes is not None
            seq = self.report.seqs.get(step.undoes)
            if seq is None:
                self._skip(step, f"it undoes #{step.undoes}, which was not carried out again")
                return None
            return await self.steward.undo(seq, step.actor, step.reason)
        if step.scrubbed:
            self._skip(step, "an erasure scrubbed the identifier it names from the audit "
                       "log, and no identifier left fits it alone")
            return None
        if step.action == "review" and not step.accept:
            self._skip(step, "a rejected review item changes nothing in the graph")
            return None
        if step.action in ("merge", "review"):
            return await self.steward.act(await self._link_of(step))
        return await self.steward.act(
            Action(action_kind(step.action), step.actor, step.reason, step.keys, step.ban))

    async def _link_of(self, step: Step) -> Action:
        """A merge links one identifier of each customer (the least of each), an accepted
        review its two identifiers: the log names the pair. A merge is made again as a
        merge when the two customers exist and that is the pair it would link, else as
        the link it made."""
        pair = link_pair(step)
        if pair is None:
            raise StewardError(StewardErrorCode.NOT_REPLAYABLE,
                               "the log does not name the pair it linked")
        if step.action == "merge":
            store = self.steward.store
            current = await store.current_ids(step.customers)
            ids = [current[c] for c in step.customers if c in current]
            if len(ids) == len(step.customers) and len(set(ids)) == 2:
                found = await store.identifiers_of(ids)
                least = {min((r.key for r in found.get(c, ())), default="") for c in ids}
                if least == set(pair):
                    return Action(StewardActionKind.MERGE, step.actor, step.reason,
                                  customers=step.customers)
        return Action(StewardActionKind.LINK, step.actor, step.reason, pair)
