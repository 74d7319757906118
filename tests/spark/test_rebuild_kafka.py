"""A rebuild that reads a Kafka topic (real broker) holds what loading the same events
holds, records where it stopped, and `idgraph consume` on the rebuilt store goes on from
there: it reads only what came after, so nothing is skipped or read twice."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.loaders.streams import create_topic, produce, unique
from tests.spark.data import scenario
from tests.spark.test_rebuild_equivalence import _fresh, _read, idgraph, loaded, write_jsonl

pytestmark = pytest.mark.kafka


def _messages(raws: list[dict]) -> list[bytes]:
    return [json.dumps(r).encode() for r in raws]


def test_a_rebuild_from_a_topic_and_the_stream_after_it(tmp_path_factory):
    # one message per event id, so that every message the consumer reads stores an event
    raws = list({r["event_id"]: r for r in reversed(scenario(seed=19, universes=20))}
                .values())[::-1]
    first, later = raws[: len(raws) * 2 // 3], raws[len(raws) * 2 // 3:]
    topic = asyncio.run(create_topic(unique("rebuild"), partitions=2))
    asyncio.run(produce(topic, _messages(first)))
    inputs = tmp_path_factory.mktemp("in")
    reference = loaded("sqlite", tmp_path_factory.mktemp("load"),
                       write_jsonl(inputs / "first.jsonl", first, seed=19, junk=False), 100_000)

    tmp = tmp_path_factory.mktemp("rebuild")
    url = asyncio.run(_fresh("sqlite", tmp / "test.db"))
    idgraph("rebuild", "--store", url, "--kafka-topic", topic, "--rejects", str(tmp / "rj"))
    got = asyncio.run(_read("sqlite", tmp))
    for table in reference[0]:
        assert got[0][table] == reference[0][table], table

    asyncio.run(produce(topic, _messages(later)))
    out = idgraph("consume", "--store", url, "--topic", topic, "--group", unique("group"),
                  "--exit-when-idle", "3", "--metrics-port", "0")
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["messages"] == len(later), stats  # from where the rebuild stopped
    assert stats["duplicates"] == 0, stats
    both = loaded("sqlite", tmp_path_factory.mktemp("both"),
                  write_jsonl(inputs / "both.jsonl", first + later, seed=19, junk=False), 7)
    assert asyncio.run(_read("sqlite", tmp))[1] == both[1]


def test_a_rebuild_from_a_topic_that_does_not_exist_names_it_and_creates_nothing(tmp_path):
    topic = unique("missing")
    url = asyncio.run(_fresh("sqlite", tmp_path / "test.db"))
    result = CliRunner().invoke(main, ["rebuild", "--store", url, "--kafka-topic", topic])
    assert result.exit_code == 2, result.output
    assert f"topic {topic!r} does not exist" in result.output
    assert asyncio.run(_create(topic)) == 0, "the rebuild created the topic"


async def _create(topic: str) -> int:
    """The error code of creating `topic` (0: it was not there). The broker here creates a
    topic that a metadata request names; its controller knows at once, where a topic
    listing may lag."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from tests.conftest import KAFKA_BOOTSTRAP

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    [(_, code, _)] = response.topic_errors
    return int(code)
