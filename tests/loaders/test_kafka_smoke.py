"""The real Kafka from scripts/services answers: a message goes in and comes back out."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import KAFKA_BOOTSTRAP

pytestmark = pytest.mark.kafka


async def test_a_produced_event_is_consumed():
    topic = f"idgraph.smoke.{uuid.uuid4().hex[:8]}"
    event = {"event_id": "smoke-1", "type": "page_view", "timestamp": "2024-01-01T00:00:00Z",
             "source": "web", "identifiers": [{"type": "cookie", "value": "abc"}]}
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(event).encode(), key=b"cookie:abc")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA_BOOTSTRAP,
                                auto_offset_reset="earliest", group_id=f"smoke-{uuid.uuid4()}")
    await consumer.start()
    try:
        batches = {}
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=1000)
            if batches:
                break
        [message] = [m for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()
    assert message.key == b"cookie:abc"
    assert json.loads(message.value) == event
