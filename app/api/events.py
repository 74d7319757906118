"""The event bus behind subscriptions: what changed, fanned out to subscribers.

The API publishes the changes of every ingest, steward action and segment definition it
performs (app.domain.changes.Change, segment memberships included: kinds segment_entered
and segment_left). `InProcessBus` fans them out inside one process, which is right for one
API replica. With several replicas each must see every change, so the bus must be fed from
the Kafka changes topic that the loaders publish to: `KafkaBus` sends the API's own changes
there and delivers what it reads back, to the subscribers of its replica.

One topic, CUSTOMERS, carries every Change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

from app.domain.changes import Change

CUSTOMERS = "customers"
QUEUE_SIZE = 1000
log = logging.getLogger(__name__)


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, messages: Sequence[Any]) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[
        AsyncIterator[Any]]: ...


class InProcessBus:
    """Fan-out inside one process. A subscriber that falls QUEUE_SIZE messages behind
    loses the oldest ones; subscriptions are notifications, the store is the truth."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Any]]] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._queues.clear()

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        self.deliver(topic, messages)

    def deliver(self, topic: str, messages: Iterable[Any]) -> None:
        for queue in list(self._queues.get(topic, ())):
            for message in messages:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(topic, set()).add(queue)
        try:
            yield _drain(queue)
        finally:
            self._queues[topic].discard(queue)

    @property
    def subscribers(self) -> int:
        return sum(len(q) for q in self._queues.values())


async def _drain(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while True:
        yield await queue.get()


def change_from_json(data: dict[str, Any]) -> Change:
    """A Change from its outbound JSON (Change.to_json, as the loaders publish it)."""
    lineage = data.get("lineage") or {}
    return Change(
        str(data["kind"]),
        str(data["customer_id"]),
        str(data.get("at", "")),
        tuple(lineage.get("event_ids", ())),
        tuple(lineage.get("from_customers", ())),
        dict(data.get("data") or {}),
    )


class KafkaBus(InProcessBus):
    """Changes go through the Kafka changes topic, so every replica sees them. Each
    replica reads the topic from its end without a consumer group (every replica reads
    every message)."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        super().__init__()
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._consumer: Any = None
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers,
                                          group_id=None, enable_auto_commit=False)
        try:
            await self._producer.start()
            await self._consumer.start()
            partitions = await self._partitions()
            # Read every partition from its end, fixed now: a change published after
            # start() is delivered, none from before.
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            self._consumer.assign(assigned)
            await self._consumer.seek_to_end(*assigned)
            for tp in assigned:
                await self._consumer.position(tp)
        except BaseException:
            await self.close()
            raise
        self._task = asyncio.create_task(self._consume())

    async def _partitions(self) -> set[int]:
        try:
            async with asyncio.timeout(10):
                # the producer fetches the topic's metadata on request
                return set(await self._producer.partitions_for(self.topic))
        except Exception as exc:  # noqa: BLE001 - aiokafka raises several kinds
            raise RuntimeError(f"changes topic {self.topic!r} is not readable on "
                               f"{self.bootstrap_servers} ({exc!r}); create it, or set "
                               f"IDGRAPH_API_CHANGES_TOPIC to the loaders' changes topic"
                               ) from None

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
        await super().close()

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        if topic != CUSTOMERS or not messages:
            return await super().publish(topic, messages)
        from loaders.outbound import publish_changes

        await publish_changes(self._producer, self.topic, messages)

    async def _consume(self) -> None:
        async for record in self._consumer:
            try:
                change = change_from_json(json.loads(record.value))
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("changes topic %s: skipped a message that is not a change at %s/%s",
                            self.topic, record.partition, record.offset)
                continue
            self.deliver(CUSTOMERS, [change])


def open_bus(bootstrap_servers: str, topic: str) -> EventBus:
    return KafkaBus(bootstrap_servers, topic) if bootstrap_servers else InProcessBus()
