"""`idgraph bench match`: a data set through the real pipeline, next to Splink and
recordlinkage's ECM on the same rows in the same run.

    idgraph bench match --dataset febrl1|febrl2|febrl3|febrl4|synth:SHAPE

The events (match_data.py) train the matcher without labels, as `idgraph matcher train`
does, and are then loaded in batches into a fresh store, as `idgraph load` does. A row's
customer is the customer of the identifier that owns its record; pairwise precision,
recall and F1 count every pair of rows in one customer. An over-merged customer holds
rows of more than one person. The review load is the open review items per 100 rows (the
trait-bearing records), with how many of them the rules forbid to accept. The calibration
bins the pairs training compared by their match probability, next to the share that is
truly one person.

With `--distractors N`, N strangers drawn from the data set's own values are stored first
and the first `timed` records are ingested one at a time: the streaming latency at scale.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from bisect import bisect_right
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from app.bench.match_data import ID_TYPE, START, BenchData, load_dataset
from app.bench.match_metrics import cluster_scores
from app.bootstrap import Services, start
from app.config import Settings
from app.domain.events import parse_event
from app.domain.matching.blocking import blocking_keys
from app.domain.matching.records import MatchRecord
from app.domain.matching.stream import pending_records
from app.domain.matching.training import Matcher, met_pairs
from app.domain.plan import CustomerInfo, Gather, IdentifierDelta, Plan
from app.domain.resolution import customer_id_for
from app.domain.rules import Rules
from app.services.matching import train_from_events
from app.stores.base import Decide, IdentityStore

METRICS = ("precision", "recall", "f1", "over_merged_per_1000_people", "review_per_100_records")


async def run_match_bench(settings: Settings, dataset: str, *, seed: int = 1,
                          batch_size: int = 1000, distractors: int = 0, baseline: bool = True,
                          timed: int = 1000, console: Console) -> dict[str, Any]:
    if settings.store.startswith("sqlite"):
        tmp = tempfile.mkdtemp(prefix="idgraph-match-")
        settings = settings.model_copy(update={"store": f"sqlite:///{tmp}/match.db"})
    services = await start(settings)
    try:
        if (await services.store.stats()).events:
            raise SystemExit("the benchmark needs an empty store")
        data = load_dataset(dataset, seed, services.ingest.rules)
        console.print(f"{data.name}: {data.description}; {len(data.events):,} events, "
                      f"{len(data.rows):,} records of {data.people:,} people", markup=False)
        ours = await _idgraph(services, data, seed, batch_size, distractors, timed, console)
    finally:
        await services.close()
    report: dict[str, Any] = {"dataset": data.name, "description": data.description,
                              "store": settings.store.split("://")[0],
                              "records": len(data.rows), "people": data.people,
                              "idgraph": ours}
    if baseline:
        from app.bench.match_baselines import run_ecm, run_splink

        console.print("Splink ...")
        report["splink"] = run_splink(data.rows, seed)
        console.print("recordlinkage ECM ...")
        report["recordlinkage_ecm"] = run_ecm(data.rows)
    console.print(table(report))
    console.print("calibration (match probability from: mean probability / share one person, "
                  "pairs): " + "; ".join(
                      f"{b['from']}: {b['mean_probability']} / {b['one_person']}, {b['pairs']}"
                      for b in ours["calibration"]), markup=False, soft_wrap=True)
    return report


async def _idgraph(services: Services, data: BenchData, seed: int, batch_size: int,
                   distractors: int, timed: int, console: Console) -> dict[str, Any]:
    started = time.perf_counter()
    matcher, training = await train_from_events(services.store, data.events,
                                                services.ingest.rules, seed=seed)
    train_s = time.perf_counter() - started
    for line in training.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    await services.ingest.load_matcher()
    if distractors:
        console.print(f"storing {distractors:,} distractor records ...")
        parsed = [parse_event(e).event for e in data.events]
        records = [p.record for p in pending_records(parsed, services.ingest.rules)]
        await store_distractors(services.store, records, distractors, seed, console)
    alone = min(timed, len(data.events)) if distractors else 0
    spans = [(i, i + 1) for i in range(alone)]
    spans += [(i, i + batch_size) for i in range(alone, len(data.events), batch_size)]
    latencies: list[float] = []
    started = time.perf_counter()
    for lo, hi in spans:
        t0 = time.perf_counter()
        await services.ingest.ingest_raw((str(n), raw) for n, raw in
                                         enumerate(data.events[lo:hi], start=lo))
        if hi - lo == 1:
            latencies.append(time.perf_counter() - t0)
    ingest_s = time.perf_counter() - started
    owners = await services.store.owners([r.key for r in data.rows])
    labels = [owners.get(r.key, r.key) for r in data.rows]
    open_items = await services.store.reviews(1_000_000, None)
    forbidden = 0
    for item in open_items:
        forbidden += not (await services.steward.preview_review(item)).acceptable
    scores = cluster_scores(labels, [r.entity for r in data.rows])
    result: dict[str, Any] = {
        **scores,
        "review_items": len(open_items),
        "review_items_the_rules_forbid": forbidden,
        "review_per_100_records": round(100 * len(open_items) / len(data.rows), 2),
        "training": {**training.training.to_json(), "lines": training.lines()},
        "calibration": calibration(data, matcher, services.ingest.rules),
        "seconds": {"train": round(train_s, 1), "ingest": round(ingest_s, 1)},
    }
    if latencies:
        result["latency_ms"] = {
            "stored_before": distractors,
            "p50": round(1000 * percentile(latencies, 0.5), 2),
            "p99": round(1000 * percentile(latencies, 0.99), 2),
            "mean": round(1000 * statistics.fmean(latencies), 2),
        }
    return result


CALIBRATION_BINS = (0.5, 0.8, 0.95, 0.99)


def calibration(data: BenchData, matcher: Matcher, rules: Rules) -> list[dict[str, Any]]:
    """The pairs training compared (as the stream meets them), binned by the match
    probability the matcher gives them: the mean probability next to the share that is
    truly one person. A calibrated matcher has the two close."""
    events = [parse_event(e).event for e in data.events]
    records = list({p.record.record_id: p.record
                    for p in pending_records(events, rules) if p.blocks}.values())
    entity = {row.key: row.entity for row in data.rows}
    model = matcher.model
    bins = [[0, 0, 0.0] for _ in CALIBRATION_BINS]
    for pairs in met_pairs(records, model, matcher.frequencies):
        for p in pairs:
            probability = model.judge(p.new, p.old, p.facts, p.tf).probability
            k = bisect_right(CALIBRATION_BINS, probability) - 1
            if k >= 0:
                bins[k][0] += 1
                bins[k][1] += entity.get(p.new) == entity.get(p.old)
                bins[k][2] += probability
    return [{"from": low, "pairs": n, "mean_probability": round(total / n, 3) if n else None,
             "one_person": round(true / n, 3) if n else None}
            for low, (n, true, total) in zip(CALIBRATION_BINS, bins, strict=True)]


def table(report: dict[str, Any]) -> Table:
    systems = [(name, report[key]) for name, key in (
        ("idgraph", "idgraph"), (f"Splink {report.get('splink', {}).get('version', '')}",
                                 "splink"), ("recordlinkage ECM", "recordlinkage_ecm"))
               if key in report]
    out = Table(title=f"{report['dataset']}: {report['records']:,} records, "
                      f"{report['people']:,} people")
    out.add_column("")
    for name, _ in systems:
        out.add_column(name, justify="right")
    for metric in METRICS:
        out.add_row(metric.replace("_", " "),
                    *(str(result.get(metric, "-")) for _, result in systems))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- distractors: a store that already holds many records -----------------------------------
def synthetic_distractors(records: list[MatchRecord], n: int, rng: random.Random
                          ) -> list[MatchRecord]:
    """Records whose traits are drawn independently from the values of `records`, with
    birth dates spread over 1920-2005: strangers that share names, streets and postcodes
    with the real records at realistic rates."""
    pools: dict[str, list[str]] = {}
    for record in records:
        for trait, value in record.traits.items():
            pools.setdefault(trait, []).append(value)
    out = []
    for i in range(n):
        traits = {t: rng.choice(pool) for t, pool in pools.items() if t != "birth_date"}
        year, day = rng.randrange(1920, 2006), rng.randrange(365)
        traits["birth_date"] = f"{year:04d}{1 + day // 31 % 12:02d}{1 + day % 28:02d}"
        out.append(MatchRecord(f"syn-{i}", traits))
    return out


async def store_distractors(store: IdentityStore, records: list[MatchRecord], n: int,
                            seed: int, console: Console) -> None:
    """File `n` strangers as stored records: each an identifier owned by a customer of
    its own, with its match record (written straight as a plan, which is what ingest
    writes for a record, less the event; faster than a million ingests)."""
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
