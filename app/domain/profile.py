"""The unified profile: one value per trait, chosen from every observation by documented
survivorship rules, each with its source and time.

Rules, per trait (configurable; `most_recent` where none is set):
- most_recent: the value seen last wins;
- most_frequent: the value seen most often wins (ties: the most recent);
- source_priority: the value from the highest-priority source wins (ties: most recent).
Consent is always the most recent answer per purpose.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

RULES = ("most_recent", "most_frequent", "source_priority")

DEFAULT_SURVIVORSHIP: dict[str, str] = {
    "first_name": "source_priority",
    "middle_name": "source_priority",
    "last_name": "source_priority",
    "birth_date": "source_priority",
    "gender": "most_frequent",
    "street": "most_recent",
    "house_number": "most_recent",
    "address_line2": "most_recent",
    "postcode": "most_recent",
    "city": "most_recent",
    "state": "most_recent",
    "country": "most_frequent",
}
DEFAULT_SOURCE_PRIORITY: dict[str, int] = {
    "crm": 100, "pos": 60, "callcenter": 50, "app": 40, "web": 30, "chatbot": 20, "ads": 10,
}


@dataclass(frozen=True, slots=True)
class Observation:
    """Traits and consent seen in one event."""

    event_id: str
    timestamp: str
    source: str
    traits: Mapping[str, Any]
    consent: Mapping[str, bool]


@dataclass(frozen=True, slots=True)
class TraitValue:
    name: str
    value: Any
    source: str
    observed_at: str
    rule: str
    observations: int  # how many events carried this trait, any value


@dataclass(frozen=True, slots=True)
class ConsentValue:
    purpose: str
    granted: bool
    source: str
    observed_at: str


@dataclass(frozen=True, slots=True)
class Profile:
    traits: tuple[TraitValue, ...]
    consent: tuple[ConsentValue, ...]

    def trait(self, name: str) -> Any:
        return next((t.value for t in self.traits if t.name == name), None)


def build_profile(observations: Iterable[Observation],
                  survivorship: Mapping[str, str] = DEFAULT_SURVIVORSHIP,
                  source_priority: Mapping[str, int] = DEFAULT_SOURCE_PRIORITY) -> Profile:
    by_trait: dict[str, list[tuple[str, str, Any]]] = {}
    consent: dict[str, ConsentValue] = {}
    for obs in sorted(observations, key=lambda o: (o.timestamp, o.event_id)):
        for name, value in obs.traits.items():
            if value is None or value == "":
                continue
            by_trait.setdefault(name, []).append((obs.timestamp, obs.source, value))
        for purpose, granted in obs.consent.items():
            consent[purpose] = ConsentValue(purpose, bool(granted), obs.source, obs.timestamp)
    traits = []
    for name, seen in sorted(by_trait.items()):
        rule = survivorship.get(name, "most_recent")
        ts, source, value = _survivor(seen, rule, source_priority)
        traits.append(TraitValue(name, value, source, ts, rule, len(seen)))
    return Profile(tuple(traits), tuple(consent[p] for p in sorted(consent)))


def _survivor(seen: list[tuple[str, str, Any]], rule: str,
              source_priority: Mapping[str, int]) -> tuple[str, str, Any]:
    """`seen` is in time order, so max() over (key, position) prefers the most recent."""
    if rule == "most_frequent":
        counts = Counter(_hashable(v) for _, _, v in seen)
        return max(enumerate(seen), key=lambda p: (counts[_hashable(p[1][2])], p[0]))[1]
    if rule == "source_priority":
        return max(enumerate(seen), key=lambda p: (source_priority.get(p[1][1], 0), p[0]))[1]
    return seen[-1]


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value
