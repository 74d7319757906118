"""The Fellegi-Sunter model: match weights per comparison level, a score, a probability, a
decision.

For each comparison level, m = P(level | the records match) and u = P(level | they do
not). A level's match weight is log2(m / u). The score of a pair is the prior's log2 odds
plus the weights of its levels (the null level weighs 0): the log2 posterior odds that the
pair matches, and `probability` is 2^score / (1 + 2^score).

`prior` is the probability that two records drawn at random match, estimated by training
(em.py). It is the right prior for a candidate pair because the evidence that made the
pair a candidate (a shared blocking key) is counted again by the comparisons. Decisions
are taken on the probability, with thresholds that are probabilities (`MatchSettings`),
so a data set whose traits carry less evidence, or whose duplicates are rarer, gets the
same meaning of "link" as any other.

Term frequencies: on an exact agreement of a trait with a term-frequency table, u is the
chance that a random record has that very value, not the average chance of any value
agreeing. A shared "jansen" is weak evidence, a shared rare name strong. The caller
passes the relative frequency of the new record's values (on an exact agreement both
records hold the same value, so only the new record's values are ever looked up).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.matching.comparisons import (
    EXACT,
    Comparator,
    Comparison,
    Traits,
    default_comparisons,
)
from app.domain.matching.decisions import Basis, Decision, Guard
from app.domain.matching.household import KIN, Kin, basis_of, guard_for, kin_weights, shared_by
from app.domain.matching.records import MatchRecord

MODEL_FORMAT = 2
# Default decisions, as probabilities that the two records are one person: at least
# LINK_AT links, at least REVIEW_AT goes to the review queue, below that nothing is
# recorded. A link to a customer other than the record's best one ties two customers
# together on the strength of one record, so it needs MERGE_AT.
LINK_AT = 0.95
REVIEW_AT = 0.8
MERGE_AT = 0.999
# The smallest relative frequency a term-frequency adjustment uses, so that a value seen
# once in a small store cannot weigh without bound.
TF_MIN_FREQUENCY = 1e-5


class ModelFormatError(ValueError):
    """A stored model this version cannot read; the message says what to do."""


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """The thresholds that turn a match probability into a decision."""

    link: float = LINK_AT
    review: float = REVIEW_AT
    merge: float = MERGE_AT
    tf_min_frequency: float = TF_MIN_FREQUENCY

    def __post_init__(self) -> None:
        for name in ("link", "review", "merge"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}: a probability between 0 and 1, not {value!r}")
        if not self.review <= self.link <= self.merge:
            raise ValueError("thresholds: review <= link <= merge")


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the model can tell people apart, and if not, why. A model that cannot
    makes no decisions: records are still filed, nothing is linked or queued."""

    usable: bool = True
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"usable": self.usable, "reasons": list(self.reasons)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Health:
        return cls(bool(data.get("usable", True)), tuple(data.get("reasons", ())))


@dataclass(frozen=True, slots=True)
class PairFacts:
    vector: tuple[int, ...]
    basis: Basis  # whom the pair is weighed against (household.py)
    guard: Guard | None


@dataclass(frozen=True, slots=True)
class ComparisonOutcome:
    comparison: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The score of one pair, every comparison's level and weight, and the decision.

    `score` is the log2 odds that the pair matches and `probability` the same as a
    probability; `basis` says whom the pair was weighed against: strangers, or kin
    (housemates, twins: household.py). `guard` names the rule that kept a pair from
    linking whatever its score.
    """

    record_id: str
    candidate_id: str
    score: float
    probability: float
    decision: Decision
    guard: Guard | None = None
    basis: Basis = Basis.STRANGERS
    # what `comparisons` is made of, on demand: most results are looked at only for
    # their decision
    vector: tuple[int, ...] = ()
    level_weights: tuple[float, ...] = ()
    compared: tuple[Comparison, ...] = field(default=(), repr=False)

    @property
    def comparisons(self) -> tuple[ComparisonOutcome, ...]:
        return tuple(
            ComparisonOutcome(c.name, c.levels[level], round(w, 4))
            for c, level, w in zip(self.compared, self.vector, self.level_weights, strict=True)
        )

    def weights(self) -> dict[str, float]:
        """comparison -> weight, as the MATCHED edge carries them."""
        return {c.comparison: c.weight for c in self.comparisons}


def kind_of(record_id: str) -> str:
    """A record's kind: the type of the identifier that owns it (`crm_id`, `loyalty_id`),
    which says which source or system it comes from ("" for an id without a type)."""
    kind, typed, _ = record_id.partition(":")
    return kind if typed else ""


def kinds_of(a: str, b: str) -> str:
    """The kinds of a pair of records, in a stable order: "crm_id|loyalty_id"."""
    x, y = sorted((kind_of(a), kind_of(b)))
    return f"{x}|{y}"


def probability_of(score: float) -> float:
    if score > 60:
        return 1.0
    if score < -60:
        return 0.0
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
    health: Health = field(default_factory=Health)
    kin: Kin = field(default_factory=Kin)
    # The prior of pairs of two kinds of record (`kinds_of`), where training found it to
    # differ from `prior`: a source holds each person once or twice, and two sources
    # share many of their people, so a pair from two sources is likelier one person.
    kind_priors: Mapping[str, float] = field(default_factory=dict)
    # derived: weights[k][level], log2(m/u) with 0 for the null level; per basis, the
    # weights and the prior's log2 odds a pair is scored with (household.py)
    weights: tuple[tuple[float, ...], ...] = field(init=False, repr=False)
    prior_weight: float = field(init=False, repr=False)
    _tables: dict[Basis, tuple[tuple[tuple[float, ...], ...], float]] = field(
        init=False, repr=False)
    _tf_slots: tuple[tuple[int, str], ...] = field(init=False, repr=False)
    _tf_on: dict[Basis, tuple[bool, ...]] = field(init=False, repr=False)
    _cuts: tuple[float, float] = field(init=False, repr=False)
    _comparator: Comparator = field(init=False, repr=False)
    _kind_weights: dict[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for comp, m, u in zip(self.comparisons, self.m, self.u, strict=True):
            if not len(comp.levels) == len(m) == len(u):
                raise ValueError(f"{comp.name}: m and u need one value per level")
        if not 0.0 < self.prior < 1.0:
            raise ValueError(f"prior: a probability between 0 and 1, not {self.prior!r}")
        self.weights = tuple(
            (0.0, *(0.0 if level in c.silent else math.log2(mi / ui)
                    for level, mi, ui in zip(range(1, len(m)), m[1:], u[1:], strict=True)))
            for c, m, u in zip(self.comparisons, self.m, self.u, strict=True)
        )
        self._comparator = Comparator(self.comparisons)
        for kinds, p in self.kind_priors.items():
            if not 0.0 < p < 1.0:
                raise ValueError(f"kind_priors[{kinds}]: a probability between 0 and 1, "
                                 f"not {p!r}")
        self._kind_weights = {kinds: log2_odds(p) for kinds, p in self.kind_priors.items()}
        self.prior_weight = log2_odds(self.prior)
        self._tables = {Basis.STRANGERS: (self.weights, self.prior_weight)}
        for basis in KIN:
            self._tables[basis] = (
                kin_weights(basis, self.comparisons, self.m, self.u, self.kin.agreement),
                log2_odds(self.kin.priors[basis]))
        self._tf_slots = tuple(
            (k, c.tf_trait) for k, c in enumerate(self.comparisons) if c.tf_trait
        )
        # Against kin, shared traits weigh nothing, and an exact agreement on a trait that
        # kin share now and then is weighed against how often they do, not against how
        # common the value is.
        self._tf_on = {
            basis: tuple(not shared and (basis is Basis.STRANGERS
                                         or c.trait not in self.kin.agreement)
                         for c, shared in zip(self.comparisons,
                                              shared_by(basis, self.comparisons), strict=True))
            for basis in Basis}
        self._cuts = (log2_odds(self.settings.link), log2_odds(self.settings.review))

    def with_settings(self, settings: MatchSettings) -> MatchModel:
        return replace(self, settings=settings)

    @property
    def merge_score(self) -> float:
        return log2_odds(self.settings.merge)

    # -- scoring ---------------------------------------------------------------------
    def vector(self, a: Traits, b: Traits) -> tuple[int, ...]:
        return self._comparator.vector(a, b)

    def level_weights(self, vector: Sequence[int], tf: Mapping[str, float],
                      basis: Basis = Basis.STRANGERS) -> list[float]:
        """The weight of each comparison's level against `basis`, term-frequency adjusted
        where it applies.

        `tf` maps a trait to the relative frequency of the new record's value of it.
        """
        table = self._tables[basis][0]
        tf_on = self._tf_on[basis]
        weights = [w[level] for w, level in zip(table, vector, strict=True)]
        for k, trait in self._tf_slots:
            if vector[k] == EXACT and trait in tf and tf_on[k]:
                frequency = max(tf[trait], self.settings.tf_min_frequency)
                weights[k] = math.log2(self.m[k][EXACT] / frequency)
        return weights

    def prior_weight_of(self, record_id: str, candidate_id: str,
                        basis: Basis = Basis.STRANGERS) -> float:
        """The log2 odds a pair starts from: its kinds' prior against strangers."""
        if basis is Basis.STRANGERS and self._kind_weights:
            return self._kind_weights.get(kinds_of(record_id, candidate_id), self.prior_weight)
        return self._tables[basis][1]

    def decision_for(self, score: float) -> Decision:
        link, review = self._cuts
        if score >= link:
            return Decision.LINK
        if score >= review:
            return Decision.REVIEW
        return Decision.NONE

    def compare(self, a: Traits, b: Traits) -> PairFacts:
        """What scoring the pair needs: its comparison vector, whom it is weighed
        against, and its guard."""
        basis = basis_of(a, b)
        return PairFacts(self.vector(a, b), basis, guard_for(a, b, basis))

    def match(
        self, new: MatchRecord, candidate: MatchRecord, tf: Mapping[str, float] | None = None
    ) -> MatchResult:
        """Score `new` against a stored `candidate`; `tf` as in `level_weights`."""
        facts = self.compare(new.traits, candidate.traits)
        return self.judge(new.record_id, candidate.record_id, facts, tf or {})

    def judge(self, record_id: str, candidate_id: str, facts: PairFacts,
              tf: Mapping[str, float]) -> MatchResult:
        vector, basis, guard = facts.vector, facts.basis, facts.guard
        weights = self.level_weights(vector, tf, basis)
        score = self.prior_weight_of(record_id, candidate_id, basis) + sum(weights)
        decision = self.decision_for(score) if self.health.usable else Decision.NONE
        if guard is Guard.HOUSEHOLD and decision is Decision.LINK:
            decision = Decision.REVIEW
        return MatchResult(record_id, candidate_id, score, probability_of(score), decision,
                           guard, basis, vector, tuple(weights), self.comparisons)

    # -- storage ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "prior": self.prior,
            "health": self.health.to_json(),
            "kin": self.kin.to_json(),
            "kind_priors": dict(self.kind_priors),
            "comparisons": [
                {**c.to_json(), "level_names": list(c.levels), "m": list(m), "u": list(u)}
                for c, m, u in zip(self.comparisons, self.m, self.u, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], settings: MatchSettings | None = None
                  ) -> MatchModel:
        if data.get("format") != MODEL_FORMAT:
            raise ModelFormatError(
                f"the stored matcher has format {data.get('format')!r}, this version reads "
                f"format {MODEL_FORMAT}: train it again (idgraph matcher train)")
        comparisons = tuple(Comparison.from_json(c) for c in data["comparisons"])
        for comp, stored in zip(comparisons, data["comparisons"], strict=True):
            if list(comp.levels) != stored["level_names"]:
                raise ModelFormatError(f"{comp.name}: stored levels differ from the definition")
        return cls(
            comparisons=comparisons,
            m=tuple(tuple(c["m"]) for c in data["comparisons"]),
            u=tuple(tuple(c["u"]) for c in data["comparisons"]),
            prior=data["prior"],
            settings=settings or MatchSettings(),
            version=data["version"],
            health=Health.from_json(data.get("health", {})),
            kin=Kin.from_json(data.get("kin", {})),
            kind_priors={str(k): float(p) for k, p in data.get("kind_priors", {}).items()},
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
    """m falls and u rises from `exact` to `else`; both sum to 1 over the non-null levels.

    m is also the centre of EM's prior (em.py), what a level no data pins down keeps:
    a re-typed value is mostly the same, else most often a slip away (the first level
    between exact and else), rarely anything else."""
    inner = n_levels - 3  # levels between exact and else
    if not inner:
        return (0.0, 0.85, 0.15), (0.0, 0.01, 0.99)
    rest = (0.04 / (inner - 1),) * (inner - 1) if inner > 1 else ()
    m = (0.0, 0.81 if rest else 0.85, 0.1, *rest, 0.05)
    u = (0.0, 0.01, *([0.04 / inner] * inner), 0.95)
    return m, u
