"""Publishing the outbox: the change events every write records in its own transaction
(app/stores/outbox.py), sent on from there.

- `Publisher` drains the outbox to the changes topic, at least once and in order, and
  marks what it published. One publisher at a time per store does it: the holder of the
  outbox lease. Every loader with a changes topic and every API process with the Kafka bus
  runs one; when the holder dies another takes over once its lease runs out (LEASE_S), at
  once when it stops cleanly or restarts under the same name (`--instance-id`).
- `Follower` tails the outbox for the subscribers of one API process that has no Kafka
  bus, from the outbox's end when the process starts: every such process sees every
  change, and none holds or marks anything.

Both also evaluate pending segment checks that a process which died after its write left
behind (app.services.segments.SegmentService.settle), every SETTLE_EVERY_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from app.domain.changes import Change
from app.services.segments import SegmentService
from app.stores.base import IdentityStore

log = logging.getLogger("idgraph.outbox")
Send = Callable[[Sequence[Change]], Awaitable[None]]

LEASE_S = 15.0  # how long a silent publisher keeps the outbox from the others
POLL_S = 0.5  # how often an idle reader looks for new changes
BATCH = 1000  # changes per read, per send and per move of the cursor
SETTLE_EVERY_S = 5.0
RETRY_MAX_S = 30.0
CLOSE_TIMEOUT_S = 30.0  # how long a stopping publisher tries to publish what is left


def holder_id(name: str | None = None) -> str:
    """A publisher's name in the lease: `name` (a loader's --instance-id, stable across its
    restarts) or one of its own for this process."""
    return name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Reader:
    """The loop both readers share: read what is new on a wake-up or every `poll_s`,
    settle orphaned segment checks now and then, back off while the store or the
    destination is away."""

    def __init__(self, store: IdentityStore, send: Send, *, poll_s: float, batch: int,
                 segments: SegmentService | None) -> None:
        self.store = store
        self.send = send
        self.poll_s = poll_s
        self.batch = batch
        self.segments = segments
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New changes were committed: read them now rather than at the next poll."""
        self._wake.set()

    async def drain(self) -> int:
        raise NotImplementedError

    async def run(self, stopping: asyncio.Event) -> None:
        delay = 0.0
        settle_at = time.monotonic()
        while not stopping.is_set():
            self._wake.clear()
            try:
                await self.drain()
                if self.segments is not None and time.monotonic() >= settle_at:
                    if await self.segments.settle(orphaned_only=True):
                        self._wake.set()
                    settle_at = time.monotonic() + SETTLE_EVERY_S
                delay = 0.0
            except Exception as exc:  # the store or Kafka away, or a bug: log, go on later
                delay = min(RETRY_MAX_S, max(self.poll_s, delay * 2))
                log.warning("outbox: %s: %s; again in %.1f s", type(exc).__name__, exc, delay,
                            exc_info=not _passing(exc))
            await self._sleep(delay or self.poll_s, stopping)

    async def _sleep(self, seconds: float, stopping: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, stopping)]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


def _passing(exc: BaseException) -> bool:
    """Whether the error is an outage that passes (no traceback worth logging)."""
    return isinstance(exc, ConnectionError | TimeoutError) or bool(
        getattr(exc, "retriable", False))


class Publisher(_Reader):
    def __init__(self, store: IdentityStore, send: Send, destination: str, *,
                 holder: str | None = None, lease_s: float = LEASE_S, poll_s: float = POLL_S,
                 batch: int = BATCH, segments: SegmentService | None = None,
                 published: Callable[[Sequence[Change]], None] | None = None) -> None:
        super().__init__(store, send, poll_s=poll_s, batch=batch, segments=segments)
        self.destination = destination
        self.holder = holder_id(holder)
        self.lease_s = lease_s
        self.published = published
        self._cursor: int | None = None  # while this publisher holds the lease
        self._renewed = 0.0  # monotonic time of the last claim or move of the cursor
        self._started = False

    async def drain(self) -> int:
        """Publish what is committed now, in order, if this publisher holds or wins the
        lease; returns how many changes it published. A send that fails raises, and leaves
        its changes to be sent again."""
        if self._cursor is None or time.monotonic() - self._renewed > self.lease_s / 3:
            await self._claim()
        sent = 0
        while self._cursor is not None:
            records = await self.store.outbox_after(self._cursor, self.batch)
            if not records:
                break
            changes = [change for _, change in records]
            await self.send(changes)
            if not await self.store.outbox_published(self.holder, records[-1][0],
                                                     self.lease_s):
                log.warning("outbox: %s lost the lease; another publisher took over",
                            self.holder)
                self._cursor = None
                break
            self._cursor, self._renewed = records[-1][0], time.monotonic()
            sent += len(changes)
            if self.published is not None:
                self.published(changes)
        return sent

    async def _claim(self) -> None:
        was = self._cursor
        if not self._started:  # once: a look at who published before
            self._started = True
            status = await self.store.outbox_status()
            if status.destination not in (None, self.destination):
                log.warning("outbox: published to %r so far; %s publishes to %r",
                            status.destination, self.holder, self.destination)
        self._cursor = await self.store.claim_outbox(self.holder, self.destination,
                                                     self.lease_s)
        self._renewed = time.monotonic()
        if was is None and self._cursor is not None:
            log.info("outbox: %s publishes to %s from seq %s", self.holder,
                     self.destination, self._cursor + 1)

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Publish what is left (for at most `timeout_s`), then give the lease up."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.drain()
        except Exception as exc:  # what is left waits for the next publisher
            log.warning("outbox: stopped with changes unpublished (%s: %s); the next "
                        "publisher sends them", type(exc).__name__, exc)
        if self._cursor is not None:
            with contextlib.suppress(Exception):
                await self.store.release_outbox(self.holder)
            self._cursor = None


class Follower(_Reader):
    def __init__(self, store: IdentityStore, send: Send, *, poll_s: float = POLL_S / 2,
                 batch: int = BATCH, segments: SegmentService | None = None) -> None:
        super().__init__(store, send, poll_s=poll_s, batch=batch, segments=segments)
        self.position: int | None = None  # seq of the last change delivered

    async def start(self) -> None:
        """Start at the outbox's end: what was written before has no subscriber here."""
        self.position = (await self.store.outbox_status()).newest

    async def drain(self) -> int:
        if self.position is None:
            await self.start()
        delivered = 0
        while records := await self.store.outbox_after(self.position or 0, self.batch):
            await self.send([change for _, change in records])
            self.position = records[-1][0]
            delivered += len(records)
        return delivered

    async def close(self) -> None:
        """Deliver what was committed before the stop."""
        with contextlib.suppress(Exception):
            await self.drain()
