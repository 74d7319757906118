"""`idgraph bench asof`: a customer query as of a moment, next to the same query without
asOf, in one run, on the same customers.

The store is filled with synthetic customers (as `idgraph bench api` fills it) until it
holds `customers` of them, or used as it is. For each of `queries` random customers the
moment is the time of the middle event of its timeline, so that the answer is a past
state of it and later events exist. Both queries are run in process through the GraphQL
schema (no HTTP: what is compared is the work behind the field), one at a time, and ask
for the customer's id, identifiers, profile, first timeline page, segments and its
identity graph one hop out. The as-of query's time is then broken down into its parts:
gathering the region, reading its events, rebuilding them into the scratch store, and
reading the answer from it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

from app.api.auth import Principal
from app.api.context import Context
from app.api.events import InProcessBus
from app.api.schema import build_schema
from app.bench.api import ensure_customers, sample_customers, summary
from app.bootstrap import Services, start
from app.config import Settings
from app.services.asof import AsOfService, one_page
from app.services.rebuild import Rebuild

QUERY = """query Customer($id: ID!, $asOf: DateTime) {
  customer(id: $id, asOf: $asOf) {
    id
    identifiers { type value firstSeen lastSeen }
    profile { traits { name value source observedAt } }
    timeline(first: 20) { edges { node { eventId type timestamp } } }
    segments { segmentId since }
    identityGraph(depth: 1) { nodes { key customerId } links { a b status } }
  }
}"""
WARMUP = 5


async def _moments(services: Services, n: int, seed: int) -> list[tuple[str, str]]:
    """(customer id, the time of its middle event) of `n` random customers."""
    chosen = await sample_customers(services, n, seed)
    timelines = await services.store.timelines(chosen, 200)
    picks = []
    for cid in chosen:
        events = timelines.get(cid, [])
        if events:
            picks.append((cid, events[len(events) // 2].timestamp))
    return picks


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    begin = time.perf_counter()
    await call()
    return time.perf_counter() - begin


async def run_asof_bench(settings: Settings, customers: int, queries: int, console: Console,
                         seed: int = 7) -> dict[str, Any]:
    services = await start(settings)
    try:
        held = await ensure_customers(services, customers, console)
        picks = await _moments(services, queries + WARMUP, seed)
        # with the server's caches of parsed and validated documents
        schema = build_schema(settings)
        context = Context(services=services, principal=Principal("admin", "bench"),
                          bus=InProcessBus())

        async def query(cid: str, at: str | None) -> None:
            context.fresh_loaders()
            result = await schema.execute(QUERY, variable_values={"id": cid, "asOf": at},
                                          context_value=context)
            if result.errors or not (result.data or {}).get("customer"):
                raise SystemExit(f"the query for {cid} failed: {result.errors}")

        for cid, at in picks[:WARMUP]:
            await query(cid, None)
            await query(cid, at)
        picks = picks[WARMUP:]
        plain = [await _timed(lambda c=cid: query(c, None)) for cid, _ in picks]
        as_of = [await _timed(lambda c=cid, a=at: query(c, a)) for cid, at in picks]
        parts = await _breakdown(AsOfService(services), picks)
        stats = await services.store.stats()
    finally:
        await services.close()
    report = {
        "store": settings.store.split("@")[-1].split("://")[0],
        "customers": held,
        "events": stats.events,
        "queries": len(picks),
        "without_as_of": summary(plain, sum(plain), 0),
        "as_of": summary(as_of, sum(as_of), 0),
        "as_of_over_plain_p50": round(sorted(as_of)[len(as_of) // 2]
                                      / sorted(plain)[len(plain) // 2], 1),
        "as_of_parts_mean_ms": parts,
    }
    console.print(f"as of a moment: p50 {report['as_of']['p50_ms']} ms, without asOf "
                  f"{report['without_as_of']['p50_ms']} ms, on {held:,} customers")
    return report


async def _breakdown(service: AsOfService, picks: list[tuple[str, str]]) -> dict[str, float]:
    """The mean time of each part of an as-of answer, and the mean sizes."""
    totals = {"region_ms": 0.0, "events_ms": 0.0, "rebuild_ms": 0.0, "identifiers": 0.0,
              "events": 0.0}
    for cid, at in picks:
        begin = time.perf_counter()
        own = (await service.store.identifiers_of([cid])).get(cid, [])
        region, steps = await service.gathered([r.key for r in own], at)
        gathered = time.perf_counter()
        events = await service.events(region)
        read = time.perf_counter()
        scratch = await service.scratch(at)
        await Rebuild(scratch.ingest, scratch.steward).run(one_page(events), steps, until=at)
        rebuilt = time.perf_counter()
        totals["region_ms"] += (gathered - begin) * 1000
        totals["events_ms"] += (read - gathered) * 1000
        totals["rebuild_ms"] += (rebuilt - read) * 1000
        totals["identifiers"] += len(region.keys)
        totals["events"] += len(events)
    return {k: round(v / max(len(picks), 1), 2) for k, v in totals.items()}
