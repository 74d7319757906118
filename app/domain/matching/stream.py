"""The streaming step of matching inside an ingest batch.

Each trait-bearing event makes a record for its strongest identifier. In time order, each
record is compared with the stored records and the batch's earlier records that share a
blocking key; links above the upper threshold become MATCHED evidence, pairs between the
thresholds go to the review queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from networkx.utils import UnionFind

from app.domain.events import Event
from app.domain.matching.blocking import BUCKET_LIMIT, blocking_keys, select_candidates
from app.domain.matching.decisions import Decision
from app.domain.matching.matcher import match_new_record
from app.domain.matching.model import MatchResult
from app.domain.matching.records import (
    CONTACT_TRAITS,
    MatchRecord,
    TraitProblem,
    clean_traits,
)
from app.domain.matching.training import Matcher
from app.domain.rules import Rules


@dataclass(frozen=True, slots=True)
class PendingRecord:
    event: Event
    key: str  # the identifier the record belongs to
    record: MatchRecord
    blocks: tuple[str, ...]
    problems: tuple[TraitProblem, ...]


@dataclass(frozen=True, slots=True)
class Match:
    a: str
    b: str
    event: Event
    result: MatchResult
    model_version: str

    @property
    def review(self) -> bool:
        """Between the thresholds, or guarded: for the review queue, not a link."""
        return self.result.decision is Decision.REVIEW

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def payload(self) -> dict[str, Any]:
        payload = {"score": round(self.result.score, 3),
                   "probability": round(self.result.probability, 6),
                   "weights": self.result.weights(), "model_version": self.model_version}
        if self.result.guard is not None:
            payload["guard"] = str(self.result.guard)
        return payload


@dataclass(slots=True)
class MatchStep:
    matches: list[Match] = field(default_factory=list)
    records: list[PendingRecord] = field(default_factory=list)


def record_key(event: Event, rules: Rules) -> str:
    """The strongest identifier of an event owns the record of its traits."""
    return min(event.identifiers,
               key=lambda i: (-rules.type_priority.get(i.type, 0), i.key)).key


def with_contacts(event: Event) -> Mapping[str, Any]:
    """The event's traits, with its e-mail and phone identifiers where the traits have
    none: a record's contacts count for matching wherever they were given."""
    contacts = {i.type: i.value for i in reversed(event.identifiers)
                if i.type in CONTACT_TRAITS and i.type not in event.traits}
    return {**event.traits, **contacts} if contacts else event.traits


def pending_records(events: Iterable[Event], rules: Rules) -> list[PendingRecord]:
    pending = []
    for event in events:
        if not event.traits:
            continue
        key = record_key(event, rules)
        cleaned = clean_traits(key, with_contacts(event))
        if cleaned.record.traits:
            record = cleaned.record
            pending.append(PendingRecord(event, key, record, blocking_keys(record),
                                         cleaned.problems))
        elif cleaned.problems:
            pending.append(PendingRecord(event, key, cleaned.record, (), cleaned.problems))
    return pending


def breaks_limit(a: str, b: str, limits: Mapping[str, int]) -> str | None:
    """The limit that linking identifiers `a` and `b` would break on its own, if any."""
    types = Counter(key.partition(":")[0] for key in (a, b))
    for type_, count in sorted(types.items()):
        if type_ in limits and count > limits[type_]:
            return (f"limit: at most {limits[type_]} {type_} per customer "
                    f"(this link would join {count})")
    return None


MatchQuery = tuple[str, tuple[str, ...]]  # a pending record's key and blocking keys


def _in_time_order(pending: Iterable[PendingRecord]) -> list[PendingRecord]:
    return sorted(pending, key=lambda p: (p.event.ts, p.event.event_id))


def match_queries(pending: Iterable[PendingRecord]) -> tuple[MatchQuery, ...]:
    """What the store needs to find the batch's candidates, in the order they are matched."""
    return tuple((p.key, p.blocks) for p in _in_time_order(pending))


def candidate_ids(queries: Iterable[MatchQuery],
                  buckets: Mapping[str, Sequence[str]]) -> Iterator[list[str]]:
    """Per query, in order, the ids its record is compared with: the stored records and
    the batch's earlier records under its blocking keys, cut down by `select_candidates`.

    It depends on the buckets and the batch's keys alone, not on any match, so a store can
    run it before matching and read only the records that will be compared."""
    local: dict[str, list[str]] = {}  # block -> batch keys, newest last
    for key, blocks in queries:
        lists = [[*reversed(local.get(b, [])), *buckets.get(b, [])][:BUCKET_LIMIT]
                 for b in blocks]
        yield [c for c in select_candidates(lists) if c != key]
        for block in blocks:
            local.setdefault(block, []).append(key)


def needed_candidates(queries: Iterable[MatchQuery],
                      buckets: Mapping[str, Sequence[str]]) -> set[str]:
    """Every id that some query of the batch will be compared with."""
    return {c for ids in candidate_ids(queries, buckets) for c in ids}


def match_batch(pending: list[PendingRecord], matcher: Matcher,
                buckets: Mapping[str, list[str]], stored: Mapping[str, Mapping[str, str]],
                owners: Mapping[str, str]) -> MatchStep:
    """Match the batch's records in time order against the store and each other."""
    step = MatchStep()
    traits: dict[str, Mapping[str, str]] = dict(stored)
    clusters = UnionFind()
    ordered = _in_time_order(pending)
    queries = ((p.key, p.blocks) for p in ordered)
    for pending_record, ids in zip(ordered, candidate_ids(queries, buckets), strict=True):
        step.records.append(pending_record)
        if not pending_record.blocks:
            continue
        key = pending_record.key
        candidates = [MatchRecord(c, dict(traits[c])) for c in ids if c in traits]
        customer_of = {c: str(clusters[owners.get(c, c)]) for c in ids}
        outcome = match_new_record(matcher.model, pending_record.record, candidates,
                                   matcher.tf(pending_record.record), customer_of=customer_of,
                                   own=str(clusters[owners.get(key, key)]))
        version = matcher.model.version
        for result in outcome.links:
            step.matches.append(Match(key, result.candidate_id, pending_record.event, result,
                                      version))
            clusters.union(owners.get(key, key), owners.get(result.candidate_id,
                                                            result.candidate_id))
        for result in outcome.reviews:
            # A pair whose own identifiers break a limit could never be accepted.
            if breaks_limit(key, result.candidate_id, matcher.limits) is None:
                step.matches.append(Match(key, result.candidate_id, pending_record.event,
                                          result, version))
        traits[key] = pending_record.record.traits
    return step
