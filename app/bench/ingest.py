"""`idgraph bench ingest`: the ingest service against a raw baseline, in one run.

The baseline writes the same identifiers and links straight to the store (SQLite
`executemany`, Neo4j batched `UNWIND ... MERGE`) with no validation, no resolution and no
events, so the ratio says what the service's work costs on top of the bare writes.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import combinations, islice
from typing import Any

from rich.console import Console

from app.bootstrap import start
from app.config import Settings
from app.demo import synthetic_events
from app.domain.events import Event, parse_event
from app.stores import open_store
from app.stores.base import IdentityStore

RAW_NEO4J = """
UNWIND $identifiers AS key
MERGE (i:BenchIdentifier {key: key})
WITH count(*) AS done
UNWIND $links AS link
MATCH (a:BenchIdentifier {key: link[0]}), (b:BenchIdentifier {key: link[1]})
MERGE (a)-[l:BENCH_LINKED]->(b)
ON CREATE SET l.count = 1 ON MATCH SET l.count = l.count + 1
"""


def batches(events: list[Event], size: int) -> Iterator[list[Event]]:
    it = iter(events)
    while chunk := list(islice(it, size)):
        yield chunk


def rows_of(batch: list[Event]) -> tuple[list[str], list[tuple[str, str]]]:
    keys = sorted({i.key for e in batch for i in e.identifiers})
    links = [pair for e in batch for pair in combinations(sorted(i.key for i in e.identifiers), 2)]
    return keys, links


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def timed_async(coro: Any) -> float:
    start = time.perf_counter()
    await coro
    return time.perf_counter() - start


def sqlite_baseline(events: list[Event], size: int, path: str) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE identifiers (key TEXT PRIMARY KEY);"
        "CREATE TABLE links (a TEXT, b TEXT, count INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;"
    )

    def work() -> None:
        for batch in batches(events, size):
            keys, links = rows_of(batch)
            db.execute("BEGIN")
            db.executemany("INSERT OR IGNORE INTO identifiers VALUES (?)", [(k,) for k in keys])
            db.executemany(
                "INSERT INTO links VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
                links,
            )
            db.execute("COMMIT")

    try:
        return timed(work)
    finally:
        db.close()


async def neo4j_baseline(store: IdentityStore, events: list[Event], size: int) -> float:
    driver, database = store.driver, store.database  # type: ignore[attr-defined]
    async with driver.session(database=database) as session:
        await session.run("CREATE CONSTRAINT bench_identifier IF NOT EXISTS "
                          "FOR (i:BenchIdentifier) REQUIRE i.key IS UNIQUE")

        async def work() -> None:
            for batch in batches(events, size):
                keys, links = rows_of(batch)

                async def write(tx: Any, keys: list[str] = keys,
                                links: list[tuple[str, str]] = links) -> None:
                    await (await tx.run(RAW_NEO4J, identifiers=keys, links=links)).consume()

                await session.execute_write(write)

        try:
            return await timed_async(work())
        finally:
            await session.run("MATCH (i:BenchIdentifier) CALL (i) { DETACH DELETE i } "
                              "IN TRANSACTIONS OF 5000 ROWS")
            await session.run("DROP CONSTRAINT bench_identifier IF EXISTS")


async def run_ingest_bench(settings: Settings, n: int, size: int, console: Console
                           ) -> dict[str, Any]:
    console.print(f"generating {n:,} synthetic events ...")
    raws = list(synthetic_events(n))
    events = [parse_event(raw).event for raw in raws]
    links = sum(len(rows_of([e])[1]) for e in events)
    is_sqlite = settings.store.startswith("sqlite")
    tmp = tempfile.mkdtemp(prefix="idgraph-bench-")
    if is_sqlite:
        # Fresh files every run, so that the figures compare like with like.
        settings = settings.model_copy(update={"store": f"sqlite:///{tmp}/service.db"})
    store = open_store(settings.store, neo4j_database=settings.neo4j_database)
    services = await start(settings, store)
    try:
        if (await store.stats()).events:
            raise SystemExit(f"{settings.store.split('@')[-1]} already holds events; the benchmark "
                             "needs an empty store")
        console.print("raw baseline ...")
        cpu_at = time.process_time()
        if is_sqlite:
            raw_s = sqlite_baseline(events, size, os.path.join(tmp, "raw.db"))
        else:
            raw_s = await neo4j_baseline(store, events, size)
        raw_cpu = time.process_time() - cpu_at
        console.print("ingest service ...")

        async def ingest_all() -> None:
            # Through validation and normalisation, as `idgraph load` and the loaders do.
            for start_at in range(0, n, size):
                chunk = raws[start_at : start_at + size]
                await services.ingest.ingest_raw((str(i), raw) for i, raw in enumerate(chunk))

        cpu_at = time.process_time()
        service_s = await timed_async(ingest_all())
        service_cpu = time.process_time() - cpu_at
        stats = await store.stats()
    finally:
        await services.close()
    # On the embedded store all the work is this process's: its CPU seconds are a figure
    # that other work on a shared machine moves far less than the wall clock.
    cpu = {
        "service_cpu_events_per_s": round(n / service_cpu),
        "raw_baseline_cpu_events_per_s": round(n / raw_cpu),
        "service_over_raw_cpu": round(raw_cpu / service_cpu, 3),
    } if is_sqlite else {}
    return {
        "benchmark": "ingest",
        "store": settings.store.split("://")[0],
        "events": n,
        "batch_size": size,
        "links_per_run": links,
        "service_events_per_s": round(n / service_s),
        "raw_baseline_events_per_s": round(n / raw_s),
        "service_over_raw": round(raw_s / service_s, 3),
        "service_seconds": round(service_s, 2),
        "raw_seconds": round(raw_s, 2),
        **cpu,
        "customers": stats.customers,
        "identifiers": stats.identifiers,
    }
