"""Estimating the model without labels.

u (the level probabilities among non-matches) comes from random pairs of records: almost
every random pair is a non-match. m (among matches) and the share of matches among the
candidate pairs come from expectation-maximisation over the comparison vectors of the
blocked candidate pairs, with u held fixed. The candidate share is then turned into the
prior for two random records.

Pure: the caller passes the records, the vectors and the random source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from random import Random

from app.domain.matching.comparisons import NULL, Comparison
from app.domain.matching.model import MatchModel, MatchSettings, untrained_model
from app.domain.matching.records import MatchRecord

U_SAMPLE_PAIRS = 200_000
TOLERANCE = 1e-5
MAX_ITERATIONS = 500
# Pseudo-counts added to every level, so that a level never seen in training keeps a
# small probability instead of an infinite weight.
M_PSEUDO_COUNT = 1.0
U_PSEUDO_COUNT = 1.0
# Share of matches among candidate pairs that EM starts from.
START_CANDIDATE_PRIOR = 0.1

Pattern = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EmReport:
    converged: bool
    iterations: int
    max_change: float  # largest change of a parameter in the last iteration
    candidate_prior: float  # estimated share of matches among the candidate pairs
    prior: float  # estimated probability that two random records match
    candidate_pairs: int
    patterns: int  # distinct comparison vectors
    u_pairs: int


def random_pairs(n: int, count: int, rng: Random) -> list[tuple[int, int]]:
    """`count` pairs of distinct indices below n (with repetition across pairs)."""
    pairs = []
    for _ in range(count):
        i = rng.randrange(n)
        j = rng.randrange(n - 1)
        pairs.append((i, j + (j >= i)))
    return pairs


def estimate_u(
    records: Sequence[MatchRecord],
    comparisons: Sequence[Comparison],
    rng: Random,
    pairs: int = U_SAMPLE_PAIRS,
) -> tuple[tuple[float, ...], ...]:
    """u per comparison level, from `pairs` random pairs of `records`."""
    if len(records) < 2:
        raise ValueError("estimating u needs at least two records")
    counts = [[0] * len(c.levels) for c in comparisons]
    for i, j in random_pairs(len(records), pairs, rng):
        a, b = records[i].traits, records[j].traits
        for k, comp in enumerate(comparisons):
            counts[k][comp.level(a, b)] += 1
    return tuple(_normalise(row, U_PSEUDO_COUNT) for row in counts)


def _normalise(counts: Sequence[float], pseudo: float) -> tuple[float, ...]:
    """Probabilities over the non-null levels (index 0, null, stays 1.0: it weighs 0)."""
    total = sum(counts[1:]) + pseudo * (len(counts) - 1)
    return (1.0, *((c + pseudo) / total for c in counts[1:]))


def pattern_counts(vectors: Iterable[Pattern]) -> Counter[Pattern]:
    return Counter(vectors)


def estimate_m(
    patterns: Mapping[Pattern, int],
    u: Sequence[Sequence[float]],
    start_m: Sequence[Sequence[float]],
    *,
    start_prior: float = START_CANDIDATE_PRIOR,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[tuple[tuple[float, ...], ...], float, bool, int, float]:
    """EM for m and the share of matches among candidates, u fixed.

    Returns (m, candidate prior, converged, iterations, last max change).
    """
    items = list(patterns.items())
    total = sum(count for _, count in items)
    m = [list(row) for row in start_m]
    prior = start_prior
    change = float("inf")
    for iteration in range(1, max_iterations + 1):
        expected = [[0.0] * len(row) for row in m]
        matched = 0.0
        for pattern, count in items:
            pm, pu = prior, 1.0 - prior
            for k, level in enumerate(pattern):
                if level != NULL:
                    pm *= m[k][level]
                    pu *= u[k][level]
            w = count * pm / (pm + pu)
            matched += w
            for k, level in enumerate(pattern):
                expected[k][level] += w
        new_m = [list(_normalise(row, M_PSEUDO_COUNT)) for row in expected]
        new_prior = matched / total
        change = max(
            abs(new_prior - prior),
            *(
                abs(x - y)
                for old, new in zip(m, new_m, strict=True)
                for x, y in zip(old[1:], new[1:], strict=True)
            ),
        )
        m, prior = new_m, new_prior
        if change < tolerance:
            return tuple(tuple(row) for row in m), prior, True, iteration, change
    return tuple(tuple(row) for row in m), prior, False, max_iterations, change


def train(
    records: Sequence[MatchRecord],
    candidate_vectors: Iterable[Pattern],
    rng: Random,
    *,
    comparisons: tuple[Comparison, ...] | None = None,
    settings: MatchSettings | None = None,
    u_pairs: int = U_SAMPLE_PAIRS,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
    version: str = "em",
) -> tuple[MatchModel, EmReport]:
    """A model estimated from `records` and the comparison vectors of their candidate
    pairs (computed with the same comparisons, in the same order)."""
    start = untrained_model(comparisons, settings)
    u = estimate_u(records, start.comparisons, rng, u_pairs)
    patterns = pattern_counts(candidate_vectors)
    m, candidate_prior, converged, iterations, change = estimate_m(
        patterns, u, start.m, tolerance=tolerance, max_iterations=max_iterations
    )
    n_pairs = sum(patterns.values())
    all_pairs = len(records) * (len(records) - 1) / 2
    # Blocking is assumed to keep (nearly) every match, so the matches among candidates
    # are the matches among all pairs.
    prior = min(max(candidate_prior * n_pairs / all_pairs, 1e-12), 0.5)
    model = MatchModel(start.comparisons, m, u, prior, start.settings, version)
    report = EmReport(
        converged, iterations, change, candidate_prior, prior, n_pairs, len(patterns), u_pairs
    )
    return model, report
