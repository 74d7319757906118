"""Marketing performance: which sources and campaigns conversions are owed to, and how
customers move through a funnel.

A *touch* is an event that carries a campaign: `utm_campaign` (a property, or in the
query of `properties.url`) or `properties.campaign`. Its *source* is `utm_source`, else
`properties.network` (an ad network), else the event's source ("email"). So an ad
impression, its click and the landing page view are touches of one source and campaign;
a run of consecutive touches of one source and campaign counts once.

A *conversion* is an event of a conversion type (purchase) in [since, until); its value
is `properties.amount`, in EUR. Its *path* is the customer's touches in the lookback
window before it (30 days), after the previous conversion. Customers who did not
convert contribute their touches in [since, until) as a path without a conversion: the
Markov model needs to know which paths lead nowhere. A conversion without touches is
credited to "(direct)".

Models:
- last_touch: the whole conversion to the last touch.
- linear: an equal share to every touch of the path.
- markov: a first-order Markov chain over the paths (start -> touches -> conversion or
  nothing); a key's removal effect is the share of conversions lost when its touches
  lead nowhere; conversions are shared out in proportion to the removal effects.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.domain.traits import EventLike, amount_of, normal_ts, shift

DIRECT = "(direct)"
NO_CAMPAIGN = "(none)"
MODELS = ("last_touch", "linear", "markov")
DIMENSIONS = ("source", "campaign")
_START, _CONVERSION, _NULL = "(start)", "(conversion)", "(null)"


@dataclass(frozen=True, slots=True)
class Touch:
    source: str
    campaign: str
    at: str

    def key(self, dimension: str) -> str:
        return self.source if dimension == "source" else self.campaign


def touch_of(event: EventLike) -> Touch | None:
    """The marketing touch an event is, if it carries a campaign or a utm_source."""
    props = event.properties
    query: dict[str, list[str]] = {}
    url = props.get("url")
    if isinstance(url, str) and "?" in url:
        query = parse_qs(urlsplit(url).query)

    def first(name: str) -> str | None:
        value = props.get(name) or next(iter(query.get(name, [])), None)
        return str(value) if value not in (None, "") else None

    campaign = first("utm_campaign") or first("campaign")
    source = first("utm_source") or first("network")
    if campaign is None and source is None:
        return None
    return Touch(source or event.source, campaign or NO_CAMPAIGN, event.timestamp)


@dataclass(frozen=True, slots=True)
class Path:
    touches: tuple[Touch, ...]
    converted: bool
    value: float  # EUR; 0 without a conversion


def paths(journeys: Iterable[Sequence[EventLike]], since: str, until: str, *,
          conversion_types: Sequence[str] = ("purchase",), lookback: timedelta = timedelta(days=30),
          touch: Callable[[EventLike], Touch | None] = touch_of) -> list[Path]:
    """Every conversion's path in [since, until), and each customer's unconverted path."""
    since, until = normal_ts(since), normal_ts(until)
    found: list[Path] = []
    for events in journeys:
        pending: list[Touch] = []
        for event in sorted(events, key=lambda e: (e.timestamp, e.event_id)):
            if event.timestamp >= until:
                break
            if event.type in conversion_types:
                if event.timestamp >= since:
                    start = shift(event.timestamp, -lookback)
                    value = amount_of(event.properties.get("amount")) or 0.0
                    found.append(Path(tuple(t for t in pending if t.at > start), True, value))
                pending = []
            elif (t := touch(event)) is not None and not _repeats(pending, t):
                pending.append(t)
        unconverted = tuple(t for t in pending if t.at >= since)
        if unconverted:
            found.append(Path(unconverted, False, 0.0))
    return found


def _repeats(pending: Sequence[Touch], touch: Touch) -> bool:
    """An ad's impression, click and landing page are one touch."""
    last = pending[-1] if pending else None
    return last is not None and (last.source, last.campaign) == (touch.source, touch.campaign)


# -- the models ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Credit:
    key: str
    conversions: float
    value: float  # EUR


def _credits(conversions: Mapping[str, float], values: Mapping[str, float]) -> tuple[Credit, ...]:
    found = [Credit(k, round(conversions[k], 4), round(values.get(k, 0.0), 2))
             for k in conversions]
    return tuple(sorted(found, key=lambda c: (-c.conversions, -c.value, c.key)))


def _keys(path: Path, dimension: str) -> list[str]:
    return [t.key(dimension) for t in path.touches] or [DIRECT]


def last_touch(found: Iterable[Path], dimension: str) -> tuple[Credit, ...]:
    conversions: Counter[str] = Counter()
    values: defaultdict[str, float] = defaultdict(float)
    for path in found:
        if path.converted:
            key = _keys(path, dimension)[-1]
            conversions[key] += 1
            values[key] += path.value
    return _credits(conversions, values)


def linear(found: Iterable[Path], dimension: str) -> tuple[Credit, ...]:
    conversions: defaultdict[str, float] = defaultdict(float)
    values: defaultdict[str, float] = defaultdict(float)
    for path in found:
        if path.converted:
            keys = _keys(path, dimension)
            for key in keys:
                conversions[key] += 1 / len(keys)
                values[key] += path.value / len(keys)
    return _credits(conversions, values)


def removal_effects(found: Iterable[Path], dimension: str) -> dict[str, float]:
    """Each key's removal effect: the share of conversions lost without it."""
    transitions: dict[str, Counter[str]] = defaultdict(Counter)
    for path in found:
        chain = [_START, *_keys(path, dimension), _CONVERSION if path.converted else _NULL]
        for before, after in zip(chain, chain[1:], strict=False):
            transitions[before][after] += 1
    total = _conversion_probability(transitions, None)
    if total <= 0:
        return {}
    keys = sorted(set(transitions) - {_START})
    return {k: max(0.0, 1 - _conversion_probability(transitions, k) / total) for k in keys}


def _conversion_probability(transitions: Mapping[str, Counter[str]], removed: str | None,
                            tolerance: float = 1e-12, rounds: int = 10_000) -> float:
    """P(reaching a conversion from the start); a removed state leads nowhere."""
    out = {s: sum(row.values()) for s, row in transitions.items()}
    reach = {s: 0.0 for s in transitions}
    reach[_CONVERSION] = 1.0
    for _ in range(rounds):
        change = 0.0
        for state, row in transitions.items():
            if state == removed:
                continue
            new = math.fsum(n * reach.get(t, 0.0) for t, n in row.items()
                            if t != removed) / out[state]
            change = max(change, abs(new - reach[state]))
            reach[state] = new
        if change < tolerance:
            break
    return reach.get(_START, 0.0)


def markov(found: Sequence[Path], dimension: str) -> tuple[Credit, ...]:
    effects = removal_effects(found, dimension)
    total_effect = math.fsum(effects.values())
    converted = [p for p in found if p.converted]
    if not total_effect or not converted:
        return ()
    count, value = len(converted), math.fsum(p.value for p in converted)
    return _credits({k: count * e / total_effect for k, e in effects.items()},
                    {k: value * e / total_effect for k, e in effects.items()})


_MODELS: dict[str, Callable[[Sequence[Path], str], tuple[Credit, ...]]] = {
    "last_touch": last_touch, "linear": linear, "markov": markov,
}


@dataclass(frozen=True, slots=True)
class Attribution:
    since: str
    until: str
    conversions: int
    value: float  # EUR
    paths: int  # converting and not
    credits: Mapping[str, Mapping[str, tuple[Credit, ...]]]  # model -> dimension -> credits

    def table(self, model: str, dimension: str) -> tuple[Credit, ...]:
        return self.credits[model][dimension]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since, "until": self.until, "conversions": self.conversions,
            "value": self.value, "paths": self.paths,
            "credits": {m: {d: [{"key": c.key, "conversions": c.conversions, "value": c.value}
                                for c in credits] for d, credits in dims.items()}
                        for m, dims in self.credits.items()},
        }


def campaign_performance(journeys: Iterable[Sequence[EventLike]], since: str, until: str, *,
                         conversion_types: Sequence[str] = ("purchase",),
                         lookback_days: int = 30,
                         touch: Callable[[EventLike], Touch | None] = touch_of) -> Attribution:
    """Conversions in [since, until) attributed to sources and campaigns by every model.
    `journeys`: each customer's events."""
    found = paths(journeys, since, until, conversion_types=conversion_types,
                  lookback=timedelta(days=lookback_days), touch=touch)
    converted = [p for p in found if p.converted]
    return Attribution(
        since=normal_ts(since),
        until=normal_ts(until),
        conversions=len(converted),
        value=round(math.fsum(p.value for p in converted), 2),
        paths=len(found),
        credits={m: {d: model(found, d) for d in DIMENSIONS} for m, model in _MODELS.items()},
    )


# -- funnels ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str  # an event type, or "type@source"
    customers: int  # who reached it, after the steps before it
    from_previous: float | None  # share of those who reached the previous step
    from_start: float | None  # share of those who reached the first step


def funnel(journeys: Iterable[Sequence[EventLike]], steps: Sequence[str], since: str,
           until: str, *, within: timedelta | None = None) -> tuple[FunnelStep, ...]:
    """How many customers reached each step in order in [since, until), counting from
    their first occurrence of the first step; with `within`, later steps must follow the
    first one within that time."""
    if not steps:
        return ()
    since, until = normal_ts(since), normal_ts(until)
    reached = [0] * len(steps)
    for events in journeys:
        done = 0
        deadline = until
        for event in sorted(events, key=lambda e: (e.timestamp, e.event_id)):
            if event.timestamp < since:
                continue
            if event.timestamp >= deadline or done == len(steps):
                break
            if steps[done] in (event.type, f"{event.type}@{event.source}"):
                if done == 0 and within is not None:
                    deadline = min(until, shift(event.timestamp, within + timedelta.resolution))
                reached[done] += 1
                done += 1
    return tuple(
        FunnelStep(
            step,
            n,
            (n / reached[i - 1] if reached[i - 1] else None) if i else None,
            n / reached[0] if reached[0] else None,
        )
        for i, (step, n) in enumerate(zip(steps, reached, strict=True))
    )
