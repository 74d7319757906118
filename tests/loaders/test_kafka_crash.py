"""Loaders killed with SIGKILL at random points, and a loader group losing a member: no
event is lost and none is doubled (events per customer compared with the input)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NEO4J_URL, make_store
from tests.loaders.streams import (
    check_people,
    committed,
    consume_process,
    create_topic,
    people_stream,
    produce,
    unique,
    wait_for,
)

pytestmark = pytest.mark.kafka
STORES = ["sqlite", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def store_url(kind: str, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.db" if kind == "sqlite" else NEO4J_URL


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout=60)


@pytest.mark.parametrize("kind", STORES)
async def test_a_loader_killed_five_times_loses_and_doubles_nothing(kind, tmp_path):
    store = await make_store(kind, tmp_path)
    url = store_url(kind, tmp_path)
    topic = await create_topic(unique("crash"))
    group = unique("group")
    stream = people_stream(24_000, 400)
    await produce(topic, stream.messages())
    rng = random.Random()
    log = tmp_path / "consumer.log"
    try:
        for kill in range(1, 6):
            # The k-th kill lands before k/7 of the stream, however fast the loader runs
            # past its target before the kill arrives: every kill is mid-stream.
            target = min(await committed(group) + rng.randint(200, 1_500),
                         kill * len(stream.events) // 7)
            # A restarted loader keeps its static id, as a restarted pod would.
            process = consume_process(url, topic, group, "--batch-size", "100",
                                      "--instance-id", "loader-1", log=log)
            try:
                async def progressed(process=process, target=target) -> bool:
                    return process.poll() is not None or await committed(group) >= target

                await wait_for(progressed, 90, "the loader to make progress")
                await asyncio.sleep(rng.uniform(0, 0.05))  # land anywhere in a batch
            finally:
                assert stop(process) == -signal.SIGKILL, log.read_text()[-2000:]
        assert await committed(group) < len(stream.events), "every kill must land mid-stream"

        final = consume_process(url, topic, group, "--exit-when-idle", "3",
                                "--instance-id", "loader-1", log=log)
        out, _ = final.communicate(timeout=180)
        assert final.returncode == 0, log.read_text()[-3000:]

        assert 0 < json.loads(out)["messages"] < len(stream.events)
        assert await committed(group) == len(stream.events)
        await check_people(store, stream, 400)
    finally:
        await store.close()


def assigned(log: Path) -> list[str]:
    """The partitions of the loader's latest assignment, from its log."""
    found = re.findall(r"assigned partitions: \[(.*)\]", log.read_text())
    return re.findall(r"'([^']+)'", found[-1]) if found else []


@pytest.mark.parametrize("kind", STORES)
async def test_two_loaders_in_a_group_share_the_work_and_one_dying_loses_nothing(kind, tmp_path):
    store = await make_store(kind, tmp_path)
    url = store_url(kind, tmp_path)
    topic = await create_topic(unique("group"), partitions=4)
    group = unique("group")
    stream = people_stream(10_000, 400)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a, b = (consume_process(url, topic, group, "--batch-size", "50", log=log) for log in logs)
    try:
        async def shared() -> bool:
            return len(assigned(logs[0])) == 2 and len(assigned(logs[1])) == 2

        await wait_for(shared, 60, "both loaders to hold two partitions each")
        await produce(topic, stream.messages())

        async def started() -> bool:
            return await committed(group) >= 1_500

        await wait_for(started, 60, "the group to make progress")
        stop(a)  # SIGKILL: no goodbye; the group notices at the session timeout

        async def done() -> bool:
            return await committed(group) >= len(stream.events)

        await wait_for(done, 120, "the survivor to take over and finish")
        assert len(assigned(logs[1])) == 4
        assert stop(b, signal.SIGTERM) == 0, logs[1].read_text()[-3000:]
        out = b.stdout.read() if b.stdout else b""
        assert 0 < json.loads(out)["messages"] < len(stream.events)
        await check_people(store, stream, 400)
    finally:
        for process in (a, b):
            if process.poll() is None:
                stop(process)
        await store.close()
