"""The Fellegi-Sunter model: match weights per comparison level, a score, a decision.

For each comparison level, m = P(level | the records match) and u = P(level | they do
not). A level's match weight is log2(m / u); the score of a pair is the prior's log2 odds
plus the weights of its levels (the null level weighs 0), so it is the log2 posterior
odds that the pair matches, and `probability` is 2^score / (1 + 2^score).

`prior` is the probability that two records drawn at random match. It is the right prior
for a candidate pair because the evidence that made the pair a candidate (a shared
blocking key) is counted again by the comparisons.

Term frequencies: on an exact agreement of a trait with a term-frequency table, u is the
chance that a random record has that very value, not the average chance of any value
agreeing. A shared "jansen" is weak evidence, a shared rare name strong. The caller
passes the relative frequency of the new record's values (on an exact agreement both
records hold the same value, so only the new record's values are ever looked up).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.matching.comparisons import (
    EXACT,
    CodeComparison,
    Comparison,
    DateComparison,
    ExactComparison,
    NameComparison,
    TextComparison,
    Traits,
    default_comparisons,
)
from app.domain.matching.household import household_reason
from app.domain.matching.records import MatchRecord

MODEL_FORMAT = 1
# Scores are log2 posterior odds. Above UPPER (P >= 0.999) a pair links, between LOWER
# (P >= 0.5) and UPPER it goes to review, below nothing is recorded.
UPPER = 10.0
LOWER = 0.0
# A new record that links to records of two customers ties them together; a link to a
# customer other than the best one needs this score (P >= 0.99999).
MERGE = 16.0
# The smallest relative frequency a term-frequency adjustment uses, so that a value seen
# once in a small store cannot weigh without bound.
TF_MIN_FREQUENCY = 1e-5

LINK, REVIEW, NONE = "link", "review", "none"

_KINDS: dict[str, type[Any]] = {
    "name": NameComparison,
    "text": TextComparison,
    "code": CodeComparison,
    "date": DateComparison,
    "exact": ExactComparison,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """The thresholds that turn a score into a decision, in log2 posterior odds."""

    upper: float = UPPER
    lower: float = LOWER
    merge: float = MERGE
    tf_min_frequency: float = TF_MIN_FREQUENCY


@dataclass(frozen=True, slots=True)
class ComparisonOutcome:
    comparison: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The score of one pair, every comparison's level and weight, and the decision.

    `guard` names the rule that kept a pair from linking whatever its score (the pair
    then goes to review).
    """

    record_id: str
    candidate_id: str
    score: float
    probability: float
    comparisons: tuple[ComparisonOutcome, ...]
    decision: str
    guard: str | None = None

    def weights(self) -> dict[str, float]:
        """comparison -> weight, as the MATCHED edge carries them."""
        return {c.comparison: c.weight for c in self.comparisons}


def probability_of(score: float) -> float:
    if score > 60:
        return 1.0
    odds = math.exp2(score)
    return odds / (1.0 + odds)


def log2_odds(p: float) -> float:
    return math.log2(p / (1.0 - p))


@dataclass(slots=True)
class MatchModel:
    """Comparisons with their m and u per level (index 0, the null level, is unused)."""

    comparisons: tuple[Comparison, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    settings: MatchSettings = field(default_factory=MatchSettings)
    version: str = "unversioned"
    # derived: weights[k][level], log2(m/u) with 0 for the null level
    weights: tuple[tuple[float, ...], ...] = field(init=False, repr=False)
    prior_weight: float = field(init=False, repr=False)
    _tf_slots: tuple[tuple[int, str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for comp, m, u in zip(self.comparisons, self.m, self.u, strict=True):
            if not len(comp.levels) == len(m) == len(u):
                raise ValueError(f"{comp.name}: m and u need one value per level")
        self.weights = tuple(
            (0.0, *(math.log2(mi / ui) for mi, ui in zip(m[1:], u[1:], strict=True)))
            for m, u in zip(self.m, self.u, strict=True)
        )
        self.prior_weight = log2_odds(self.prior)
        self._tf_slots = tuple(
            (k, c.tf_trait) for k, c in enumerate(self.comparisons) if c.tf_trait
        )

    # -- scoring ---------------------------------------------------------------------
    def vector(self, a: Traits, b: Traits) -> tuple[int, ...]:
        return tuple(c.level(a, b) for c in self.comparisons)

    def level_weights(self, vector: Sequence[int], tf: Mapping[str, float]) -> list[float]:
        """The weight of each comparison's level, term-frequency adjusted where it applies.

        `tf` maps a trait to the relative frequency of the new record's value of it.
        """
        weights = [w[level] for w, level in zip(self.weights, vector, strict=True)]
        for k, trait in self._tf_slots:
            if vector[k] == EXACT and trait in tf:
                frequency = max(tf[trait], self.settings.tf_min_frequency)
                weights[k] = math.log2(self.m[k][EXACT] / frequency)
        return weights

    def score_vector(self, vector: Sequence[int], tf: Mapping[str, float]) -> float:
        return self.prior_weight + sum(self.level_weights(vector, tf))

    def decision_for(self, score: float) -> str:
        if score >= self.settings.upper:
            return LINK
        if score >= self.settings.lower:
            return REVIEW
        return NONE

    def match(
        self, new: MatchRecord, candidate: MatchRecord, tf: Mapping[str, float] | None = None
    ) -> MatchResult:
        """Score `new` against a stored `candidate`; `tf` as in `level_weights`."""
        vector = self.vector(new.traits, candidate.traits)
        return self.result(new, candidate, vector, tf or {})

    def result(
        self,
        new: MatchRecord,
        candidate: MatchRecord,
        vector: Sequence[int],
        tf: Mapping[str, float],
    ) -> MatchResult:
        weights = self.level_weights(vector, tf)
        score = self.prior_weight + sum(weights)
        decision = self.decision_for(score)
        guard = household_reason(new.traits, candidate.traits, self.comparisons, vector)
        if guard and decision == LINK:
            decision = REVIEW
        outcomes = tuple(
            ComparisonOutcome(c.name, c.levels[level], round(w, 4))
            for c, level, w in zip(self.comparisons, vector, weights, strict=True)
        )
        return MatchResult(
            new.record_id,
            candidate.record_id,
            score,
            probability_of(score),
            outcomes,
            decision,
            guard,
        )

    # -- storage ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "prior": self.prior,
            "settings": dataclasses.asdict(self.settings),
            "comparisons": [
                {
                    "kind": _KIND_OF[type(c)],
                    "params": dataclasses.asdict(c),
                    "levels": list(c.levels),
                    "m": list(m),
                    "u": list(u),
                }
                for c, m, u in zip(self.comparisons, self.m, self.u, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unknown match model format {data.get('format')!r}")
        comparisons = tuple(_KINDS[c["kind"]](**c["params"]) for c in data["comparisons"])
        for comp, stored in zip(comparisons, data["comparisons"], strict=True):
            if list(comp.levels) != stored["levels"]:
                raise ValueError(f"{comp.name}: stored levels differ from the definition")
        return cls(
            comparisons=comparisons,
            m=tuple(tuple(c["m"]) for c in data["comparisons"]),
            u=tuple(tuple(c["u"]) for c in data["comparisons"]),
            prior=data["prior"],
            settings=MatchSettings(**data["settings"]),
            version=data["version"],
        )


def untrained_model(
    comparisons: tuple[Comparison, ...] | None = None, settings: MatchSettings | None = None
) -> MatchModel:
    """A model with rough m and u (exact agreement likely for matches, rare otherwise);
    EM's starting point, and usable before any training."""
    comparisons = comparisons or default_comparisons()
    m, u = zip(*(starting_probabilities(len(c.levels)) for c in comparisons), strict=True)
    return MatchModel(
        comparisons,
        tuple(m),
        tuple(u),
        prior=1e-4,
        settings=settings or MatchSettings(),
        version="untrained",
    )


def starting_probabilities(n_levels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """m falls and u rises from `exact` to `else`; both sum to 1 over the non-null levels."""
    inner = n_levels - 3  # levels between exact and else
    m = [0.0, 0.85, *([0.1 / inner] * inner if inner else []), 0.05 if inner else 0.15]
    u = [0.0, 0.01, *([0.04 / inner] * inner if inner else []), 0.95 if inner else 0.99]
    return tuple(m), tuple(u)
