"""Term frequencies: how common each value of a trait is among the stored records.

The store keeps the counts; scoring a new record needs only the relative frequency of the
new record's own values (`for_record`), a handful of lookups per record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.domain.matching.comparisons import Comparison
from app.domain.matching.records import MatchRecord


def tf_traits(comparisons: Iterable[Comparison]) -> tuple[str, ...]:
    return tuple(c.tf_trait for c in comparisons if c.tf_trait)


@dataclass(slots=True)
class TermFrequencies:
    """value counts per trait; the in-memory reference for the store's table."""

    traits: tuple[str, ...]
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for trait in self.traits:
            self.counts.setdefault(trait, Counter())
            self.totals.setdefault(trait, 0)

    def add(self, record: MatchRecord) -> None:
        for trait in self.traits:
            value = record.traits.get(trait)
            if value is not None:
                self.counts[trait][value] += 1
                self.totals[trait] += 1

    def frequency(self, trait: str, value: str) -> float | None:
        count, total = self.counts[trait].get(value, 0), self.totals[trait]
        return count / total if count else None

    def for_record(self, record: MatchRecord) -> dict[str, float]:
        """trait -> relative frequency of `record`'s value, for the values on file."""
        out = {}
        for trait in self.traits:
            value = record.traits.get(trait)
            if value is not None and (f := self.frequency(trait, value)) is not None:
                out[trait] = f
        return out

    @classmethod
    def of(cls, records: Iterable[MatchRecord], traits: tuple[str, ...]) -> TermFrequencies:
        table = cls(traits)
        for record in records:
            table.add(record)
        return table
