"""Training a matcher from records, without labels: the model, its prior, its health, and
what it expects to do at the thresholds.

1. u from random pairs of the records;
2. m by EM over one session per blocking rule (em.py);
3. the prior: from the sessions of rules whose key is one trait's exact value (the matches
   they find, over the share of matches that agree exactly on that trait), or, when no
   such session found enough, the share that agrees with itself over the candidate pairs
   the stream will meet (em.estimate_prior);
4. health: whether the traits present can tell people apart at all (a model that cannot
   says why, and makes no decisions);
5. expectations at the thresholds: precision and recall of the links, from the match
   probabilities of the candidate pairs, and the review items a replay of the records
   in their order queues.

The result is stored as one JSON document and used by every loader.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations, combinations_with_replacement
from typing import Any

from networkx.utils import UnionFind

from app.domain.matching.blocking import DEFAULT_RULES, BlockIndex, BlockingRule, blocking_keys
from app.domain.matching.comparisons import (
    EXACT,
    NULL,
    Comparator,
    Comparison,
    default_comparisons,
)
from app.domain.matching.decisions import Basis, Decision
from app.domain.matching.em import (
    PRIOR_BOUNDS,
    EmResult,
    Session,
    estimate_m,
    estimate_prior,
    estimate_u,
    level_counts,
    pattern_counts,
)
from app.domain.matching.household import (
    HOUSEMATE_AGREEMENT,
    KIN,
    Kin,
    basis_of,
    kin_u,
)
from app.domain.matching.matcher import decide, worth_deciding
from app.domain.matching.model import (
    Health,
    MatchModel,
    MatchSettings,
    PairFacts,
    kind_of,
    kinds_of,
    probability_of,
    untrained_model,
)
from app.domain.matching.records import MatchRecord
from app.domain.matching.termfreq import TermFrequencies, tf_traits
from app.domain.rules import Rules

# A session learns from the pairs of records that share its rule's key, or a uniform
# sample of this many of them.
MAX_SESSION_PAIRS = 20_000
MIN_SESSION_PAIRS = 20
# Health: a trait present in fewer random pairs than this is not in the data set; one
# whose values agree in more random pairs than MAX_COMMON_AGREEMENT cannot tell people
# apart; one whose exact agreement weighs less than MIN_EVIDENCE bits is no evidence.
MIN_PRESENT = 0.01
MAX_COMMON_AGREEMENT = 0.5
MIN_EVIDENCE = 1.0


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the model expects to do on the records it was trained on."""

    matching_pairs: float  # expected matching pairs among the candidate pairs
    links: int  # candidate pairs at or above the link threshold (not guarded)
    precision: float  # expected share of those links that are right
    recall: float  # expected share of the matching pairs they find
    review_items: int  # items a replay of the records in order queues
    records: int

    @property
    def review_per_100(self) -> float:
        return 100 * self.review_items / self.records if self.records else 0.0


@dataclass(frozen=True, slots=True)
class TrainingReport:
    records: int
    prior: float
    kin: Kin
    candidate_pairs: int
    kin_pairs: Mapping[Basis, int]  # the candidate pairs weighed against kin, per basis
    em_converged: bool
    em_iterations: int
    # (rule, pairs compared, share of matches, expected matches among all its pairs)
    sessions: tuple[tuple[str, int, float, float], ...]
    health: Health
    expectation: Expectation
    kind_priors: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["health"] = self.health.to_json()
        data["kin"] = self.kin.to_json()
        data["kin_pairs"] = {str(b): n for b, n in self.kin_pairs.items()}
        return data


@dataclass(slots=True)
class Matcher:
    """A trained model with the term frequencies it was trained on."""

    model: MatchModel
    frequencies: TermFrequencies
    report: dict[str, Any] | None = None
    # per-type limits of the rules: a review pair that breaks one is never queued
    limits: Mapping[str, int] = field(default_factory=dict)

    def tf(self, record: MatchRecord) -> dict[str, float]:
        return self.frequencies.for_record(record)

    def configured(self, settings: MatchSettings, limits: Mapping[str, int]) -> Matcher:
        """The matcher deciding with the rules' thresholds and limits."""
        return Matcher(self.model.with_settings(settings), self.frequencies, self.report,
                       dict(limits))

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.to_json(),
            "term_frequencies": {t: dict(c) for t, c in self.frequencies.counts.items()},
            "training": self.report,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], settings: MatchSettings | None = None
                  ) -> Matcher:
        model = MatchModel.from_json(data["model"], settings)
        table = TermFrequencies(tf_traits(model.comparisons))
        for trait, counts in data.get("term_frequencies", {}).items():
            table.counts[trait] = Counter(counts)
            table.totals[trait] = sum(counts.values())
        return cls(model, table, data.get("training"))


def settings_of(rules: Rules) -> MatchSettings:
    t = rules.matching
    return MatchSettings(link=t.link, review=t.review, merge=t.merge)


def matcher_for(body: Mapping[str, Any], rules: Rules) -> Matcher:
    """A stored matcher, deciding with `rules`' thresholds and limits."""
    return Matcher.from_json(body).configured(settings_of(rules), rules.limits)


def session_pairs(records: Sequence[MatchRecord], rule: BlockingRule, rng: random.Random
                  ) -> tuple[list[tuple[int, int]], int]:
    """Pairs of records that share `rule`'s key (indices into `records`): all of them,
    or a uniform sample of MAX_SESSION_PAIRS; and how many there are."""
    buckets: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        if key := rule.key(record.traits):
            buckets.setdefault(key, []).append(i)
    groups = [members for members in buckets.values() if len(members) > 1]
    sizes = [len(g) * (len(g) - 1) // 2 for g in groups]
    total = sum(sizes)
    if total <= MAX_SESSION_PAIRS:
        return [p for g in groups for p in combinations(g, 2)], total
    pairs = []
    for group in rng.choices(groups, weights=sizes, k=MAX_SESSION_PAIRS):
        i, j = rng.sample(group, 2)
        pairs.append((min(i, j), max(i, j)))
    return pairs, total


def sessions_of(records: Sequence[MatchRecord], comparisons: Sequence[Comparison],
                rng: random.Random, rules: Sequence[BlockingRule] = DEFAULT_RULES
                ) -> list[Session]:
    vectors: dict[tuple[int, int], tuple[tuple[int, ...], Basis]] = {}
    sessions = []
    comparator = Comparator(comparisons)
    for rule in rules:
        pairs, total = session_pairs(records, rule, rng)
        if len(pairs) < MIN_SESSION_PAIRS:
            continue
        for i, j in pairs:
            if (i, j) not in vectors:
                a, b = records[i].traits, records[j].traits
                vectors[(i, j)] = (comparator.vector(a, b), basis_of(a, b))
        active = tuple(not set(c.traits) & set(rule.traits) for c in comparisons)
        patterns = pattern_counts(vectors[p] for p in pairs)
        # A session in which no comparison it may learn from has a value teaches nothing.
        if any(active[k] and any(v[k] != NULL for v, _ in patterns)
               for k in range(len(active))):
            sessions.append(Session(rule.name, patterns, active, total))
    return sessions


def train_matcher(records: Sequence[MatchRecord], rng: random.Random, *,
                  settings: MatchSettings | None = None, version: str = "em"
                  ) -> tuple[Matcher, TrainingReport]:
    """The matcher for `records` (in arrival order), and what it expects to do. Records
    of one identifier are one record to the stream, the latest traits kept."""
    records = list({r.record_id: r for r in records}.values())
    settings = settings or MatchSettings()
    comparisons = default_comparisons()
    frequencies = TermFrequencies.of(records, tf_traits(comparisons))
    if len(records) < 2:
        model = untrained_model(comparisons, settings)
        health = Health(False, ("training needs at least two records with traits",))
        model = MatchModel(comparisons, model.m, model.u, model.prior, settings, version, health)
        report = TrainingReport(len(records), model.prior, model.kin, 0, {}, False, 0,
                                (), health, Expectation(0.0, 0, 1.0, 0.0, 0, len(records)))
        return Matcher(model, frequencies, report.to_json()), report
    counts = level_counts(records, comparisons, rng)
    u = estimate_u(counts)
    against_kin = {basis: kin_u(basis, comparisons, u, HOUSEMATE_AGREEMENT) for basis in KIN}
    telling = {basis: [c.trait in HOUSEMATE_AGREEMENT and against_kin[basis][k] is not None
                       for k, c in enumerate(comparisons)] for basis in KIN}
    em = estimate_m(sessions_of(records, comparisons, rng), u, untrained_model(comparisons).m,
                    kin_u=against_kin, silent=[c.silent for c in comparisons],
                    telling=telling)
    unpriored = MatchModel(comparisons, em.m, u, 0.5, settings, version,
                           kin=em.kin)
    met = met_pairs(records, unpriored, frequencies)
    unique = list({frozenset((p.new, p.old)): p for ps in met for p in ps}.values())
    judged = [unpriored.judge(p.new, p.old, p.facts, p.tf) for p in unique]
    all_pairs = len(records) * (len(records) - 1) / 2
    # At even odds (a prior of 0.5), a pair's score is its likelihood ratio.
    prior = prior_from_sessions(em, comparisons, counts, all_pairs)
    if prior is None:
        strangers = [r.basis is Basis.STRANGERS for r in judged]
        prior = estimate_prior([r.score for r, s in zip(judged, strangers, strict=True) if s],
                               all_pairs, known_matches=sum(
                                   r.probability for r, s in zip(judged, strangers, strict=True)
                                   if not s))
    model = MatchModel(comparisons, em.m, u, prior, settings, version,
                       kin=em.kin)
    health = health_of(model, counts)
    model = MatchModel(comparisons, em.m, u, prior, settings, version, health, em.kin,
                       kind_priors(records, model, unique))
    expectation = _expect(model, met, unique, len(records))
    report = _report(records, model, unique, em, expectation)
    return Matcher(model, frequencies, report.to_json()), report


# Matches assumed, in pairs, for each pair of kinds at the rate of all pairs: a pair of
# kinds with few candidate pairs keeps a prior near the overall one.
KIND_PSEUDO_MATCHES = 20.0


def kind_priors(records: Sequence[MatchRecord], model: MatchModel,
                pairs: Sequence[MetPair]) -> dict[str, float]:
    """The prior of each pair of record kinds (model.kinds_of), where the records are of
    more than one kind: the overall prior times how much likelier the candidate pairs of
    those kinds are one person than candidate pairs overall (the sum of their match
    probabilities against the pairs there are of those kinds), shrunk towards 1 by
    KIND_PSEUDO_MATCHES. A source that holds each person once gives its own pairs a low
    prior; two sources with the same people give theirs a higher one."""
    sizes = Counter(kind_of(r.record_id) for r in records)
    if len(sizes) < 2:
        return {}
    found: dict[str, float] = defaultdict(float)
    for p in pairs:  # kin too: a person's two records at one address are weighed as kin
        found[kinds_of(p.new, p.old)] += model.judge(p.new, p.old, p.facts, p.tf).probability
    n = sum(sizes.values())
    rate = sum(found.values()) / (n * (n - 1) / 2)
    priors = {}
    for x, y in combinations_with_replacement(sorted(sizes), 2):
        among = sizes[x] * sizes[y] if x != y else sizes[x] * (sizes[x] - 1) / 2
        if among:
            lift = (found[f"{x}|{y}"] + KIND_PSEUDO_MATCHES) / (rate * among + KIND_PSEUDO_MATCHES)
            priors[f"{x}|{y}"] = min(max(model.prior * lift, PRIOR_BOUNDS[0]), PRIOR_BOUNDS[1])
    return priors


@dataclass(frozen=True, slots=True)
class MetPair:
    """A record (`new`) and an earlier one its blocking keys find, as the stream meets
    them, with what scoring them needs."""

    new: str
    old: str
    facts: PairFacts
    tf: Mapping[str, float]


def met_pairs(records: Sequence[MatchRecord], model: MatchModel,
              frequencies: TermFrequencies) -> list[list[MetPair]]:
    """Per record, in order, the pairs the stream meets when it arrives."""
    index = BlockIndex()
    stored: dict[str, MatchRecord] = {}
    met = []
    for record in records:
        rid, keys = record.record_id, blocking_keys(record)
        tf = frequencies.for_record(record)
        met.append([MetPair(rid, c, model.compare(record.traits, stored[c].traits), tf)
                    for c in index.candidates(keys) if c != rid])
        stored[rid] = record
        index.add(rid, keys)
    return met


MIN_SESSION_MATCHES = 20.0


def prior_from_sessions(em: EmResult, comparisons: Sequence[Comparison],
                        counts: Sequence[Sequence[int]], all_pairs: float,
                        rules: Sequence[BlockingRule] = DEFAULT_RULES) -> float | None:
    """The prior from the sessions of rules whose key is one trait's exact value, as
    Splink estimates it from deterministic rules, with the recall known: the matches such
    a session finds, over the share of matches that agree exactly on its trait (both
    having it), are all the matches. None when no such session found enough."""
    exact = {r.name: r.traits[0] for r in rules if r.exact}
    index = {c.trait: k for k, c in enumerate(comparisons)}
    found = weighted = 0.0
    for session in em.sessions:
        trait = exact.get(session.rule)
        if trait is None or trait not in index or session.matches < MIN_SESSION_MATCHES:
            continue
        k = index[trait]
        present = sum(counts[k][1:]) / sum(counts[k])
        recall = present * em.m[k][EXACT]
        found += session.matches
        weighted += session.matches * session.matches / recall
    return min(max(weighted / found / all_pairs, 1e-12), 0.5) if found else None


def health_of(model: MatchModel, counts: Sequence[Sequence[int]]) -> Health:
    """Whether the traits present can tell people apart; notes on those that cannot."""
    notes: list[str] = []
    telling: list[int] = []
    for k, comp in enumerate(model.comparisons):
        total = sum(counts[k])
        if total == 0 or sum(counts[k][1:]) / total < MIN_PRESENT:
            continue  # not in this data set: its comparison is always null
        if EXACT in comp.silent:
            continue  # a move: it weighs what the address's parts tell, not a trait
        if model.u[k][EXACT] > MAX_COMMON_AGREEMENT:
            notes.append(f"{comp.name}: the same value in most records, so it cannot tell "
                         "them apart")
        elif model.weights[k][EXACT] < MIN_EVIDENCE:
            notes.append(f"{comp.name}: agreeing on it is no evidence of one person")
        else:
            telling.append(k)
    if not telling:
        return Health(False, ("no trait tells the records apart: nothing will be linked",
                              *notes))
    if len(telling) == 1:
        name = model.comparisons[telling[0]].name
        return Health(False, (f"only {name} tells the records apart, and one trait cannot "
                              "decide who is who: nothing will be linked", *notes))
    best = model.prior_weight + sum(max(model.weights[k][1:]) for k in telling)
    if probability_of(best) < model.settings.link:
        return Health(False, (f"records that agree on every trait reach a match probability "
                              f"of only {probability_of(best):.3f}, below the link threshold "
                              f"{model.settings.link}: nothing will be linked", *notes))
    return Health(True, tuple(notes))


def _expect(model: MatchModel, met: Sequence[Sequence[MetPair]], unique: Sequence[MetPair],
            records: int) -> Expectation:
    if not model.health.usable:
        return Expectation(0.0, 0, 1.0, 0.0, 0, records)
    results = [model.judge(p.new, p.old, p.facts, p.tf) for p in unique]
    matching = sum(r.probability for r in results)
    linked = [r.probability for r in results if r.decision is Decision.LINK]
    found = sum(linked)
    return Expectation(
        matching_pairs=round(matching, 1),
        links=len(linked),
        precision=round(found / len(linked), 4) if linked else 1.0,
        recall=round(found / matching, 4) if matching else 1.0,
        review_items=_replayed_reviews(model, met),
        records=records,
    )


def _replayed_reviews(model: MatchModel, met: Sequence[Sequence[MetPair]]) -> int:
    """The review items that matching the records in their order queues (without the
    identifiers' own links, which only join more)."""
    clusters: UnionFind[str] = UnionFind()
    reviews = 0
    for pairs in met:
        if not pairs:
            continue
        new = pairs[0].new
        results = worth_deciding(model.judge(p.new, p.old, p.facts, p.tf) for p in pairs)
        outcome = decide(model, results, customer_of={p.old: clusters[p.old] for p in pairs},
                         own=clusters[new])
        for link in outcome.links:
            clusters.union(new, link.candidate_id)
        reviews += len(outcome.reviews)
    return reviews


def _report(records: Sequence[MatchRecord], model: MatchModel, pairs: Sequence[MetPair],
            em: EmResult, expectation: Expectation) -> TrainingReport:
    return TrainingReport(
        records=len(records),
        prior=model.prior,
        kin=model.kin,
        candidate_pairs=len(pairs),
        kin_pairs={b: sum(p.facts.basis is b for p in pairs) for b in KIN},
        em_converged=em.converged,
        em_iterations=em.iterations,
        sessions=tuple((s.rule, s.pairs, round(s.share, 4), round(s.matches, 1))
                       for s in em.sessions),
        health=model.health,
        expectation=expectation,
        kind_priors=dict(model.kind_priors),
    )
