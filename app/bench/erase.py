"""`idgraph bench erase`: what an erasure costs, and how much of it goes to making the
erased data unrecoverable from the store's files (docs/privacy.md).

An empty store (a fresh SQLite file unless --store names another) is filled with `events`
synthetic events; then `erasures` customers, drawn at random, are erased one by one
through the erasure use case, as `forgetCustomer` does. Each erasure is timed whole and
in its last step, `purge_erased` (SQLite: VACUUM and a TRUNCATE checkpoint of the log;
Neo4j: nothing), so the figure of the rest (the transaction that deletes, suppresses and
scrubs every spelling from the free text that stays) is the baseline beside it.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rich.console import Console

from app.bootstrap import start
from app.config import Settings
from app.demo import synthetic_events
from app.services.segments import all_customers

BATCH = 1000


def _timed(spent: list[float], step: Callable[[], Awaitable[None]]
           ) -> Callable[[], Coroutine[Any, Any, None]]:
    async def timed() -> None:
        started = time.perf_counter()
        await step()
        spent.append(time.perf_counter() - started)

    return timed


async def run_erase_bench(settings: Settings, events: int, erasures: int, console: Console,
                          *, seed: int = 1) -> dict[str, Any]:
    is_sqlite = settings.store.startswith("sqlite")
    if is_sqlite:
        folder = tempfile.mkdtemp(prefix="idgraph-bench-erase-")
        settings = settings.model_copy(update={"store": f"sqlite:///{folder}/erase.db"})
    services = await start(settings)
    store = services.store
    try:
        if (await store.stats()).events:
            raise SystemExit(f"{settings.store.split('@')[-1]} already holds events; the "
                             "benchmark needs an empty store")
        console.print(f"loading {events:,} synthetic events ...")
        raws = list(synthetic_events(events, seed=seed))
        for at in range(0, events, BATCH):
            chunk = raws[at:at + BATCH]
            await services.ingest.ingest_raw((str(n), raw) for n, raw in enumerate(chunk))
        customers = [c async for page in all_customers(store) for c in page]
        chosen = random.Random(seed).sample(customers, min(erasures, len(customers)))
        purge: list[float] = []
        store.purge_erased = _timed(purge, store.purge_erased)  # type: ignore[method-assign]
        whole: list[float] = []
        console.print(f"erasing {len(chosen)} of {len(customers):,} customers ...")
        for customer in chosen:
            started = time.perf_counter()
            await services.privacy.forget(customer, "bench", "benchmark erasure")
            whole.append(time.perf_counter() - started)
        stats = await store.stats()
    finally:
        await services.close()
    rest = [w - p for w, p in zip(whole, purge, strict=True)]
    report: dict[str, Any] = {
        "benchmark": "erase",
        "store": settings.store.split("://")[0],
        "events": events,
        "customers_before": len(customers),
        "erasures": len(chosen),
        "erasure_ms_median": _ms(statistics.median(whole)),
        "erasure_ms_max": _ms(max(whole)),
        "without_purge_ms_median": _ms(statistics.median(rest)),
        "purge_ms_median": _ms(statistics.median(purge)),
        "identifiers_after": stats.identifiers,
    }
    if is_sqlite:
        report["database_bytes"] = _size(f"{folder}/erase.db")
    return report


def _size(path: str) -> int:
    return os.path.getsize(path)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
