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
    consume_process,
    create_topic,
    events_per_person,
    metrics_url,
    people_stream,
    produce,
    scrape,
    stored_events,
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
            return await stored_events(store) >= 500

        await wait_for(started, 60, "the loader to make progress")
        await store.close()
        try:
            services("down")
            await produce(topic, messages[4_000:])  # events keep arriving during the outage
            await asyncio.sleep(OUTAGE_S)
            during = scrape(metrics_url(log))
            assert process.poll() is None, log.read_text()[-3000:]
        finally:
            services("up")
        assert total(during, "idgraph_loader_errors_total", kind="store_unavailable") > 0
        assert total(during, "idgraph_loader_waiting_for_store") == 1

        store = open_store(NEO4J_URL)

        async def finished() -> bool:
            return await stored_events(store) >= len(stream.events)

        await wait_for(finished, 180, "the loader to resume and finish", every_s=1)
        assert process.send_signal(signal.SIGTERM) is None and process.wait(60) == 0
        assert await stored_events(store) == len(stream.events)
        assert await events_per_person(store, 300) == stream.per_person()
        assert "store unavailable, retrying" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        await store.close()
