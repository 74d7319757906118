"""The Kafka loader: topics of events into the store, at least once with exactly-once effect.

One loop: read a batch (`getmany`), write it in one store transaction, send its dead
letters, then commit its offsets. Offsets are committed only after the batch is durable,
and the store skips event ids it holds, so a batch read again after a crash or a
rebalance changes nothing. The batch's change events are in the store's outbox, written in
the same transaction; with a changes topic, a publisher task drains the outbox there (at
least once, also what a loader that died left unpublished), so no change is lost between
the commit and the topic.

- Backpressure: the next batch is read only when this one is committed, and the fetch
  buffer is bounded (`fetch_max_bytes`), so a slow store slows reading instead of filling
  memory.
- A store that is unavailable is retried with capped exponential backoff, the same batch,
  for as long as it takes; nothing is committed meanwhile.
- A poison message never stalls a partition: it is dead-lettered, and a batch the store
  rejects outright is split until the one event it rejects is found and dead-lettered.
- Rebalances: partitions are given up only after the batch in hand is committed.
- Stop (SIGTERM/SIGINT via `stop()`): a batch being written is finished and committed; one
  waiting for an unavailable store is abandoned uncommitted, to be read again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from app.domain.changes import Change
from app.domain.identifiers import IdentifierError, normalise
from app.metrics import METRICS, LoaderMetrics
from app.outbound import publish_changes
from app.services.ingest import IngestResult, IngestService, Problem
from app.services.outbox import Publisher
from app.stores import bulk_of
from app.stores.errors import StoreError
from loaders.dlq import DeadLetter, send_dead_letters
from loaders.files import decode_json, read_lines
from loaders.segment_spec import DEFAULT_CONFIG, SegmentConfig

log = logging.getLogger("idgraph.loader")
Records = dict[Any, list[Any]]  # TopicPartition -> ConsumerRecords, as getmany returns them
# More events of one batch than this rejected by the store one by one: the store is at fault.
MAX_POISON_PER_BATCH = 10


@dataclass(frozen=True, slots=True)
class LoaderConfig:
    bootstrap_servers: str
    topics: tuple[str, ...]
    group_id: str = "idgraph-loader"
    dlq_topic: str | None = None
    changes_topic: str | None = None
    input_format: str = "v1"  # v1, segment or auto
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    batch_size: int = 5000  # messages per read and per store transaction
    poll_timeout_ms: int = 500
    offset_reset: str = "earliest"  # where a new group starts
    fetch_max_bytes: int = 8 * 1024 * 1024  # bounds the prefetch buffer
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    revoke_wait_s: float = 30.0  # how long a rebalance waits for the batch in hand
    idle_exit_s: float | None = None  # stop after this long with nothing to read
    client_id: str = "idgraph-loader"
    # Static membership: a loader restarted with the same id gets its partitions back at
    # once, without a rebalance of the group (say, the pod name).
    instance_id: str | None = None
    session_timeout_s: float = 10.0  # a loader silent this long is dropped from the group


@dataclass(slots=True)
class LoaderStats:
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    rejected: int = 0
    batches: int = 0
    changes: int = 0
    # Unix times, so that the figures of several loaders can be put side by side
    first_read: float | None = None
    last_commit: float | None = None

    def to_json(self) -> dict[str, Any]:
        active = (self.last_commit or 0) - (self.first_read or 0)
        return {
            "messages": self.messages, "stored": self.stored, "duplicates": self.duplicates,
            "rejected": self.rejected, "dead_letters": self.dead_letters,
            "batches": self.batches, "changes": self.changes,
            "active_seconds": round(active, 3) if self.last_commit else 0.0,
            "first_read_at": self.first_read, "last_commit_at": self.last_commit,
            "max_rss_mib": round(peak_rss_kib() / 1024, 1),
        }


def peak_rss_kib() -> int:
    """This process's peak resident memory. VmHWM where there is /proc: ru_maxrss carries
    over from a parent through fork and exec, which would blame a loader for its parent."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Abandoned(Exception):
    """The loader was asked to stop while a batch waited for the store."""


class StoreRejectsAll(Exception):
    """Every event of a batch failed in the store: a fault of the store, not of the data."""


class Backoff:
    """Capped exponential backoff with jitter, so restarted loaders do not retry in step."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum, self.attempt = initial, maximum, 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2 ** self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.75, 1.0)


def is_transient(exc: BaseException) -> bool:
    """Whether waiting and trying the same batch again can succeed."""
    if isinstance(exc, StoreError):
        return exc.retriable
    return isinstance(exc, ConnectionError | TimeoutError)


def position(message: Any) -> str:
    return f"{message.topic}/{message.partition}/{message.offset}"


def decode_message(message: Any, where: str, input_format: str,
                   segment: SegmentConfig) -> object:
    """The raw v1 event a message holds, or the Problem with it (also a rebuild's tasks
    read a topic through this)."""
    if message.value is None:
        return Problem(where, "message", "empty message (no value)", True)
    return decode_json(message.value, where, input_format, segment)


def _refuse_store_faults(items: list[tuple[str, object]], result: IngestResult) -> None:
    """A store that rejected every event of a batch is at fault, not the data: stop,
    uncommitted, rather than dead-letter the whole stream."""
    events = sum(not isinstance(item, Problem) for _, item in items)
    store_rejections = [p.reason for p in result.problems if p.field == "store"]
    if events > 1 and len(store_rejections) == events:
        raise StoreRejectsAll(f"the store rejected every event of a batch of {events}; "
                              f"first: {store_rejections[0]}")


def _dead_letters(by_position: dict[str, Any], items: list[tuple[str, object]],
                  result: IngestResult) -> list[DeadLetter]:
    """The rejected messages. The service names most problems by position, and those it
    finds while resolving ("event <id>") by event id. An event dropped because its
    identifiers were erased is not one: its bytes would keep them."""
    by_event: dict[str, str] = {}
    for at, item in items:
        if isinstance(item, dict) and isinstance(item.get("event_id"), str):
            by_event.setdefault(item["event_id"], at)
    letters = []
    for problem in (p for p in result.problems if p.rejected and not p.erased):
        where: str | None = problem.position
        if where not in by_position:
            where = by_event.get(problem.event_id or "")
        if where is not None:
            letters.append(dead_letter(by_position[where], problem))
    return letters


def dead_letter(message: Any, problem: Problem) -> DeadLetter:
    return DeadLetter(message.value, message.key, message.topic, message.partition,
                      message.offset, problem.field, problem.reason, message.timestamp,
                      tuple(message.headers or ()))


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loader: KafkaLoader) -> None:
        self.loader = loader

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Hand partitions over only once the batch in hand is committed, so the next owner
        # starts after it; if that takes too long, the next owner reads it again (harmless).
        try:
            async with asyncio.timeout(self.loader.config.revoke_wait_s):
                async with self.loader.batch_lock:
                    pass
        except TimeoutError:
            log.warning("rebalance: gave up %s with a batch still in hand", sorted(revoked))
        for tp in revoked:
            self.loader.forget(tp)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("assigned partitions: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in
                                                     assigned))
        await self.loader.start_after_rebuild(assigned)
        self.loader.metrics.assigned.set(len(assigned))
        self.loader.last_activity = time.monotonic()


class KafkaLoader:
    def __init__(self, ingest: IngestService, config: LoaderConfig,
                 metrics: LoaderMetrics = METRICS) -> None:
        self.ingest = ingest
        self.config = config
        self.metrics = metrics
        self.stats = LoaderStats()
        self.batch_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.last_activity = time.monotonic()
        self.next_offsets: dict[Any, int] = {}  # TopicPartition -> next offset to read
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap_servers, group_id=config.group_id,
            client_id=config.client_id, enable_auto_commit=False,
            auto_offset_reset=config.offset_reset, fetch_max_bytes=config.fetch_max_bytes,
            max_partition_fetch_bytes=min(config.fetch_max_bytes, 1024 * 1024),
            group_instance_id=config.instance_id,
            session_timeout_ms=int(config.session_timeout_s * 1000),
            heartbeat_interval_ms=int(config.session_timeout_s * 1000 / 3))
        self.producer: AIOKafkaProducer | None = None
        self.publisher: Publisher | None = None  # with a changes topic, from run()
        # topic -> partition -> next offset: what the store's rebuilds covered (from run())
        self.rebuilt: Mapping[str, dict[int, int]] = {}
        if config.dlq_topic or config.changes_topic:
            self.producer = AIOKafkaProducer(
                bootstrap_servers=config.bootstrap_servers, client_id=config.client_id,
                acks="all", enable_idempotence=True, linger_ms=5)

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand (see the module docstring)."""
        self.stopping.set()

    # -- the loop ----------------------------------------------------------------------
    async def run(self) -> LoaderStats:
        publishing: asyncio.Task[None] | None = None
        try:
            await self._start()
            await self._settle()
            self.rebuilt = await bulk_of(self.ingest.store).positions()
            if self.config.changes_topic:
                self.publisher = Publisher(
                    self.ingest.store, self._send_changes, self.config.changes_topic,
                    holder=self.config.instance_id, segments=self.ingest.segments,
                    published=self._published)
                publishing = asyncio.create_task(self.publisher.run(self.stopping))
            self.consumer.subscribe(list(self.config.topics), listener=_Rebalance(self))
            while not self.stopping.is_set():
                records = await self._read()
                if records:
                    await self._handle(records)
                else:
                    self._idle()
        except Abandoned:
            log.info("stopping: what was in hand is not committed; it will be read again")
        finally:
            self.stopping.set()
            if publishing is not None and self.publisher is not None:
                await publishing
                await self.publisher.close()
            await self._close()
        return self.stats

    async def start_after_rebuild(self, assigned: Any) -> None:
        """A partition that a rebuild of the store read further than this group committed
        starts where the rebuild stopped: what came before is in the store already."""
        for tp in assigned:
            covered = self.rebuilt.get(tp.topic, {}).get(tp.partition)
            if covered is None:
                continue
            committed = await self.consumer.committed(tp)
            if committed is None or committed < covered:
                log.info("%s/%s: starting at offset %d, where the store's rebuild stopped",
                         tp.topic, tp.partition, covered)
                self.consumer.seek(tp, covered)

    async def _settle(self) -> None:
        """Evaluate the segment checks that writers which died after their commit left
        (a loader killed between its write and the evaluation, say), before reading on."""
        if self.ingest.segments is None:
            return
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        while True:
            try:
                if settled := await self.ingest.segments.settle():
                    log.info("evaluated %d membership changes left pending", len(settled))
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._count_error("store_unavailable", f"store unavailable, retrying: {exc}")
                await self._pause(backoff.next())

    async def _read(self) -> Records:
        """The next batch; empty while Kafka is away (the client reconnects by itself)."""
        try:
            return await self.consumer.getmany(
                timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size)
        except KafkaError as exc:
            if not exc.retriable:
                raise
            self._count_error("kafka", f"cannot read from Kafka, retrying: {exc!r}")
            await self._pause(self.config.retry_initial_s)
            return {}

    async def _start(self) -> None:
        """Start the clients, waiting out a Kafka that is not reachable yet."""
        for client in filter(None, (self.consumer, self.producer)):
            backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
            while True:
                try:
                    await client.start()
                    break
                except KafkaError as exc:
                    self._count_error("kafka", f"cannot reach Kafka ({exc})")
                    await self._pause(backoff.next())

    async def _close(self) -> None:
        for client in filter(None, (self.producer, self.consumer)):
            try:
                async with asyncio.timeout(30):
                    await client.stop()
            except Exception as exc:  # closing must not hide why we stopped
                log.warning("closing the Kafka client: %r", exc)

    def _idle(self) -> None:
        self._update_lag()
        idle_exit = self.config.idle_exit_s
        if idle_exit is not None and time.monotonic() - self.last_activity > idle_exit:
            log.info("nothing to read for %ss: stopping", idle_exit)
            self.stop()

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless asked to stop first (then raise Abandoned)."""
        try:
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
        except TimeoutError:
            return
        raise Abandoned

    # -- one batch ---------------------------------------------------------------------
    async def _handle(self, records: Records) -> None:
        async with self.batch_lock:
            started = time.monotonic()
            self.stats.first_read = self.stats.first_read or time.time()
            messages = [m for batch in records.values() for m in batch]
            self.metrics.in_flight.set(len(messages))
            result, letters = await self._write(messages)
            if letters:
                await self._with_kafka_retry(self._dead_letter, letters)
            await self._commit(records)
            if self.publisher is not None:
                self.publisher.wake()
            self._account(records, result, letters)
            self.metrics.batch_seconds.observe(time.monotonic() - started)
            self.metrics.in_flight.set(0)
            self.last_activity = time.monotonic()

    async def _write(self, messages: Sequence[Any]) -> tuple[IngestResult, list[DeadLetter]]:
        by_position = {position(m): m for m in messages}
        items = [(p, self._decode(m, p)) for p, m in by_position.items()]
        result = await self._ingest_isolating(items)
        _refuse_store_faults(items, result)
        return result, _dead_letters(by_position, items, result)

    def _decode(self, message: Any, where: str) -> object:
        return decode_message(message, where, self.config.input_format, self.config.segment)

    async def _ingest_isolating(self, items: list[tuple[str, object]],
                                poisoned: list[str] | None = None) -> IngestResult:
        """One store write for the batch. If the store rejects the batch itself (not a
        passing outage), split it until the event it rejects is found, and reject that
        event alone, so one poison message cannot stall its partition. Past
        MAX_POISON_PER_BATCH such events the fault is the store's: stop (StoreRejectsAll)."""
        poisoned = [] if poisoned is None else poisoned
        try:
            return await self._ingest_retrying(items)
        except Abandoned:
            raise
        except Exception as exc:
            reason = f"the store rejected the event: {type(exc).__name__}: {exc}"[:500]
            self._count_error("store_error", f"the store rejected a batch of {len(items)}: "
                              f"{type(exc).__name__}: {exc}")
            if len(items) > 1:
                half = len(items) // 2
                result = await self._ingest_isolating(items[:half], poisoned)
                result.add(await self._ingest_isolating(items[half:], poisoned))
                return result
            poisoned.append(reason)
            if len(poisoned) > MAX_POISON_PER_BATCH:
                raise StoreRejectsAll(f"the store rejected {len(poisoned)} events of one "
                                      f"batch one by one; first: {poisoned[0]}") from exc
            return IngestResult(received=1, problems=[Problem(items[0][0], "store", reason,
                                                              True)])

    async def _ingest_retrying(self, items: list[tuple[str, object]]) -> IngestResult:
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        while True:
            try:
                result = await self.ingest.ingest_raw(items)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.metrics.waiting.set(1)
                self._count_error("store_unavailable", f"store unavailable, retrying the "
                                  f"batch: {type(exc).__name__}: {exc}")
                await self._pause(backoff.next())
                continue
            self.metrics.waiting.set(0)
            return result

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            log.warning("rejected %s: %s: %s", letter.source, letter.field, letter.reason)
        if self.config.dlq_topic and self.producer:
            await send_dead_letters(self.producer, self.config.dlq_topic, letters)

    async def _send_changes(self, changes: Sequence[Change]) -> None:
        assert self.producer and self.config.changes_topic
        await publish_changes(self.producer, self.config.changes_topic, changes)

    def _published(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self.metrics.changes.labels(change.kind).inc()
        self.stats.changes += len(changes)

    async def _with_kafka_retry(self, send: Any, arg: Any) -> None:
        """Kafka writes that must land before the commit: retry while Kafka is away. On a
        stop, give up uncommitted: the batch is read again, and re-sent, later."""
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        while True:
            try:
                await send(arg)
                return
            except KafkaError as exc:
                self._count_error("kafka", f"cannot write to Kafka, retrying: {exc}")
                await self._pause(backoff.next())

    async def _commit(self, records: Records) -> None:
        assigned = self.consumer.assignment()
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in records.items() if tp in assigned}
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        while offsets:
            try:
                async with asyncio.timeout(self.config.retry_max_s):
                    await self.consumer.commit(offsets)
                break
            except (CommitFailedError, IllegalStateError) as exc:
                # The partitions moved to another loader, which reads the batch again.
                self._count_error("commit_failed", f"commit after a rebalance: {exc}")
                return
            except (KafkaError, TimeoutError) as exc:
                self._count_error("kafka", f"commit failed, retrying: {exc!r}")
                await self._pause(backoff.next())
        self.next_offsets.update(offsets)
        self.stats.last_commit = time.time()
        self.metrics.last_commit.set(self.stats.last_commit)
        self._update_lag()

    # -- accounting --------------------------------------------------------------------
    def _account(self, records: Records, result: IngestResult, letters: list[DeadLetter]
                 ) -> None:
        for tp, msgs in records.items():
            self.metrics.messages.labels(tp.topic).inc(len(msgs))
        for letter in letters if self.config.dlq_topic else ():
            self.metrics.dead_letters.labels(letter.topic).inc()
        self.metrics.events.labels("stored").inc(result.stored)
        self.metrics.events.labels("duplicate").inc(result.duplicates)
        self.metrics.events.labels("rejected").inc(result.rejected)
        self.metrics.identifiers_dropped.inc(len(result.problems) - result.rejected)
        self.metrics.batches.inc()
        stats = self.stats
        stats.messages += sum(len(m) for m in records.values())
        stats.stored += result.stored
        stats.duplicates += result.duplicates
        stats.rejected += result.rejected
        stats.dead_letters += len(letters) if self.config.dlq_topic else 0
        stats.batches += 1

    def _count_error(self, kind: str, message: str) -> None:
        self.metrics.errors.labels(kind).inc()
        log.warning(message)

    def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            end, done = self.consumer.highwater(tp), self.next_offsets.get(tp)
            if end is not None and done is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(end - done, 0))

    def forget(self, tp: Any) -> None:
        """A partition given up: its lag is another loader's to report now."""
        self.next_offsets.pop(tp, None)
        with contextlib.suppress(KeyError):
            self.metrics.lag.remove(tp.topic, str(tp.partition))


# -- the producer for tests and demos ---------------------------------------------------
def message_key(raw: object) -> bytes | None:
    """The key of an event: its first identifier, normalised, so that one person's events
    share a partition. None for a message that is not an event (it is sent all the same)."""
    if not isinstance(raw, dict):
        return None
    identifiers = raw.get("identifiers")
    first = identifiers[0] if isinstance(identifiers, list) and identifiers else None
    if not isinstance(first, dict):
        return None
    try:
        key = normalise(first.get("type"), first.get("value")).key
    except IdentifierError:
        key = f"{first.get('type')}:{first.get('value')}"
    # A lone surrogate is sent as it is: the loader rejects that message, not the sender.
    return key.encode("utf-8", "surrogatepass")


async def produce_file(bootstrap_servers: str, topic: str, path: Path, *,
                       input_format: str = "auto",
                       segment: SegmentConfig = DEFAULT_CONFIG) -> int:
    """Send each non-empty line of a JSONL file, as it is, keyed by its first identifier."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    sent = 0
    try:
        pending = []
        for line in read_lines(path):
            raw = decode_json(line.text, line.position, input_format, segment)
            value = line.text.encode("utf-8", "surrogateescape")  # the bytes of the file
            pending.append(await producer.send(topic, value, key=message_key(raw)))
            sent += 1
            if len(pending) >= 10_000:  # bound what waits for acknowledgement
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent
