"""The event bus behind subscriptions: what changed, fanned out to subscribers.

Every write records its changes in the store's outbox (app.domain.changes.Change, segment
memberships included: kinds segment_entered and segment_left), whoever made it: this API,
another replica, a loader, a CLI command. `change_relay` reads them from there:
- with `InProcessBus` (no Kafka), a Follower tails the outbox and the bus fans each change
  out to this process's subscribers; every API process does the same;
- with `KafkaBus`, a Publisher (one per store at a time, loaders included) drains the
  outbox to the Kafka changes topic, and every replica's bus delivers what it reads back
  from the topic to its own subscribers.

One topic, CUSTOMERS, carries every Change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

from app.bootstrap import Services
from app.domain.changes import Change
from app.services.outbox import Follower, Publisher

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
    """A Change from its outbound JSON (app.outbound.change_message), with its id."""
    return Change.from_json(data, str(data.get("change_id") or ""))


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

        # acknowledged by every in-sync replica before the outbox's cursor moves past it
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers,
                                          acks="all", enable_idempotence=True)
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
        from app.outbound import publish_changes

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


def change_relay(services: Services, bus: EventBus) -> Publisher | Follower:
    """What feeds `bus` from the outbox (see the module docstring)."""
    if isinstance(bus, KafkaBus):
        return Publisher(services.store, lambda changes: bus.publish(CUSTOMERS, changes),
                         bus.topic, segments=services.segments)

    async def deliver(changes: Sequence[Change]) -> None:
        await bus.publish(CUSTOMERS, changes)

    return Follower(services.store, deliver, segments=services.segments)
