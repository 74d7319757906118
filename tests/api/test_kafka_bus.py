"""Several API replicas: a change made through one reaches a subscriber of another, and
the loaders' changes reach subscribers, through the Kafka changes topic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from app.api.events import KafkaBus
from app.domain.changes import Change
from app.outbound import publish_changes
from tests.api.data import seed
from tests.api.test_subscriptions import CHANGED, LINK, collect, wait_for_subscribers
from tests.conftest import KAFKA_BOOTSTRAP
from tests.loaders.streams import create_topic, unique

pytestmark = pytest.mark.kafka


async def test_a_merge_through_one_replica_reaches_a_subscriber_of_another(sqlite_store,
                                                                           api_with):
    topic = await create_topic(unique("api-changes"), partitions=2)
    ids = await seed_store(sqlite_store)
    async with api_with(sqlite_store, bus=KafkaBus(KAFKA_BOOTSTRAP, topic)) as one, \
            api_with(sqlite_store, bus=KafkaBus(KAFKA_BOOTSTRAP, topic)) as two:
        heard: list[dict[str, Any]] = []
        listener = asyncio.create_task(collect(two, "reader", CHANGED, {"id": ids["anna"]}, 2,
                                               heard))
        await wait_for_subscribers(two, 1)
        assert (await one.run("steward", LINK))["linkIdentifiers"]["__typename"] == \
            "ActionSuccess"
        # a loader publishing to the same topic
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP)
        await producer.start()
        try:
            await publish_changes(producer, topic, [Change(
                "identifiers_added", ids["anna"], "2024-01-01T00:00:00Z", ("kafka-1",),
                data={"identifiers": ["cookie:ck_loader"]})])
        finally:
            await producer.stop()
        async with asyncio.timeout(20):
            await listener
    kinds = [h["customerChanged"]["kind"] for h in heard]
    assert kinds[0] == "CUSTOMER_MERGED"
    assert "IDENTIFIERS_ADDED" in kinds


async def seed_store(store) -> dict[str, str]:
    from app.bootstrap import build_services
    from app.config import Settings

    return await seed(build_services(Settings(store=store.url), store=store))
