"""A loader killed (SIGKILL) right after a store commit, before anything else of that batch
happens (no segment evaluation, no publication, no offset commit): once it runs again,
every change event the store committed reaches the changes topic at least once, and every
segment membership is right. Real Kafka, real stores, a real loader process.

The kill is placed by IDGRAPH_TEST_KILL_AFTER_COMMIT (the loader kills itself right after
its Nth commit), so it lands between the commit and the publication every time.
"""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.services.segments import SegmentService, all_customers
from app.stores.base import IdentityStore
from tests.conftest import KAFKA_BOOTSTRAP, make_store
from tests.loaders.streams import (
    check_people,
    committed,
    consume_process,
    create_topic,
    people_stream,
    produce,
    unique,
)
from tests.loaders.test_kafka_crash import STORES, store_url

pytestmark = pytest.mark.kafka
SEGMENTS = {"buyer": "count(purchase) >= 1", "loyal": "count(purchase) >= 3",
            "known": "has(email)"}


async def read_to_end(topic: str) -> list[dict[str, Any]]:
    """Every message of the topic, to its end as it is now."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:  # a producer fetches a topic's partitions on request
        partitions = [TopicPartition(topic, p) for p in sorted(
            await producer.partitions_for(topic))]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages: list[dict[str, Any]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            messages += [json.loads(m.value) for ms in batch.values() for m in ms]
    finally:
        await consumer.stop()
    return messages


async def committed_changes(store: IdentityStore, named: set[str] = frozenset()
                            ) -> dict[str, set[tuple[Any, ...]]]:
    """What the store says must have been published: a customer_created for every current
    customer, an identifiers_added naming every identifier, a segment change for every
    entry of every membership history (of the current customers, of every id merged into
    them, and of the customers the published changes `named`). (Which live customers were
    merged or renamed depends on how the stream was batched, so those are checked against
    the published changes themselves, in the test.)"""
    current = [cid async for page in all_customers(store) for cid in page]
    merges = [m for ms in (await store.merges_into(current)).values() for m in ms]
    everyone = sorted({*current, *(m.absorbed for m in merges), *named})
    history = await store.membership_history(everyone, 10_000)
    kinds = {"entered": "segment_entered", "left": "segment_left"}
    return {
        "created": {(cid,) for cid in current},
        "identifiers": {(i.key,) for ids in (await store.identifiers_of(current)).values()
                        for i in ids},
        "segments": {(kinds[c.change], c.customer_id, c.segment, c.at)
                     for changes in history.values() for c in changes},
    }


def published_changes(messages: list[dict[str, Any]]) -> dict[str, set[tuple[Any, ...]]]:
    found: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for m in messages:
        data = m.get("data", {})
        if m["kind"] == "customer_created":
            found["created"].add((m["customer_id"],))
        elif m["kind"] == "customer_merged":
            found["merged"].add((data["absorbed"], data["survivor"]))
        elif m["kind"] == "identifiers_added":
            found["identifiers"] |= {(key,) for key in data["identifiers"]}
        elif m["kind"] in ("segment_entered", "segment_left"):
            found["segments"].add((m["kind"], m["customer_id"], data["segment"], m["at"]))
    return found


def stop(process: Any) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    return process.wait(timeout=60)


@pytest.mark.parametrize("kind", STORES)
async def test_a_loader_killed_between_its_commit_and_the_publication_loses_no_change(
        kind, tmp_path: Path):
    store = await make_store(kind, tmp_path)
    url = store_url(kind, tmp_path)
    segments = SegmentService(store)
    for name, text in SEGMENTS.items():
        await segments.define(name, text)
    topic, changes, group = await create_topic(unique("outbox")), unique("changes"), unique("g")
    stream = people_stream(3_000, 300, seed=7)
    await produce(topic, stream.messages())
    log = tmp_path / "consumer.log"
    try:
        killed = consume_process(url, topic, group, "--batch-size", "100", "--changes-topic",
                                 changes, "--instance-id", "loader-1", log=log,
                                 env={"IDGRAPH_TEST_KILL_AFTER_COMMIT": "3"})
        assert stop_when_done(killed) == -signal.SIGKILL, log.read_text()[-3000:]
        assert "killing this loader after commit 3" in log.read_text()

        # The third batch is in the store, its changes and checks are not handled yet.
        left = await store.outbox_status()
        assert left.unpublished > 0 and left.pending_checks > 0
        assert await committed(group) <= 200  # its offsets were not committed either
        stale = await segments.verify()
        assert stale.pending == left.pending_checks and stale.stale == []

        again = consume_process(url, topic, group, "--changes-topic", changes,
                                "--instance-id", "loader-1", "--exit-when-idle", "3", log=log)
        out, _ = again.communicate(timeout=300)
        assert again.returncode == 0, log.read_text()[-3000:]
        assert json.loads(out)["changes"] >= left.unpublished

        messages = await read_to_end(changes)
        named = {m["customer_id"] for m in messages}
        expected = await committed_changes(store, named)
        published = published_changes(messages)
        for part, wanted in expected.items():
            assert wanted, part  # the stream makes each kind of change
            assert wanted <= published[part], (part, sorted(wanted - published[part])[:5])
        assert published["segments"] == expected["segments"]  # nothing invented either
        # every customer a published merge absorbed now resolves to a current customer
        absorbed = {a for a, _ in published["merged"]}
        assert absorbed, "the stream makes merges"
        resolved = await store.current_ids(absorbed)
        assert resolved.keys() == absorbed
        assert set(resolved.values()) <= {cid for (cid,) in expected["created"]}
        by_id: dict[str, dict[str, Any]] = {}
        for m in messages:  # a change published twice is the same change, with one id
            assert by_id.setdefault(m["change_id"], m) == m

        report = await segments.verify()
        assert (report.stale, report.pending) == ([], 0)
        assert (await store.outbox_status()).unpublished == 0
        assert await committed(group) == len(stream.events)
        await check_people(store, stream, 300)
    finally:
        await store.close()


def stop_when_done(process: Any, timeout_s: float = 180) -> int:
    """The exit code of a process that is expected to end by itself."""
    try:
        return process.wait(timeout=timeout_s)
    finally:
        stop(process)
