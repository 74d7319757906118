"""Estimating the model without labels.

- u (the level probabilities among non-matches) comes from random pairs of records:
  almost every random pair is a non-match.
- m (among matches) comes from expectation-maximisation over *sessions*, one per blocking
  rule, as Splink trains: the pairs that share a rule's key agree on that rule's traits by
  construction, so in that rule's session the comparisons of those traits are left out,
  and the others are estimated. Every session has its own share of matches; m is shared,
  so a comparison left out of one session is learnt from the others. A weak Dirichlet
  prior (pseudo-counts around the starting values) keeps a level that no session can
  pin down near a sensible value instead of wandering.
- Pairs of kin (household.py) are weighed against kin; the one-person share of each kin
  basis is estimated alongside.
- Each session also counts the matches among all the pairs sharing its key: training
  turns those of exact keys into the prior (training.prior_from_sessions). When none
  found enough, `estimate_prior` gives the share that makes the model agree with itself:
  the expected number of matches among the candidate pairs, the sum of their match
  probabilities under that prior, divided by all pairs.

Pure: the caller passes the records, the vectors and the random source.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random

from app.domain.matching.comparisons import NULL, Comparator, Comparison
from app.domain.matching.decisions import Basis
from app.domain.matching.household import KIN, Kin
from app.domain.matching.model import probability_of
from app.domain.matching.records import MatchRecord

U_SAMPLE_PAIRS = 200_000
TOLERANCE = 1e-5
MAX_ITERATIONS = 500
# Pseudo-counts added to every level of u, so that a level never seen among random pairs
# keeps a small probability instead of an infinite weight.
U_PSEUDO_COUNT = 1.0
# Strength of the prior on m, in pairs: a session with thousands of matches overrules it,
# a level seen in none keeps its starting value. Personal traits are learnt from pairs at
# different addresses only (see estimate_m), which some data sets have few of: a stronger
# prior keeps a handful of them from setting how a person's first name varies.
M_PRIOR_PAIRS = 20.0
PERSONAL_M_PRIOR_PAIRS = 100.0
# Share of matches among a session's pairs that EM starts from.
START_SESSION_SHARE = 0.3
PRIOR_BOUNDS = (1e-12, 0.5)

Pattern = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Session:
    """The pairs of one blocking rule: their comparison vectors with whom each pair is
    weighed against (counted), and which comparisons EM may learn from them."""

    rule: str
    patterns: Mapping[tuple[Pattern, Basis], int]
    active: tuple[bool, ...]
    total_pairs: int = 0  # the pairs sharing the rule's key, of which `patterns` counts a sample

    @property
    def pairs(self) -> int:
        return sum(self.patterns.values())


@dataclass(frozen=True, slots=True)
class SessionResult:
    rule: str
    pairs: int
    share: float  # estimated share of matches among the session's pairs weighed against strangers
    matches: float  # expected matches among all the session's pairs (sampled or not)


@dataclass(frozen=True, slots=True)
class EmResult:
    m: tuple[tuple[float, ...], ...]
    sessions: tuple[SessionResult, ...]
    kin: Kin  # the one-person share of each kin basis
    converged: bool
    iterations: int
    max_change: float


def random_pairs(n: int, count: int, rng: Random) -> list[tuple[int, int]]:
    """`count` pairs of distinct indices below n (with repetition across pairs)."""
    pairs = []
    for _ in range(count):
        i = rng.randrange(n)
        j = rng.randrange(n - 1)
        pairs.append((i, j + (j >= i)))
    return pairs


def level_counts(records: Sequence[MatchRecord], comparisons: Sequence[Comparison],
                 rng: Random, pairs: int = U_SAMPLE_PAIRS) -> list[list[int]]:
    """How often each level occurs among `pairs` random pairs of `records` (the parts of
    a move as they compare: their u is how strangers' parts compare, moved or not)."""
    if len(records) < 2:
        raise ValueError("estimating u needs at least two records")
    counts = [[0] * len(c.levels) for c in comparisons]
    comparator = Comparator(comparisons)
    for i, j in random_pairs(len(records), pairs, rng):
        for k, level in enumerate(comparator.levels(records[i].traits, records[j].traits)):
            counts[k][level] += 1
    return counts


def estimate_u(counts: Sequence[Sequence[int]]) -> tuple[tuple[float, ...], ...]:
    return tuple(_normalise(row, [U_PSEUDO_COUNT] * len(row)) for row in counts)


def _normalise(counts: Sequence[float], pseudo: Sequence[float]) -> tuple[float, ...]:
    """Probabilities over the non-null levels (index 0, null, stays 1.0: it weighs 0)."""
    total = sum(counts[1:]) + sum(pseudo[1:])
    return (1.0, *((c + p) / total for c, p in zip(counts[1:], pseudo[1:], strict=True)))


def pattern_counts(vectors: Iterable[tuple[Pattern, Basis]]) -> Counter[tuple[Pattern, Basis]]:
    return Counter(vectors)


def estimate_m(
    sessions: Sequence[Session],
    u: Sequence[Sequence[float]],
    start_m: Sequence[Sequence[float]],
    *,
    kin_u: Mapping[Basis, Sequence[Sequence[float] | None]],
    silent: Sequence[Sequence[int]] = (),
    telling: Mapping[Basis, Sequence[bool]] | None = None,
    prior_pairs: float = M_PRIOR_PAIRS,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> EmResult:
    """EM for m (shared by the sessions), each session's share of matches, and the
    one-person share of each kin basis; u fixed.

    A pair of a kin basis (household.py) is a match or a pair of kin: its odds start from
    the one-person share of that basis, and only what kin do not share counts, against
    kin's level probabilities (`kin_u[basis][k]`, None for a shared trait). How a person's
    unshared traits vary (their m) is learnt from the pairs weighed against strangers
    only: among kin, it and the one-person share would explain the same data, so a data
    set with few such pairs leaves it near its prior.

    `silent[k]` are levels of comparison k that weigh nothing (other comparisons carry
    their evidence: comparisons.MoveComparison); they are counted for m all the same.

    `telling[basis][k]`: comparison k is what tells a person from kin of `basis` (a first
    name; a birth date among housemates). A session that leaves all of those out (its
    rule's key is made of them) sees nothing that tells kin apart, and its kin pairs are
    all alike to it: it does not count towards that basis's one-person share (where it
    did, the share of twin-like pairs that are one person came out 0.93 against 0.98 in
    truth, from sessions keyed on the first name). Without `telling`, every session
    counts.
    """
    personal = [h is not None for h in kin_u[Basis.HOUSEMATES]]
    m = [list(row) for row in start_m]
    pseudo = [[(PERSONAL_M_PRIOR_PAIRS if mine else prior_pairs) * p for p in row]
              for row, mine in zip(start_m, personal, strict=True)]
    shares = [START_SESSION_SHARE] * len(sessions)
    kin = Kin()
    items = [list(s.patterns.items()) for s in sessions]
    sees = [_sees_kin(s, telling) for s in sessions]
    quiet = [tuple(silent[k]) if k < len(silent) else () for k in range(len(u))]
    log_u = [_logs(row, q) for row, q in zip(u, quiet, strict=True)]
    log_kin = {basis: [None if h is None else _logs(h, q) for h, q in zip(rows, quiet, strict=True)]
               for basis, rows in kin_u.items()}
    change = float("inf")
    for iteration in range(1, max_iterations + 1):
        log_m = [_logs(row, q) for row, q in zip(m, quiet, strict=True)]
        expected = [[0.0] * len(row) for row in m]
        among_kin = _AmongKin()
        new_shares = []
        found = []
        for session, patterns, share, seen in zip(sessions, items, shares, sees, strict=True):
            matched = strangers = everyone = 0.0
            base = _logit(share)
            for (pattern, basis), count in patterns:
                if basis is Basis.TWINS:
                    # Twins are rare next to the duplicates that share a surname and a
                    # birth date: these pairs teach m as any other, and the one-person
                    # share of twin-like pairs is estimated on the side.
                    among_kin.add(basis, _posterior(
                        _logit(kin.priors[basis]), pattern, session.active, log_m,
                        log_kin[basis], count), count, seen[basis])
                    basis = Basis.STRANGERS
                against = log_u if basis is Basis.STRANGERS else log_kin[basis]
                odds = base if basis is Basis.STRANGERS else _logit(kin.priors[basis])
                w = _posterior(odds, pattern, session.active, log_m, against, count)
                everyone += w
                if basis is Basis.STRANGERS:
                    matched += w
                    strangers += count
                else:
                    among_kin.add(basis, w, count, seen[basis])
                for k, level in enumerate(pattern):
                    # Among housemates, the unshared traits are what tells a person from
                    # a housemate, so those pairs cannot teach how a person's own traits
                    # vary.
                    if session.active[k] and (basis is Basis.STRANGERS or against[k] is None):
                        expected[k][level] += w
            new_shares.append(min(max(matched / strangers, 1e-9), 1 - 1e-9)
                              if strangers else share)
            found.append(everyone * max(session.total_pairs, session.pairs) / session.pairs)
        new_m = [list(_normalise(row, prior)) for row, prior in zip(expected, pseudo, strict=True)]
        new_kin = among_kin.estimate()
        change = max(
            *(abs(new_kin.priors[b] - kin.priors[b]) for b in KIN),
            max((abs(a - b) for a, b in zip(shares, new_shares, strict=True)), default=0.0),
            *(abs(x - y) for old, new in zip(m, new_m, strict=True)
              for x, y in zip(old[1:], new[1:], strict=True)),
        )
        m, shares, kin = new_m, new_shares, new_kin
        if change < tolerance:
            return _result(m, sessions, shares, found, kin, True, iteration, change)
    return _result(m, sessions, shares, found, kin, False, max_iterations, change)


def _sees_kin(session: Session, telling: Mapping[Basis, Sequence[bool]] | None
              ) -> dict[Basis, bool]:
    """Per kin basis, whether `session` compares something that tells kin apart."""
    return {basis: telling is None or any(
        a and t for a, t in zip(session.active, telling[basis], strict=True)) for basis in KIN}


def _posterior(odds: float, pattern: Pattern, active: Sequence[bool],
               log_m: Sequence[Sequence[float]], against: Sequence[Sequence[float] | None],
               count: int) -> float:
    """The expected matches among `count` pairs of `pattern`, from `odds` and the weights
    of the active levels against `against` (None: a trait that weighs nothing)."""
    for k, level in enumerate(pattern):
        row = against[k]
        if level != NULL and active[k] and row is not None:
            odds += log_m[k][level] - row[level]
    return count / (1.0 + math.exp(-odds)) if odds > -700 else 0.0


# A weak prior on what pairs of kin are like, in pairs: even odds of one person or two.
KIN_PRIOR_PAIRS = 2.0


@dataclass(slots=True)
class _AmongKin:
    """Expected counts for the one-person shares of the kin bases, in one EM iteration."""

    matched: dict[Basis, float] = field(default_factory=lambda: dict.fromkeys(KIN, 0.0))
    pairs: dict[Basis, float] = field(default_factory=lambda: dict.fromkeys(KIN, 0.0))

    def add(self, basis: Basis, w: float, count: int, counted: bool = True) -> None:
        if counted:
            self.matched[basis] += w
            self.pairs[basis] += count

    def estimate(self) -> Kin:
        priors = {b: (self.matched[b] + KIN_PRIOR_PAIRS / 2) / (self.pairs[b] + KIN_PRIOR_PAIRS)
                  for b in KIN}
        return Kin({b: min(max(p, 1e-6), 1 - 1e-6) for b, p in priors.items()})


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _logs(row: Sequence[float], silent: Sequence[int] = ()) -> list[float]:
    """log of each level's probability; 0 for the null level (never read) and for levels
    that weigh nothing."""
    return [0.0, *(0.0 if level in silent else math.log(p)
                   for level, p in enumerate(row[1:], start=1))]


def _result(m: list[list[float]], sessions: Sequence[Session], shares: list[float],
            found: list[float], kin: Kin, converged: bool, iterations: int, change: float
            ) -> EmResult:
    return EmResult(
        tuple(tuple(row) for row in m),
        tuple(SessionResult(s.rule, s.pairs, share, matches)
              for s, share, matches in zip(sessions, shares, found, strict=True)),
        kin, converged, iterations, change)


def estimate_prior(log2_likelihood_ratios: Sequence[float], total_pairs: float,
                   *, known_matches: float = 0.0, tolerance: float = 1e-6,
                   max_iterations: int = 10_000) -> float:
    """The prior p that agrees with itself: p * total_pairs = the sum over the candidate
    pairs of their match probability under p (a pair's log2 odds are log2(p / (1 - p))
    plus its log2 likelihood ratio), plus `known_matches` expected among pairs whose
    probability does not depend on p.

    Starting from every candidate a match, the sum falls to the largest such p; 0 is
    always a solution too, and is the answer only when no pair is evidence of a match.
    """
    if total_pairs <= 0:
        return PRIOR_BOUNDS[0]
    # Ratios within a hundredth of a bit are one: a few hundred sums instead of a
    # sum over every pair in every iteration.
    grouped = Counter(round(llr, 2) for llr in log2_likelihood_ratios).items()
    low, high = PRIOR_BOUNDS
    prior = min(high, max(low, (len(log2_likelihood_ratios) + known_matches) / total_pairs))
    for _ in range(max_iterations):
        offset = math.log2(prior) - math.log2(1.0 - prior)
        expected = known_matches + sum(n * probability_of(offset + llr) for llr, n in grouped)
        new = min(max(expected / total_pairs, low), high)
        if abs(new - prior) <= tolerance * prior:
            return new
        prior = new
    return prior
