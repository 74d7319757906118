"""`idgraph bench stream`: events per second from Kafka into each store, end to end.

The synthetic events of `bench ingest` are produced to a fresh topic once; then, for each
store, the raw store baseline of `bench ingest` and the ingest service alone (no Kafka) are
measured, and `idgraph consume` runs as a subprocess (as in production) until the topic is
drained. The loader's rate is its
messages over the time from its first read to its last commit; its peak memory is its own
maximum resident set size. A benchmark prints figures; it never fails on a clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.bench.ingest import neo4j_baseline, sqlite_baseline
from app.config import Settings
from app.demo import synthetic_events
from app.domain.events import Event, parse_event
from app.domain.identifiers import clear_identifier_cache
from app.services.ingest import IngestService
from app.stores import open_store
from app.stores.base import IdentityStore
from app.stores.neo4j.store import Neo4jStore, redact
from loaders.kafka import message_key

ROOT = Path(__file__).resolve().parents[2]
IDLE_S = 3
CLEAN_NEO4J = ("MATCH (n) WHERE NOT n:SchemaMigration CALL (n) { DETACH DELETE n } "
               "IN TRANSACTIONS OF 10000 ROWS")


async def produce_all(bootstrap: str, topic: str, raws: list[dict[str, Any]],
                      partitions: int) -> float:
    """Create the topic and send every event; return the seconds it took."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for raw in raws:
            pending.append(await producer.send(topic, json.dumps(raw).encode(),
                                               key=message_key(raw)))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def consumer_command(url: str, bootstrap: str, topic: str, group: str, batch_size: int
                     ) -> list[str]:
    return [sys.executable, "-m", "app", "consume", "--store", url, "--topic", topic,
            "--group", group, "--bootstrap-servers", bootstrap, "--batch-size",
            str(batch_size), "--metrics-port", "0", "--exit-when-idle", str(IDLE_S)]


def run_consumers(url: str, bootstrap: str, topic: str, batch_size: int, loaders: int
                  ) -> dict[str, Any]:
    """`idgraph consume` x `loaders`, in one group, until the topic is drained. Their rate
    is all messages over the span from the first read to the last commit of any of them."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    command = consumer_command(url, bootstrap, topic, group, batch_size)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env) for _ in range(loaders)]
    outputs = [p.communicate(timeout=3600) for p in processes]
    wall = time.perf_counter() - started - IDLE_S  # less the idle wait that ends them
    for process, (_, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"a loader failed: {err.decode()[-2000:]}")
    figures = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    active = [f for f in figures if f["last_commit_at"]]
    span = max(f["last_commit_at"] for f in active) - min(f["first_read_at"] for f in active)
    return {"messages": sum(f["messages"] for f in figures), "span_seconds": span,
            "wall_seconds": wall, "peak_rss_mib": max(f["max_rss_mib"] for f in figures)}


async def service_seconds(store: IdentityStore, raws: list[dict[str, Any]], size: int) -> float:
    """The ingest service in this process, with no Kafka: what the loader adds shows. It
    starts with an empty identifier cache, as the loader does."""
    clear_identifier_cache()
    ingest = IngestService(store)
    started = time.perf_counter()
    for at in range(0, len(raws), size):
        await ingest.ingest_raw((str(i), raw) for i, raw in enumerate(raws[at:at + size]))
    return time.perf_counter() - started


async def clean(store: IdentityStore) -> None:
    """Empty the store the benchmark filled (it was empty before)."""
    if isinstance(store, Neo4jStore):
        async with store.driver.session(database=store.database) as session:
            await session.run(CLEAN_NEO4J)


async def bench_store(target: str, raws: list[dict[str, Any]], events: list[Event],
                      bootstrap: str, topic: str, batch_size: int, loaders: int,
                      settings: Settings) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="idgraph-bench-stream-")
    url = f"sqlite:///{tmp}/stream.db" if target == "sqlite" else target
    store = open_store(url, neo4j_database=settings.neo4j_database)
    try:
        await store.ping()
        await store.migrate()
        if (await store.stats()).events:
            raise SystemExit(f"{redact(url)} already holds events; the benchmark needs an "
                             "empty store")
        if target == "sqlite":
            raw_s = sqlite_baseline(events, batch_size, os.path.join(tmp, "raw.db"))
            service = open_store(f"sqlite:///{tmp}/service.db")
            await service.migrate()
            service_s = await service_seconds(service, raws, batch_size)
            await service.close()
        else:
            raw_s = await neo4j_baseline(store, events, batch_size)
            service_s = await service_seconds(store, raws, batch_size)
            await clean(store)
        figures = run_consumers(url, bootstrap, topic, batch_size, loaders)
        stored = (await store.stats()).events
        await clean(store)
    finally:
        await store.close()
    n = len(events)
    rate = figures["messages"] / figures["span_seconds"]
    return {
        "store": url.split("://")[0], "events": n, "batch_size": batch_size,
        "loaders": loaders, "stored": stored,
        "loader_events_per_s": round(rate),
        "loader_wall_events_per_s": round(n / figures["wall_seconds"]),
        "raw_baseline_events_per_s": round(n / raw_s),
        "loader_over_raw": round(rate * raw_s / n, 3),
        "service_events_per_s": round(n / service_s),
        "loader_over_service": round(rate * service_s / n, 3),
        "loader_peak_rss_mib": figures["peak_rss_mib"],
        "loader_seconds": round(figures["span_seconds"], 2),
        "raw_seconds": round(raw_s, 2),
    }


async def run_stream_bench(settings: Settings, stores: list[str], bootstrap: str, n: int,
                           batch_size: int, partitions: int, loaders: int = 1
                           ) -> list[dict[str, Any]]:
    raws = list(synthetic_events(n))
    events = [parse_event(raw).event for raw in raws]
    topic = f"idgraph.bench.stream.{uuid.uuid4().hex[:8]}"
    produce_s = await produce_all(bootstrap, topic, raws, partitions)
    reports = []
    for target in stores:
        report = await bench_store(target, raws, events, bootstrap, topic, batch_size,
                                   loaders, settings)
        report.update(topic=topic, partitions=partitions,
                      produce_events_per_s=round(n / produce_s))
        reports.append(report)
    return reports
