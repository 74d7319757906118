"""`idgraph bench segments`: what keeping 20 segments up to date costs, and whether the
streaming and batch evaluations agree.

1. An empty store is filled with synthetic events (app.demo.synthetic_events) until it
   holds `customers` customers, with no segment defined.
2. The 20 definitions below are stored and a batch refresh evaluates every customer for
   the first time: the first figure of batch refresh time.
3. The next `events` events of the same stream are ingested in batches of 1,000, with
   streaming evaluation on. The time of the segment step is measured apart from the rest
   of each ingest, so "segments off" is the same ingest of the same events without that
   step, in the same run.
4. Agreement: every customer is evaluated from scratch at the same moment (no stored
   state read) and compared with the memberships the streaming kept. It must be 100%.
5. A second batch refresh over everyone: the routine figure.

The clock is the data's: each batch is evaluated at its last event's time, as a live
stream would be, so time windows open and close as the data moves.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from rich.console import Console

from app.bootstrap import start
from app.config import Settings
from app.demo import synthetic_events
from app.domain.changes import Change
from app.domain.events import parse_ts
from app.domain.plan import Plan
from app.domain.segments import define_segment, evaluate_all
from app.domain.traits import normal_ts
from app.services.segments import all_customers, customer_facts
from app.stores.values import SegmentRecord

BATCH = 1000
SEGMENTS = {
    "buyers": "count(purchase) >= 1",
    "repeat_buyers": "count(purchase) >= 2",
    "big_spenders": "computed(lifetime_value) >= 100",
    "recent_buyers": "count(purchase) >= 1 within 1d",
    "big_basket_buyers": "count(purchase where amount >= 100) >= 1",
    "high_value_week": "sum(purchase.amount) >= 150 within 7d",
    "engaged_today": "count(*) >= 3 within 1d",
    "browsers": "count(page_view) >= 3",
    "cart_abandoners": "count(add_to_cart) >= 1 within 2d AND NOT count(purchase) >= 1 "
                       "within 2d",
    "app_users": "has(device_id)",
    "mailable": "has(email)",
    "phone_only": "has(phone) AND NOT has(email)",
    "crm_known": "has(crm_id)",
    "email_engaged": "count(email_open) >= 1 OR count(email_click) >= 1",
    "app_loyal": "in_segment(app_users) AND computed(order_count) >= 1",
    "web_loyal": 'count(purchase where source = "web") >= 2',
    "multi_device": "computed(device_count) >= 2",
    "callers": "count(call) >= 1 within 7d",
    "lapsing": "in_segment(buyers) AND NOT in_segment(recent_buyers)",
    "ad_reached_not_bought": "count(impression) >= 1 AND NOT in_segment(buyers)",
}


class DataClock:
    """The time of the data: set to each batch's last event."""

    def __init__(self) -> None:
        self.now = datetime.fromisoformat("2024-01-01T00:00:00+00:00")

    def __call__(self) -> datetime:
        return self.now

    def follow(self, batch: list[dict[str, Any]]) -> None:
        self.now = max(self.now, parse_ts(normal_ts(batch[-1]["timestamp"])))


async def run_segments_bench(settings: Settings, customers: int, count: int, events: int,
                             console: Console) -> dict[str, Any]:
    services = await start(settings)
    clock = DataClock()
    services.ingest.clock = services.segments.clock = clock
    try:
        if (await services.store.stats()).events:
            raise SystemExit("bench segments needs an empty store")
        stream = synthetic_events(10 * customers + 2 * events)
        fill = await _fill(services, stream, customers, clock, console)

        catalogue: dict[str, Any] = {}
        names = list(SEGMENTS)[:count]
        for name in names:  # every definition checked as defineSegment would
            catalogue = define_segment(catalogue, name, SEGMENTS[name],
                                       services.segments.vocabulary([*catalogue, name]))
        now = services.segments.now()
        for name in names:
            await services.store.save_segment(SegmentRecord(name, SEGMENTS[name], now, now))
        console.print(f"{len(names)} segments defined; first batch refresh ...")
        started = time.perf_counter()
        first = await services.segments.refresh()
        first_refresh = time.perf_counter() - started

        console.print(f"streaming {events:,} events with the segments kept up to date ...")
        spent = 0.0
        after_plan = services.segments.after_plan

        async def timed(plan: Plan, now: str | None = None) -> list[Change]:
            nonlocal spent
            began = time.perf_counter()
            try:
                return await after_plan(plan, now)
            finally:
                spent += time.perf_counter() - began

        services.segments.after_plan = timed  # type: ignore[method-assign]
        streamed, changes, total = 0, 0, 0.0
        while streamed < events:
            batch = list(itertools.islice(stream, min(BATCH, events - streamed)))
            clock.follow(batch)
            began = time.perf_counter()
            result = await services.ingest.ingest_raw((str(n), e) for n, e in enumerate(batch))
            total += time.perf_counter() - began
            streamed += len(batch)
            changes += sum(c.kind.startswith("segment_") for c in result.changes)
        services.segments.after_plan = after_plan  # type: ignore[method-assign]

        console.print("checking every customer from scratch against the streamed state ...")
        streaming_agreement = await _agreement(services, at_last_check=True)
        started = time.perf_counter()
        second = await services.segments.refresh()
        routine_refresh = time.perf_counter() - started
        refreshed_agreement = await _agreement(services, at_last_check=False)
        sizes = await services.store.segment_sizes()
        return {
            "store": settings.store.split("@")[-1],
            "customers": fill["customers"],
            "segments": len(names),
            "fill": fill,
            "streaming": {
                "events": streamed,
                "segments_on_events_per_s": round(streamed / total, 1),
                "segments_off_events_per_s": round(streamed / (total - spent), 1),
                "segment_step_ms_per_event": round(1000 * spent / streamed, 3),
                "on_over_off": round((total - spent) / total, 3),
                "membership_changes": changes,
            },
            "batch_refresh": {
                "first_s": round(first_refresh, 1),
                "first_customers_per_s": round(fill["customers"] / first_refresh, 1),
                "first_changes": len(first),
                "routine_s": round(routine_refresh, 1),
                "routine_changes": len(second),
                "customers_per_s": round(fill["customers"] / routine_refresh, 1),
            },
            "agreement": {"streamed_vs_batch_at_each_last_check": streaming_agreement,
                          "refreshed_vs_batch_now": refreshed_agreement},
            "sizes": sizes,
        }
    finally:
        await services.close()


async def _fill(services: Any, stream: Iterator[dict[str, Any]], target: int,
                clock: DataClock, console: Console) -> dict[str, Any]:
    started, loaded, customers = time.perf_counter(), 0, 0
    console.print(f"loading synthetic events until there are {target:,} customers ...")
    while customers < target:
        batch = list(itertools.islice(stream, BATCH))
        clock.follow(batch)
        result = await services.ingest.ingest_raw((str(n), e) for n, e in enumerate(batch))
        loaded += len(batch)
        customers += result.new_customers - result.merges
        if loaded % (50 * BATCH) == 0:
            customers = (await services.store.stats()).customers
            console.print(f"  {loaded:,} events, {customers:,} customers")
    seconds = time.perf_counter() - started
    return {"events": loaded, "customers": (await services.store.stats()).customers,
            "seconds": round(seconds, 1), "events_per_s": round(loaded / seconds, 1)}


async def _agreement(services: Any, *, at_last_check: bool) -> dict[str, Any]:
    """Customers whose stored memberships equal a from-scratch evaluation (no stored state
    read) at the moment they were last checked, or now."""
    catalogue = await services.segments.catalogue()
    now = services.segments.now()
    agree, checked, differ = 0, 0, []
    async for ids in all_customers(services.store):
        facts = await customer_facts(services.store, ids)
        states = await services.store.segment_states(ids)
        for cid in ids:
            state = states.get(cid)
            at = state.checked_at if at_last_check and state and state.checked_at else now
            results = evaluate_all(catalogue, facts[cid], at, traits=services.segments.traits)
            batch = {n for n, r in results.items() if r.member}
            stored = set(state.memberships) if state else set()
            checked += 1
            if batch == stored:
                agree += 1
            else:
                differ.append({"customer": cid, "at": at, "stored": sorted(stored),
                               "batch": sorted(batch)})
    return {"customers": checked, "agree": agree,
            "share": round(agree / checked, 6) if checked else None,
            "examples_of_disagreement": differ[:5]}
