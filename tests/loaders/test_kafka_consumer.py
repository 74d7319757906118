"""The Kafka loader on the real Kafka and each real store: valid events are stored once,
malformed ones are dead-lettered with their reason, and replays change nothing."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from app.metrics import LoaderMetrics
from app.services.ingest import IngestService
from app.stores.errors import StoreUnavailable
from loaders.dlq import DeadLetter
from loaders.kafka import KafkaLoader, LoaderConfig, StoreRejectsAll
from tests.loaders.streams import (
    add_malformed,
    check_dead_letters,
    check_people,
    create_topic,
    loader,
    people_stream,
    produce,
    read_topic,
    run_loader,
    unique,
)

pytestmark = pytest.mark.kafka

PEOPLE = 500


async def test_valid_events_are_stored_once_and_malformed_ones_dead_lettered(store):
    topic = await create_topic(unique("events"))
    dlq = unique("dlq")
    stream = people_stream(9_900, PEOPLE)
    add_malformed(stream, 100)  # 1% of 10,000
    await produce(topic, stream.messages())

    stats = await run_loader(loader(store, topic, dlq_topic=dlq, batch_size=500))

    assert (stats.messages, stats.stored, stats.dead_letters) == (10_000, 9_900, 100)
    await check_people(store, stream, PEOPLE)
    letters = [DeadLetter.of(m) for m in await read_topic(dlq, 100)]
    check_dead_letters(stream, letters, topic)


async def test_a_second_group_replaying_the_topic_changes_nothing(sqlite_store):
    topic = await create_topic(unique("events"))
    stream = people_stream(1_000, 50)
    await produce(topic, stream.messages())
    first = await run_loader(loader(sqlite_store, topic))
    before = await sqlite_store.stats()

    replay = await run_loader(loader(sqlite_store, topic))  # a new group reads it all again

    assert (first.stored, replay.stored, replay.duplicates) == (1_000, 0, 1_000)
    assert await sqlite_store.stats() == before


async def test_a_committed_batch_is_not_read_again_by_its_group(sqlite_store):
    topic = await create_topic(unique("events"))
    await produce(topic, people_stream(300, 30).messages())
    group = unique("group")
    await run_loader(loader(sqlite_store, topic, group_id=group))

    again = await run_loader(loader(sqlite_store, topic, group_id=group, idle_exit_s=2.0))

    assert again.messages == 0


async def test_without_a_dlq_topic_bad_messages_are_skipped_and_counted(sqlite_store):
    topic = await create_topic(unique("events"))
    stream = people_stream(200, 20)
    add_malformed(stream, 8)
    await produce(topic, stream.messages())

    stats = await run_loader(loader(sqlite_store, topic))

    assert (stats.stored, stats.rejected, stats.dead_letters) == (200, 8, 0)


async def test_the_store_never_gets_more_than_one_batch_at_a_time(sqlite_store):
    """Backpressure: a slow store slows reading; the loader holds one batch at most."""
    topic = await create_topic(unique("events"))
    await produce(topic, people_stream(1_000, 40).messages())
    sizes: list[int] = []
    instance = loader(sqlite_store, topic, batch_size=100)
    real = instance.ingest.ingest_raw

    async def slow(items):  # the real store write, made slow
        items = list(items)
        sizes.append(len(items))
        await asyncio.sleep(0.05)
        return await real(items)

    instance.ingest.ingest_raw = slow  # type: ignore[method-assign]
    stats = await run_loader(instance)

    assert stats.stored == 1_000 and max(sizes) <= 100 and len(sizes) >= 10


async def test_a_poison_event_the_store_rejects_is_isolated_and_dead_lettered(sqlite_store):
    topic = await create_topic(unique("events"))
    dlq = unique("dlq")
    stream = people_stream(400, 20)
    poison = stream.events[123]["event_id"]
    await produce(topic, stream.messages())
    instance = loader(sqlite_store, topic, dlq_topic=dlq, batch_size=400)
    real = IngestService(sqlite_store).ingest_raw

    async def choking(items):  # the real store write, failing on one event
        items = list(items)
        if any(isinstance(raw, dict) and raw.get("event_id") == poison for _, raw in items):
            raise ValueError("the store cannot hold this event")
        return await real(items)

    instance.ingest.ingest_raw = choking  # type: ignore[method-assign]
    stats = await run_loader(instance)

    assert (stats.stored, stats.dead_letters) == (399, 1)
    [message] = await read_topic(dlq, 1)
    letter = DeadLetter.of(message)
    assert poison.encode() in letter.value and letter.field == "store"
    assert "cannot hold this event" in letter.reason



async def test_a_store_outage_is_waited_out_with_the_same_batch(sqlite_store):
    topic = await create_topic(unique("events"))
    stream = people_stream(300, 30)
    await produce(topic, stream.messages())
    instance = loader(sqlite_store, topic, batch_size=1_000, retry_initial_s=0.05)
    real, attempts = instance.ingest.ingest_raw, []

    async def flaky(items):  # the real store write, away for the first three attempts
        items = list(items)
        attempts.append(len(items))
        if len(attempts) <= 3:
            raise StoreUnavailable("the store is away")
        return await real(items)

    instance.ingest.ingest_raw = flaky  # type: ignore[method-assign]
    stats = await run_loader(instance)

    assert stats.stored == 300 and len(set(attempts[:4])) == 1
    assert instance.metrics.errors.labels("store_unavailable")._value.get() == 3


async def test_a_stop_while_the_store_is_away_leaves_the_batch_for_the_next_loader(
        sqlite_store):
    topic = await create_topic(unique("events"))
    group = unique("group")
    await produce(topic, people_stream(200, 20).messages())
    instance = loader(sqlite_store, topic, group_id=group, retry_initial_s=0.1)

    async def away(items):
        instance.stop()  # SIGTERM arrives while the store is unavailable
        raise StoreUnavailable("the store is away")

    instance.ingest.ingest_raw = away  # type: ignore[method-assign]
    abandoned = await run_loader(instance)
    successor = await run_loader(loader(sqlite_store, topic, group_id=group))

    assert (abandoned.messages, abandoned.batches) == (0, 0)
    assert (successor.messages, successor.stored) == (200, 200)


async def test_an_unreachable_kafka_is_retried_until_the_loader_is_stopped(sqlite_store):
    config = LoaderConfig(bootstrap_servers="127.0.0.1:1", topics=("t",), dlq_topic="d",
                          retry_initial_s=0.1, retry_max_s=0.3)
    instance = KafkaLoader(IngestService(sqlite_store), config,
                           LoaderMetrics(CollectorRegistry()))
    asyncio.get_running_loop().call_later(2, instance.stop)

    stats = await run_loader(instance, timeout_s=30)

    assert stats.messages == 0
    assert instance.metrics.errors.labels("kafka")._value.get() >= 3


async def test_a_store_that_rejects_everything_stops_the_loader_uncommitted(sqlite_store):
    """Not a poison message but a broken store: the stream is not dead-lettered."""
    topic, dlq = await create_topic(unique("events")), unique("dlq")
    group = unique("group")
    await produce(topic, people_stream(200, 20).messages())
    instance = loader(sqlite_store, topic, group_id=group, dlq_topic=dlq, batch_size=200)

    async def broken(items):
        raise ValueError("the store is misconfigured")

    instance.ingest.ingest_raw = broken  # type: ignore[method-assign]
    with pytest.raises(StoreRejectsAll):
        await run_loader(instance)
    successor = await run_loader(loader(sqlite_store, topic, group_id=group))

    assert (successor.messages, successor.stored) == (200, 200)
