"""Neo4j stopped for 20 seconds mid-stream: the loader waits, resumes and loses nothing.

This test stops the shared Neo4j from scripts/services and always starts it again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess

import pytest

from app.stores import open_store
from tests.conftest import NEO4J_URL, make_store
from tests.loaders.streams import (
    ROOT,
    check_people,
    committed,
    consume_process,
    create_topic,
    metrics_url,
    people_stream,
    produce,
    scrape,
    total,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.neo4j]
OUTAGE_S = 20


def services(action: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "services"), action, "neo4j"], check=True,
                   timeout=300, capture_output=True)


async def test_neo4j_stopped_mid_stream_the_loader_waits_and_loses_nothing(tmp_path):
    store = await make_store("neo4j", tmp_path)
    topic, group = await create_topic(unique("outage")), unique("group")
    stream = people_stream(8_000, 300)
    messages = stream.messages()
    await produce(topic, messages[:4_000])
    log = tmp_path / "consumer.log"
    process = consume_process(NEO4J_URL, topic, group, "--batch-size", "100", log=log)
    try:
        async def started() -> bool:
            return await committed(group) >= 500

        await wait_for(started, 60, "the loader to make progress")
        await store.close()
        try:
            services("down")
            await produce(topic, messages[4_000:])  # events keep arriving during the outage
            await asyncio.sleep(OUTAGE_S)
            assert process.poll() is None, log.read_text()[-3000:]  # waiting, not crashed
        finally:
            services("up")
        store = open_store(NEO4J_URL)

        async def finished() -> bool:
            return await committed(group) >= len(stream.events)

        await wait_for(finished, 180, "the loader to resume and finish", every_s=1)
        after = scrape(metrics_url(log))
        # The driver retries on its own for 30 s first, so the loader may see no outage;
        # when it does, it counts it and stops waiting once the store is back.
        assert total(after, "idgraph_loader_waiting_for_store") == 0
        assert total(after, "idgraph_loader_messages_total") == len(stream.events)
        assert process.send_signal(signal.SIGTERM) is None and process.wait(60) == 0
        await check_people(store, stream, 300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        await store.close()
