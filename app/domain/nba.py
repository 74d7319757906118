"""Next-best-action: a transparent model trained from the customers' own timelines.

Two parts, each simple enough to explain to the customer it is about:

- The next step: a first-order Markov chain over steps, a step being an event type at a
  source ("purchase@web"). Consecutive repeats of a step are collapsed, so it predicts
  the next *different* step of the journey. Add-k smoothing keeps unseen steps possible;
  a step never seen before falls back to how often each step follows any step.
- The propensity to convert (purchase, by default) within the horizon (30 days): a
  logistic regression on the computed traits at a cutoff, with standardised features
  and an L2 penalty, fitted by Newton's method. A feature's contribution to a score is
  its coefficient times its standardised value, so "what drove it" is exact.

Quality comes from a held-out time split: the models are fitted on what was known at
`split_at` (now minus the horizon) and scored on what happened after it: AUC for the
propensity, top-1 and top-3 accuracy for the next step (next to a popularity baseline).
The served model is then refitted on everything.

Pure Python on purpose (no numpy): the demo's 3,000 customers and ~60 features train
in about seven seconds, most of it computing traits.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from operator import mul
from typing import Any

from app.domain.traits import (
    MAP_KINDS,
    CustomerFacts,
    EventLike,
    TraitsConfig,
    days_between,
    normal_ts,
    shift,
)

START = "(start)"
MAX_Z = 3.0  # a feature counts at most this many standard deviations from its mean
MODEL_VERSION = 1
CATEGORICAL_KINDS = ("most_frequent",)
TIME_KINDS = ("first_seen", "last_seen")


def step_of(event: EventLike) -> str:
    return f"{event.type}@{event.source}"


def journey(events: Iterable[EventLike], until: str | None = None) -> list[str]:
    """The steps of time-ordered events (up to `until`), consecutive repeats collapsed."""
    steps: list[str] = []
    for event in events:
        if until is not None and event.timestamp > until:
            break
        step = step_of(event)
        if not steps or steps[-1] != step:
            steps.append(step)
    return steps


# -- the next step ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NextStepModel:
    k: float  # add-k smoothing
    steps: tuple[str, ...]  # every step seen as a next step
    counts: Mapping[str, Mapping[str, int]]  # from step -> next step -> transitions

    @classmethod
    def fit(cls, journeys: Iterable[Sequence[str]], k: float = 0.5) -> NextStepModel:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for steps in journeys:
            for before, after in zip([START, *steps], steps, strict=False):
                counts[before][after] += 1
        seen = sorted({s for row in counts.values() for s in row})
        return cls(k, tuple(seen), {f: dict(sorted(row.items())) for f, row in counts.items()})

    def evidence(self, step: str) -> int:
        """How many transitions out of `step` the model saw."""
        return sum(self.counts.get(step, {}).values())

    def probabilities(self, step: str) -> list[tuple[str, float]]:
        """Every next step with its probability, most likely first (ties by name)."""
        row = self.counts.get(step)
        if row is None:  # never seen: how often each step follows any step
            row = Counter()
            for following in self.counts.values():
                row.update(following)
        total = sum(row.values()) + self.k * len(self.steps)
        if not total:
            return []
        found = [(s, (row.get(s, 0) + self.k) / total) for s in self.steps]
        return sorted(found, key=lambda p: (-p[1], p[0]))

    def top(self, step: str, n: int = 3) -> list[tuple[str, float]]:
        return self.probabilities(step)[:n]

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "steps": list(self.steps),
                "counts": {f: dict(row) for f, row in self.counts.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NextStepModel:
        return cls(float(data["k"]), tuple(data["steps"]),
                   {f: {s: int(c) for s, c in row.items()} for f, row in data["counts"].items()})


def popularity(journeys: Iterable[Sequence[str]]) -> list[str]:
    """Next steps by how often they happen: the baseline a model must beat."""
    counts = Counter(s for steps in journeys for s in steps)
    return [s for s, _ in sorted(counts.items(), key=lambda p: (-p[1], p[0]))]


# -- features from computed traits ----------------------------------------------------------
def trait_features(values: Mapping[str, Any], traits: TraitsConfig,
                   now: str) -> dict[str, float | None]:
    """Computed trait values as numbers: times become days since, maps one feature per
    entry, favourites one indicator per value. None: unknown (a customer who never
    bought has no average order value)."""
    found: dict[str, float | None] = {}
    for trait in traits.traits:
        value = values.get(trait.name)
        if trait.kind in TIME_KINDS:
            found[f"days_since_{trait.name}"] = (None if value is None
                                                 else float(days_between(value, now)))
        elif trait.kind in MAP_KINDS and isinstance(value, Mapping):
            found.update((f"{trait.name}.{key}", float(n)) for key, n in value.items())
            found[f"{trait.name}.total"] = float(sum(value.values()))
        elif trait.kind in CATEGORICAL_KINDS:
            if value is not None:
                found[f"{trait.name}={value}"] = 1.0
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[trait.name] = float(value)
        else:
            found[trait.name] = None
    return found


# -- the propensity --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Driver:
    feature: str
    value: float | None  # None: unknown for this customer (counted as average)
    contribution: float  # coefficient x standardised value, on the log-odds scale


@dataclass(frozen=True, slots=True)
class PropensityModel:
    features: tuple[str, ...]
    means: tuple[float, ...]  # also what an unknown value counts as
    scales: tuple[float, ...]
    weights: tuple[float, ...]  # per standardised feature
    intercept: float

    def standardised(self, row: Mapping[str, float | None]) -> list[float]:
        """Each feature in standard deviations from the mean, at most MAX_Z away: a value
        far outside what the model learnt from (two years of inactivity when it saw
        weeks) must not push the score to 0 or 1 on its own."""
        return [0.0 if (v := row.get(f, 0.0)) is None else max(-MAX_Z, min(MAX_Z, (v - m) / s))
                for f, m, s in zip(self.features, self.means, self.scales, strict=True)]

    def score(self, row: Mapping[str, float | None]) -> float:
        z = self.intercept + sum(map(mul, self.weights, self.standardised(row)))
        return _sigmoid(z)

    def drivers(self, row: Mapping[str, float | None], n: int = 5) -> list[Driver]:
        """The features that moved this score most, away from the average customer's."""
        contributions = map(mul, self.weights, self.standardised(row))
        found = [Driver(f, row.get(f, 0.0), round(c, 4))
                 for f, c in zip(self.features, contributions, strict=True) if abs(c) > 1e-9]
        return sorted(found, key=lambda d: (-abs(d.contribution), d.feature))[:n]

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, float | None]], labels: Sequence[bool],
            l2: float = 1.0, features: Sequence[str] | None = None) -> PropensityModel:
        names = sorted({f for row in rows for f in row}) if features is None else list(features)
        kept, columns, means, scales = [], [], [], []
        for name in names:
            raw = [row.get(name, 0.0) for row in rows]
            known = [v for v in raw if v is not None]
            if not known or max(known) - min(known) < 1e-12:
                continue  # a constant says nothing
            mean = math.fsum(known) / len(known)
            spread = math.sqrt(math.fsum((v - mean) ** 2 for v in known) / len(known))
            kept.append(name)
            columns.append([0.0 if v is None else (v - mean) / spread for v in raw])
            means.append(mean)
            scales.append(spread)
        weights, intercept = _logistic(columns, [1.0 if y else 0.0 for y in labels], l2)
        return cls(tuple(kept), tuple(means), tuple(scales), tuple(weights), intercept)

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "means": list(self.means),
                "scales": list(self.scales), "weights": list(self.weights),
                "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PropensityModel:
        return cls(tuple(data["features"]), tuple(map(float, data["means"])),
                   tuple(map(float, data["scales"])), tuple(map(float, data["weights"])),
                   float(data["intercept"]))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logistic(columns: list[list[float]], y: list[float], l2: float,
              iterations: int = 50) -> tuple[list[float], float]:
    """Penalised logistic regression by Newton's method on column-major data; the
    intercept is not penalised. Returns (weights, intercept)."""
    n = len(y)
    if n == 0:
        return [0.0] * len(columns), 0.0
    design = [[1.0] * n, *columns]  # the intercept first
    d = len(design)
    beta = [0.0] * d
    rate = min(max(math.fsum(y) / n, 1e-6), 1 - 1e-6)
    beta[0] = math.log(rate / (1 - rate))
    for _ in range(iterations):
        z = [beta[0]] * n
        for b, col in zip(beta[1:], columns, strict=True):
            z = [zi + b * xi for zi, xi in zip(z, col, strict=True)]
        p = [_sigmoid(zi) for zi in z]
        w = [pi * (1 - pi) + 1e-9 for pi in p]
        residual = [pi - yi for pi, yi in zip(p, y, strict=True)]
        gradient = [sum(map(mul, col, residual)) + (l2 * beta[j] if j else 0.0)
                    for j, col in enumerate(design)]
        hessian = [[0.0] * d for _ in range(d)]
        for a in range(d):
            weighted = list(map(mul, design[a], w))
            for b in range(a, d):
                hessian[a][b] = hessian[b][a] = sum(map(mul, weighted, design[b]))
            hessian[a][a] += l2 if a else 0.0
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(map(abs, step)) < 1e-8:
            break
    return beta[1:], beta[0]


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is small and positive
    definite)."""
    size = len(vector)
    rows = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        if abs(rows[col][col]) < 1e-15:
            continue
        for r in range(col + 1, size):
            factor = rows[r][col] / rows[col][col]
            if factor:
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    solution = [0.0] * size
    for r in range(size - 1, -1, -1):
        if abs(rows[r][r]) < 1e-15:
            continue
        known = math.fsum(rows[r][c] * solution[c] for c in range(r + 1, size))
        solution[r] = (rows[r][size] - known) / rows[r][r]
    return solution


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = math.fsum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


# -- training --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Quality:
    """Held-out figures: fitted on what was known at `split_at`, scored on what followed."""

    split_at: str
    propensity_auc: float | None
    propensity_train_rows: int
    propensity_test_rows: int
    propensity_test_positives: int
    next_step_top1: float | None
    next_step_top3: float | None
    next_step_tested: int
    baseline_top1: float | None  # always guessing the most common steps
    baseline_top3: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.1f}%"

        auc_text = "n/a" if self.propensity_auc is None else f"{self.propensity_auc:.3f}"
        return (f"held-out split at {self.split_at}: propensity AUC {auc_text} on "
                f"{self.propensity_test_rows} customers ({self.propensity_test_positives} "
                f"converted); next step top-1 {pct(self.next_step_top1)}, top-3 "
                f"{pct(self.next_step_top3)} on {self.next_step_tested} steps (most-common "
                f"baseline top-1 {pct(self.baseline_top1)}, top-3 {pct(self.baseline_top3)})")


@dataclass(frozen=True, slots=True)
class NextBestActionModel:
    next_step: NextStepModel
    propensity: PropensityModel
    quality: Quality
    trained_at: str
    horizon_days: int
    conversion_types: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"version": MODEL_VERSION, "trained_at": self.trained_at,
                "horizon_days": self.horizon_days,
                "conversion_types": list(self.conversion_types),
                "quality": self.quality.to_json(), "next_step": self.next_step.to_json(),
                "propensity": self.propensity.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NextBestActionModel:
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"model version {data.get('version')!r} is not {MODEL_VERSION}; "
                             "train the model again")
        return cls(NextStepModel.from_json(data["next_step"]),
                   PropensityModel.from_json(data["propensity"]),
                   Quality(**data["quality"]), data["trained_at"], int(data["horizon_days"]),
                   tuple(data["conversion_types"]))


def _rows(customers: Sequence[CustomerFacts], at: str, horizon: timedelta,
          conversions: tuple[str, ...], traits: TraitsConfig
          ) -> tuple[list[dict[str, float | None]], list[bool]]:
    """Features at `at` and whether the customer converted in (at, at + horizon], for the
    customers already seen at `at`."""
    until = shift(at, horizon)
    rows, labels = [], []
    for facts in customers:
        if not facts.events or facts.events[0].timestamp > at:
            continue
        values = {t.name: t.compute(facts.events, facts.identifiers, at) for t in traits.traits}
        rows.append(trait_features(values, traits, at))
        labels.append(any(at < e.timestamp <= until and e.type in conversions
                          for e in facts.events))
    return rows, labels


def _transitions(customers: Sequence[CustomerFacts], after: str, until: str
                 ) -> list[tuple[str, str]]:
    """(step, next step) pairs whose next step happened in (after, until]."""
    found = []
    for facts in customers:
        before = START
        for event in facts.events:
            if event.timestamp > until:
                break
            step = step_of(event)
            if step == before:
                continue
            if event.timestamp > after:
                found.append((before, step))
            before = step
    return found


def _accuracy(model: NextStepModel, pairs: Sequence[tuple[str, str]],
              n: int) -> float | None:
    if not pairs:
        return None
    return sum(1 for before, after in pairs
               if after in [s for s, _ in model.top(before, n)]) / len(pairs)


def train(customers: Sequence[CustomerFacts], now: str, *, traits: TraitsConfig | None = None,
          horizon_days: int = 30, conversion_types: Sequence[str] = ("purchase",),
          k: float = 0.5, l2: float = 10.0) -> NextBestActionModel:
    """Fit both models, measure them on a held-out time split, then refit on everything.
    The split is at now - horizon; the propensity's training rows are taken one horizon
    earlier still, so no label it learns from overlaps the test window."""
    now = normal_ts(now)
    traits = traits or TraitsConfig.default()
    conversions = tuple(conversion_types)
    horizon = timedelta(days=horizon_days)
    split_at = shift(now, -horizon)
    train_at = shift(split_at, -horizon)

    train_rows, train_labels = _rows(customers, train_at, horizon, conversions, traits)
    test_rows, test_labels = _rows(customers, split_at, horizon, conversions, traits)
    held_out = PropensityModel.fit(train_rows, train_labels, l2)
    scores = [held_out.score(row) for row in test_rows]

    known_journeys = [journey(c.events, split_at) for c in customers]
    steps_held_out = NextStepModel.fit(known_journeys, k)
    pairs = _transitions(customers, split_at, now)
    common = popularity(known_journeys)
    baseline = [sum(1 for _, after in pairs if after in common[:n]) / len(pairs)
                if pairs else None for n in (1, 3)]
    quality = Quality(
        split_at=split_at,
        propensity_auc=auc(scores, test_labels),
        propensity_train_rows=len(train_rows),
        propensity_test_rows=len(test_rows),
        propensity_test_positives=sum(test_labels),
        next_step_top1=_accuracy(steps_held_out, pairs, 1),
        next_step_top3=_accuracy(steps_held_out, pairs, 3),
        next_step_tested=len(pairs),
        baseline_top1=baseline[0],
        baseline_top3=baseline[1],
    )
    return NextBestActionModel(
        next_step=NextStepModel.fit([journey(c.events, now) for c in customers], k),
        propensity=PropensityModel.fit(train_rows + test_rows, train_labels + test_labels, l2),
        quality=quality,
        trained_at=now,
        horizon_days=horizon_days,
        conversion_types=conversions,
    )


# -- recommending ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Recommendation:
    step: str  # "event_type@source"
    score: float  # the probability that it is the next step
    after: str  # the customer's last step, the Markov model's input (START: none yet)
    evidence: int  # transitions out of `after` the model learnt from
    alternatives: tuple[tuple[str, float], ...]  # the top steps, `step` first
    propensity: float  # probability of a conversion within the horizon
    drivers: tuple[Driver, ...]  # what moved the propensity most

    @property
    def event_type(self) -> str:
        return self.step.partition("@")[0]

    @property
    def source(self) -> str:
        return self.step.partition("@")[2]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step, "event_type": self.event_type, "source": self.source,
            "score": self.score, "after": self.after, "evidence": self.evidence,
            "alternatives": [{"step": s, "score": p} for s, p in self.alternatives],
            "propensity": self.propensity,
            "drivers": [{"feature": d.feature, "value": d.value,
                         "contribution": d.contribution} for d in self.drivers],
        }


def recommend(model: NextBestActionModel, facts: CustomerFacts, now: str, *,
              traits: TraitsConfig | None = None, top: int = 3,
              drivers: int = 5) -> Recommendation | None:
    """The customer's likely next step with its probability, the alternatives, and the
    propensity to convert with the features that drove it. None: an empty model."""
    now = normal_ts(now)
    traits = traits or TraitsConfig.default()
    steps = journey(facts.events, now)
    after = steps[-1] if steps else START
    ranked = model.next_step.top(after, top)
    if not ranked:
        return None
    values = {t.name: t.compute(facts.events, facts.identifiers, now) for t in traits.traits}
    row = trait_features(values, traits, now)
    return Recommendation(
        step=ranked[0][0],
        score=round(ranked[0][1], 4),
        after=after,
        evidence=model.next_step.evidence(after),
        alternatives=tuple((s, round(p, 4)) for s, p in ranked),
        propensity=round(model.propensity.score(row), 4),
        drivers=tuple(model.propensity.drivers(row, drivers)),
    )
