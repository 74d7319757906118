"""`idgraph bench search`: what forgiving a typo costs a search, on the SQLite store.

1. An empty SQLite store is filled with synthetic events (app.demo.synthetic_events).
2. `queries` customers' e-mail addresses are drawn; each gets one typo: two neighbouring
   letters of its local part swapped, at a drawn place.
3. Each address is searched as it is and with its typo (searchCustomers' service, first
   10), once as it was searched before typos were forgiven (one search of the exact
   tokens: the baseline, same run, same store) and once as it is searched now (the exact
   tokens; when nothing scores 90 or more, the tokens and their pieces).
   The figures are latency (median and 95th percentile) and how often the customer is the
   first result.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from rich.console import Console

from app.bootstrap import start
from app.config import Settings
from app.demo import synthetic_events
from app.domain.search import search_text
from app.services.customers import SEARCH_CANDIDATES, SearchHit, rank, search_customers

BATCH = 1000
Search = Callable[[Any, str, int], Awaitable[list[SearchHit]]]


async def before(store: Any, text: str, first: int) -> list[SearchHit]:
    """searchCustomers' service as it was before typos were forgiven: one search of the
    exact tokens, ranked."""
    candidates = await store.search(search_text(text), SEARCH_CANDIDATES)
    return await anyio.to_thread.run_sync(rank, search_text(text), candidates, first)


def with_typo(address: str, rng: random.Random) -> str:
    local, _, domain = address.rpartition("@")
    if len(local) < 3:
        return address
    i = rng.randrange(1, len(local) - 1)
    return local[:i] + local[i + 1] + local[i] + local[i + 2:] + "@" + domain


async def run_search_bench(events: int, queries: int, console: Console, *, seed: int = 1
                           ) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="idgraph-bench-search-")
    services = await start(Settings(store=f"sqlite:///{folder}/search.db"))
    store = services.store
    try:
        console.print(f"loading {events:,} synthetic events ...")
        raws = list(synthetic_events(events, seed=seed))
        for at in range(0, events, BATCH):
            chunk = raws[at:at + BATCH]
            await services.ingest.ingest_raw((str(n), raw) for n, raw in enumerate(chunk))
        owners, _ = await store.membership()
        owned = {k: c for k, c in owners.items() if c}
        emails = sorted(k for k in owned if k.startswith("email:"))
        rng = random.Random(seed)
        chosen = rng.sample(emails, min(queries, len(emails)))
        cases = [(owned[k], k.partition(":")[2]) for k in chosen]
        typos = [(cid, with_typo(address, rng)) for cid, address in cases]
        console.print(f"searching {len(cases)} of {len(emails):,} e-mail addresses ...")
        report: dict[str, Any] = {"events": events, "customers": len(set(owned.values())),
                                  "queries": len(cases)}
        for name, asked in (("exact", cases), ("typo", typos)):
            for _, text in asked:  # warm the page cache: the first pass pays for it
                await search_customers(store, text, 10)
            report[f"baseline_{name}"], report[name] = await _timed(store, asked)
    finally:
        await services.close()
    return report


async def _timed(store: Any, cases: list[tuple[str, str]]
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """The figures of `before` and of searchCustomers' service on the same cases, taking
    turns at going first, so that neither gains from the other's reads."""
    took: dict[Search, list[float]] = {before: [], search_customers: []}
    first: dict[Search, int] = {before: 0, search_customers: 0}
    for n, (cid, text) in enumerate(cases):
        for search in ((before, search_customers) if n % 2 else (search_customers, before)):
            started = time.perf_counter()
            hits = await search(store, text, 10)
            took[search].append((time.perf_counter() - started) * 1000)
            first[search] += bool(hits) and hits[0].customer_id == cid
    old, new = ({"median_ms": round(statistics.median(took[s]), 2),
                 "p95_ms": round(sorted(took[s])[int(0.95 * (len(took[s]) - 1))], 2),
                 "found_first": round(first[s] / len(cases), 3)}
                for s in (before, search_customers))
    return old, new
