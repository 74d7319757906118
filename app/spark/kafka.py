"""A Kafka topic as a rebuild's input, read by Spark tasks with the loaders' own client
(aiokafka) and decoder, without Spark's Kafka connector (a JVM package).

The driver takes each partition's offsets when the rebuild starts (`ranges`): the rebuild
covers everything before them, and records them for `idgraph consume` to start from. Each
partition's range is cut into slices that tasks read on their own, naming each message as
the loader does (topic/partition/offset).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SLICE_MESSAGES = 200_000
POLL_MS = 1000


class KafkaInputError(ValueError):
    """A topic that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class Slice:
    file: int  # orders the messages of one partition after those of the files
    topic: str
    partition: int
    start: int
    end: int  # exclusive


async def _offsets(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    from loaders.dlq import topic_partitions

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = await topic_partitions(bootstrap, topic)
        if not tps:
            raise KafkaInputError(f"topic {topic!r} does not exist on {bootstrap}")
        await consumer.start()
        first = await consumer.beginning_offsets(tps)
        last = await consumer.end_offsets(tps)
    except KafkaError as exc:
        raise KafkaInputError(f"cannot read topic {topic!r} on {bootstrap}: {exc}") from None
    finally:
        await consumer.stop()
    return {tp.partition: (first[tp], last[tp]) for tp in tps}


async def ranges(bootstrap: str, topics: list[str], first_file: int,
                 slice_messages: int = SLICE_MESSAGES
                 ) -> tuple[list[Slice], dict[str, dict[int, int]]]:
    """The slices to read, and the positions they reach (topic -> partition -> the next
    offset, what a consumer reads next)."""
    slices: list[Slice] = []
    positions: dict[str, dict[int, int]] = {}
    file = first_file
    for topic in topics:
        offsets = await _offsets(bootstrap, topic)
        positions[topic] = {p: end for p, (_, end) in offsets.items()}
        for partition, (start, end) in sorted(offsets.items()):
            slices += [Slice(file, topic, partition, s, min(s + slice_messages, end))
                       for s in range(start, end, slice_messages)]
            file += 1
    return slices, positions


def messages(bootstrap: str, piece: Slice) -> Iterator[Any]:
    """The messages of one slice, in offset order, read as they are consumed (a task holds
    one poll's worth at a time)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(piece.topic, piece.partition)
    loop = asyncio.new_event_loop()

    async def start() -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        consumer.assign([tp])
        consumer.seek(tp, piece.start)
        return consumer

    consumer = loop.run_until_complete(start())
    try:
        while True:
            batch = loop.run_until_complete(consumer.getmany(tp, timeout_ms=POLL_MS))
            for message in batch.get(tp, []):
                if message.offset >= piece.end:
                    return
                yield message
                if message.offset == piece.end - 1:
                    return
            if not batch and loop.run_until_complete(consumer.position(tp)) >= piece.end:
                return
    finally:
        loop.run_until_complete(consumer.stop())
        loop.close()
