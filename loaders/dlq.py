"""Dead letters: messages the loader cannot accept, kept with their original bytes.

A dead letter's value and key are the original message's, byte for byte, and its headers
say why and where from (`idgraph.error.field`, `idgraph.error.reason`,
`idgraph.source.topic`, `.partition`, `.offset`, `.timestamp`), next to the original
headers. Keeping the bytes untouched is what lets `idgraph dlq replay` re-submit them
as they came, once the cause is fixed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

PREFIX = "idgraph."
REPLAYED_FROM = "idgraph.replayed_from"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    field: str
    reason: str
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()  # the original message's own headers

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        ours = {"error.field": self.field, "error.reason": self.reason,
                "source.topic": self.topic, "source.partition": str(self.partition),
                "source.offset": str(self.offset)}
        if self.timestamp_ms is not None:
            ours["source.timestamp"] = str(self.timestamp_ms)
        return list(self.headers) + [(PREFIX + k, v.encode()) for k, v in ours.items()]

    @classmethod
    def of(cls, message: Any) -> DeadLetter:
        """Read a dead letter back from a message of the DLQ topic."""
        headers = [(k, v) for k, v in (message.headers or ())]
        ours = {k.removeprefix(PREFIX): v.decode("utf-8", "replace")
                for k, v in headers if k.startswith(PREFIX)}
        return cls(
            message.value, message.key, ours.get("source.topic", ""),
            int(ours.get("source.partition", "-1")), int(ours.get("source.offset", "-1")),
            ours.get("error.field", ""), ours.get("error.reason", ""),
            int(ours["source.timestamp"]) if "source.timestamp" in ours else None,
            tuple((k, v) for k, v in headers if not k.startswith(PREFIX)),
        )

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "field": self.field, "reason": self.reason,
                "value": (self.value or b"").decode("utf-8", "replace")[:500]}


async def send_dead_letters(producer: AIOKafkaProducer, topic: str,
                            letters: Sequence[DeadLetter]) -> None:
    """Send all letters and wait until Kafka has every one."""
    futures = [await producer.send(topic, letter.value, key=letter.key,
                                   headers=letter.kafka_headers()) for letter in letters]
    await asyncio.gather(*futures)


@dataclass(slots=True)
class DeadLetterReplay:
    replayed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions now (asked of the cluster, not of a client's cached
    metadata); none if there is no such topic, which this does not create."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        # naming a topic in a metadata request creates it where the broker auto-creates
        if topic not in await admin.list_topics():
            return []
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described.get("partitions", [])]


async def _end_offsets(bootstrap_servers: str, consumer: AIOKafkaConsumer, topic: str
                       ) -> dict[TopicPartition, int]:
    """The topic's partitions and their end offsets now; none if there is no such topic."""
    tps = await topic_partitions(bootstrap_servers, topic)
    return await consumer.end_offsets(tps) if tps else {}


async def _drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int],
                 batch_size: int) -> AsyncIterator[dict[TopicPartition, list[Any]]]:
    """Batches of the assigned partitions up to `ends`, the end offsets when we started:
    a letter that fails again lands after them, so a replay always finishes."""
    remaining = {tp: end for tp, end in ends.items() if await consumer.position(tp) < end}
    while remaining:
        records = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
        batch = {tp: [m for m in msgs if m.offset < ends[tp]] for tp, msgs in records.items()}
        yield {tp: msgs for tp, msgs in batch.items() if msgs}
        for tp in list(remaining):
            if await consumer.position(tp) >= remaining[tp]:
                del remaining[tp]


async def replay(bootstrap_servers: str, dlq_topic: str, *, group: str,
                 to_topic: str | None = None, batch_size: int = 500,
                 timeout_s: float = 600.0) -> DeadLetterReplay:
    """Re-send the dead letters not yet replayed by `group` to their source topic (or
    `to_topic`), with their original bytes, key and headers. Offsets of the DLQ are
    committed for `group` after Kafka has the re-sent batch, so a re-run resumes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                enable_idempotence=True)
    report = DeadLetterReplay()
    await consumer.start()
    await producer.start()
    try:
        async with asyncio.timeout(timeout_s):
            ends = await _end_offsets(bootstrap_servers, consumer, dlq_topic)
            if not ends:
                return report
            consumer.assign(list(ends))
            async for batch in _drain(consumer, ends, batch_size):
                await _resend(producer, batch, to_topic, dlq_topic, report)
                if batch:
                    await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})
    finally:
        await producer.stop()
        await consumer.stop()
    return report


async def _resend(producer: AIOKafkaProducer, batch: dict[TopicPartition, list[Any]],
                  to_topic: str | None, dlq_topic: str, report: DeadLetterReplay) -> None:
    futures = []
    for tp, messages in batch.items():
        for message in messages:
            letter = DeadLetter.of(message)
            target = to_topic or letter.topic
            headers = [*letter.headers,
                       (REPLAYED_FROM, f"{dlq_topic}/{tp.partition}/{message.offset}".encode())]
            futures.append(await producer.send(target, letter.value, key=letter.key,
                                               headers=headers))
            report.by_topic[target] = report.by_topic.get(target, 0) + 1
            report.replayed += 1
    await asyncio.gather(*futures)


async def read_dead_letters(bootstrap_servers: str, dlq_topic: str, *, limit: int = 100,
                            timeout_s: float = 60.0) -> list[DeadLetter]:
    """Up to `limit` dead letters from the start of the DLQ topic, for inspection."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    letters: list[DeadLetter] = []
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            ends = await _end_offsets(bootstrap_servers, consumer, dlq_topic)
            if not ends:
                return []
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            async for batch in _drain(consumer, ends, limit):
                letters += [DeadLetter.of(m) for msgs in batch.values() for m in msgs]
                if len(letters) >= limit:
                    break
    finally:
        await consumer.stop()
    return letters[:limit]
