"""Training a matcher from records, without labels: the model and its term frequencies.

Training replays the records in the order given, pairing each with the earlier records
its blocking keys find (the pairs the stream will meet), estimates u from random pairs
and m by EM over those candidate pairs, and counts the values of the term-frequency
traits. The result is stored as one JSON document and used by every loader.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.matching.blocking import BlockIndex, blocking_keys
from app.domain.matching.comparisons import comparison_vector, default_comparisons
from app.domain.matching.em import EmReport, train
from app.domain.matching.model import MatchModel, MatchSettings
from app.domain.matching.records import MatchRecord
from app.domain.matching.termfreq import TermFrequencies, tf_traits


@dataclass(slots=True)
class Matcher:
    """A trained model with the term frequencies it was trained on."""

    model: MatchModel
    frequencies: TermFrequencies

    def tf(self, record: MatchRecord) -> dict[str, float]:
        return self.frequencies.for_record(record)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.to_json(),
            "term_frequencies": {t: dict(c) for t, c in self.frequencies.counts.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Matcher:
        model = MatchModel.from_json(data["model"])
        table = TermFrequencies(tf_traits(model.comparisons))
        for trait, counts in data.get("term_frequencies", {}).items():
            table.counts[trait] = Counter(counts)
            table.totals[trait] = sum(counts.values())
        return cls(model, table)


def candidate_pairs(records: Sequence[MatchRecord]) -> set[tuple[str, str]]:
    """Each record with the earlier records its keys find: the pairs the stream meets."""
    index = BlockIndex()
    pairs: set[tuple[str, str]] = set()
    for record in records:
        rid, keys = record.record_id, blocking_keys(record)
        pairs.update((min(rid, c), max(rid, c)) for c in index.candidates(keys) if c != rid)
        index.add(rid, keys)
    return pairs


def train_matcher(records: Sequence[MatchRecord], rng: random.Random, *,
                  settings: MatchSettings | None = None, version: str = "em"
                  ) -> tuple[Matcher, EmReport]:
    comparisons = default_comparisons()
    by_id = {r.record_id: r for r in records}
    vectors = [comparison_vector(comparisons, by_id[a].traits, by_id[b].traits)
               for a, b in sorted(candidate_pairs(records))]
    model, report = train(records, vectors, rng, comparisons=comparisons, settings=settings,
                          version=version)
    table = TermFrequencies.of(records, tf_traits(model.comparisons))
    return Matcher(model, table), report
