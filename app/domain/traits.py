"""Computed traits: values derived from a customer's events, declared in configuration.

A computed trait is a name, a definition (text for people) and a pure function of
(events, identifiers, now). Every function reads only the events at or before `now`, so
the same code answers "what is it now" and "what was it then" (training a model at a
past cutoff, re-checking a segment when a time window expires).

Amounts are read from `properties.amount` (configurable per trait) and are taken to be
in EUR: idgraph does not convert currencies.

Timestamps are idgraph's fixed-width UTC text ("2024-03-01T12:00:00.000000Z"), so text
order is time order and windows compare as text.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from app.domain import bounds
from app.domain.events import Event, format_ts, parse_ts
from app.domain.profile import Profile

DAY = timedelta(days=1)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_UNITS = {"h": timedelta(hours=1), "d": DAY, "w": timedelta(weeks=1)}
_MAX_DAYS = timedelta.max.days
_DURATION = re.compile(r"^\s*(\d+)\s*(h|d|w|hours?|days?|weeks?)\s*$")


class TraitsError(ValueError):
    """A computed-traits configuration that cannot be used; the message names the setting."""


class EventLike(Protocol):
    """What the computations read of an event; the stores' EventRecord is one."""

    @property
    def event_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def timestamp(self) -> str: ...  # fixed-width UTC text
    @property
    def source(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class EventView:
    """A minimal EventLike, for a domain Event (see `view_of`) and for tests."""

    event_id: str
    type: str
    timestamp: str
    source: str
    properties: Mapping[str, Any] = field(default_factory=dict)


def view_of(event: Event) -> EventView:
    return EventView(event.event_id, event.type, event.ts, event.source, event.properties)


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """One customer as the computations see it. Events are kept in time order."""

    customer_id: str
    events: tuple[EventLike, ...] = ()
    identifiers: tuple[str, ...] = ()  # identifier keys, "type:value"
    traits: Mapping[str, Any] = field(default_factory=dict)  # the profile's chosen values
    consent: Mapping[str, bool] = field(default_factory=dict)  # purpose -> latest answer

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.events, key=lambda e: (e.timestamp, e.event_id)))
        object.__setattr__(self, "events", ordered)
        object.__setattr__(self, "identifiers", tuple(sorted(set(self.identifiers))))

    @classmethod
    def from_profile(cls, customer_id: str, events: Iterable[EventLike],
                     identifiers: Iterable[str], profile: Profile) -> CustomerFacts:
        return cls(
            customer_id,
            tuple(events),
            tuple(identifiers),
            {t.name: t.value for t in profile.traits},
            {c.purpose: c.granted for c in profile.consent},
        )

    @property
    def identifier_types(self) -> frozenset[str]:
        return frozenset(k.partition(":")[0] for k in self.identifiers)


# -- time --------------------------------------------------------------------------------
def moment(ts: str) -> datetime:
    return parse_ts(ts)


def normal_ts(ts: str) -> str:
    """Any RFC 3339 text with an offset as fixed-width UTC text."""
    return format_ts(parse_ts(ts))


@functools.lru_cache(maxsize=8192)
def shift(ts: str, delta: timedelta) -> str:
    """`ts` moved by `delta`, held at the first or last moment a date-time can take: a
    stored event near year 1 or 9999 (stores written before the bounds on timestamps)
    must not break a window that reaches past it. Remembered: segment evaluation shifts
    the same moment by the same windows for every customer it evaluates then."""
    moment = parse_ts(ts)
    try:
        return format_ts(moment + delta)
    except OverflowError:
        end = datetime.min if delta < timedelta(0) else datetime.max
        return format_ts(end.replace(tzinfo=UTC))


def days_later(ts: str, days: int) -> str:
    """`ts` moved by a whole number of days, however large (held as `shift` holds it)."""
    return shift(ts, timedelta(days=max(-_MAX_DAYS, min(_MAX_DAYS, days))))


def parse_duration(text: str) -> timedelta:
    """"30d", "12h", "2w" or "30 days"; raises ValueError."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 7d, 12h or 2w")
    return int(found.group(1)) * _UNITS[found.group(2)[0]]


def format_duration(window: timedelta) -> str:
    """In days when whole days (a marketer's unit: 2w is 14d), else in hours."""
    hours = int(window.total_seconds()) // 3600
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def days_between(earlier: str, later: str) -> int:
    """Whole days from `earlier` to `later` (rounded down)."""
    return math.floor((moment(later) - moment(earlier)) / DAY)


def amount_of(value: Any) -> float | None:
    """A number from an event property; numeric text counts, anything else does not, nor
    does a number outside the bounds of app/domain/bounds.py (stores written before the
    bounds may hold one, such as 1 followed by 400 zeros)."""
    if isinstance(value, str):
        if len(value) > bounds.MAX_NUMBER_TEXT:
            return None
        try:
            return bounds.finite(float(value))
        except ValueError:
            return None
    return bounds.finite(value)


# -- definitions -------------------------------------------------------------------------
KINDS = (
    "count", "sum", "average", "first_seen", "last_seen", "days_since", "most_frequent",
    "count_by_type", "distinct_count", "identifier_count",
)
# kinds whose value is a mapping; a segment may read one entry: computed(name.key)
MAP_KINDS = ("count_by_type",)
_KEYS = {"name", "kind", "types", "property", "field", "window", "identifier_type",
         "description"}


@dataclass(frozen=True, slots=True)
class TraitDefinition:
    name: str
    kind: str
    types: tuple[str, ...] = ()  # event types it reads; () reads every type
    property_name: str = "amount"  # sum, average: the numeric property (EUR for amounts)
    field_name: str = "source"  # most_frequent, distinct_count: "source", "type" or a property
    window: timedelta | None = None  # only events in (now - window, now]
    identifier_type: str = ""  # identifier_count
    description: str = ""  # shown instead of the generated definition

    @property
    def definition(self) -> str:
        return self.description or _describe(self)

    def relevant(self, event: EventLike) -> bool:
        return not self.types or event.type in self.types

    def compute(self, events: Sequence[EventLike], identifiers: Collection[str], now: str) -> Any:
        return _COMPUTE[self.kind](self, self._seen(events, now), identifiers, now)

    def next_change(self, events: Sequence[EventLike], now: str,
                    day_marks: Collection[int] | None = None) -> str | None:
        """The earliest time after `now` at which the value could change with no new
        event: an event leaving the window, a later event coming into view, or (for
        days_since) the next whole day; with `day_marks`, only the moments the count of
        days reaches one of them (what a condition such as `> 60` can notice)."""
        if self.kind == "identifier_count":
            return None
        since = shift(now, -self.window) if self.window is not None else None
        times: list[str] = []
        last = None
        for event in events:
            if not self.relevant(event):
                continue
            if event.timestamp > now:
                times.append(event.timestamp)
                break  # events are in time order: the first one later than now is earliest
            last = event.timestamp
            if since is not None and event.timestamp > since and self.window is not None:
                times.append(shift(event.timestamp, self.window))
                since = None  # the first event in the window leaves it first
        if self.kind == "days_since" and last is not None:
            if day_marks is None:
                times.append(days_later(last, days_between(last, now) + 1))
            else:
                times += [t for k in day_marks if (t := days_later(last, k)) > now]
        return min(times, default=None)

    def _seen(self, events: Sequence[EventLike], now: str) -> list[EventLike]:
        since = shift(now, -self.window) if self.window is not None else ""
        return [e for e in events if since < e.timestamp <= now and self.relevant(e)]


def _describe(d: TraitDefinition) -> str:
    what = " or ".join(d.types) + " events" if d.types else "events"
    when = f" in the last {format_duration(d.window)}" if d.window else ""
    prop = f"properties.{d.property_name}"
    eur = " (EUR)" if d.property_name == "amount" else ""
    texts = {
        "count": f"number of {what}{when}",
        "sum": f"sum of {prop} over {what}{when}{eur}",
        "average": f"average {prop} of {what}{when}{eur}",
        "first_seen": f"time of the first of the {what}",
        "last_seen": f"time of the last of the {what}",
        "days_since": f"whole days since the last of the {what}",
        "most_frequent": f"most frequent {_field_text(d.field_name)} of {what}{when}",
        "count_by_type": f"number of events of each type{when}",
        "distinct_count": f"number of distinct {_field_text(d.field_name)} values of {what}{when}",
        "identifier_count": f"number of {d.identifier_type} identifiers",
    }
    return texts[d.kind]


def _field_text(name: str) -> str:
    return name if name in ("source", "type") else f"properties.{name}"


def _field_value(event: EventLike, name: str) -> Any:
    if name == "source":
        return event.source
    if name == "type":
        return event.type
    value = event.properties.get(name)
    return None if isinstance(value, dict | list) else value


Compute = Callable[[TraitDefinition, list[EventLike], Collection[str], str], Any]


def _count(d: TraitDefinition, seen: list[EventLike], _i: Collection[str], _n: str) -> int:
    return len(seen)


def _amounts(d: TraitDefinition, seen: list[EventLike]) -> list[float]:
    return [a for e in seen if (a := amount_of(e.properties.get(d.property_name))) is not None]


def _sum(d: TraitDefinition, seen: list[EventLike], _i: Collection[str], _n: str) -> float:
    # rounded to cents, so that the order of addition never shows
    return round(math.fsum(_amounts(d, seen)), 2)


def _average(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
             _n: str) -> float | None:
    amounts = _amounts(d, seen)
    return round(math.fsum(amounts) / len(amounts), 2) if amounts else None


def _first_seen(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
                _n: str) -> str | None:
    return min((e.timestamp for e in seen), default=None)


def _last_seen(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
               _n: str) -> str | None:
    return max((e.timestamp for e in seen), default=None)


def _days_since(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
                now: str) -> int | None:
    last = _last_seen(d, seen, _i, now)
    return None if last is None else days_between(last, now)


def _most_frequent(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
                   _n: str) -> Any:
    values = [v for e in seen if (v := _field_value(e, d.field_name)) not in (None, "")]
    if not values:
        return None
    counts = Counter(values)
    last_at = {v: i for i, v in enumerate(values)}
    # ties go to the value seen most recently: the customer's current habit
    return max(counts, key=lambda v: (counts[v], last_at[v]))


def _count_by_type(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
                   _n: str) -> dict[str, int]:
    return dict(sorted(Counter(e.type for e in seen).items()))


def _distinct_count(d: TraitDefinition, seen: list[EventLike], _i: Collection[str],
                    _n: str) -> int:
    return len({v for e in seen if (v := _field_value(e, d.field_name)) not in (None, "")})


def _identifier_count(d: TraitDefinition, _s: list[EventLike], identifiers: Collection[str],
                      _n: str) -> int:
    prefix = d.identifier_type + ":"
    return len({k for k in identifiers if k.startswith(prefix)})


_COMPUTE: dict[str, Compute] = {
    "count": _count, "sum": _sum, "average": _average, "first_seen": _first_seen,
    "last_seen": _last_seen, "days_since": _days_since, "most_frequent": _most_frequent,
    "count_by_type": _count_by_type, "distinct_count": _distinct_count,
    "identifier_count": _identifier_count,
}


# -- configuration -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TraitsConfig:
    traits: tuple[TraitDefinition, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.traits)

    def get(self, name: str) -> TraitDefinition | None:
        return next((t for t in self.traits if t.name == name), None)

    @classmethod
    def default(cls) -> TraitsConfig:
        return _DEFAULT

    @classmethod
    def from_toml(cls, text: str) -> TraitsConfig:
        try:
            return cls.from_mapping(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise TraitsError(f"not valid TOML: {exc}") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TraitsConfig:
        unknown = set(data) - {"trait"}
        if unknown:
            raise TraitsError(f"unknown section(s) {sorted(unknown)}; expected [[trait]] tables")
        items = data.get("trait", [])
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise TraitsError("trait: must be an array of tables ([[trait]])")
        traits = tuple(_definition(i, item) for i, item in enumerate(items))
        seen: set[str] = set()
        for trait in traits:
            if trait.name in seen:
                raise TraitsError(f"trait {trait.name!r} is defined twice")
            seen.add(trait.name)
        return cls(traits)


def _definition(index: int, item: Mapping[str, Any]) -> TraitDefinition:
    name = item.get("name")
    where = f"trait[{index}]" + (f" ({name})" if isinstance(name, str) else "")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TraitsError(f"{where}.name: must be lower_snake_case text, not {name!r}")
    unknown = set(item) - _KEYS
    if unknown:
        raise TraitsError(f"{where}: unknown setting(s) {sorted(unknown)}; "
                          f"expected some of {sorted(_KEYS)}")
    kind = item.get("kind")
    if kind not in KINDS:
        raise TraitsError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    types = item.get("types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise TraitsError(f"{where}.types: must be a list of event types")
    texts = {k: item.get(k, "") for k in ("property", "field", "identifier_type", "description")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise TraitsError(f"{where}.{key}: must be text")
    if kind == "identifier_count" and not texts["identifier_type"]:
        raise TraitsError(f"{where}.identifier_type: an identifier_count needs it")
    window = None
    if "window" in item:
        try:
            window = parse_duration(str(item["window"]))
        except ValueError as exc:
            raise TraitsError(f"{where}.window: {exc}") from None
    return TraitDefinition(
        name=name,
        kind=kind,
        types=tuple(types),
        property_name=texts["property"] or "amount",
        field_name=texts["field"] or "source",
        window=window,
        identifier_type=texts["identifier_type"],
        description=texts["description"],
    )


DEFAULT_TRAITS_TOML = """\
# idgraph computed traits: each [[trait]] has a name, a kind and the settings of its kind.
# Amounts are read from properties.amount and taken to be in EUR. See docs/segments.md.

[[trait]]
name = "order_count"
kind = "count"
types = ["purchase"]

[[trait]]
name = "lifetime_value"
kind = "sum"
types = ["purchase"]
property = "amount"

[[trait]]
name = "average_order_value"
kind = "average"
types = ["purchase"]
property = "amount"

[[trait]]
name = "first_seen"
kind = "first_seen"

[[trait]]
name = "last_seen"
kind = "last_seen"

[[trait]]
name = "days_since_last_purchase"
kind = "days_since"
types = ["purchase"]

[[trait]]
name = "events_7d"
kind = "count_by_type"
window = "7d"

[[trait]]
name = "events_30d"
kind = "count_by_type"
window = "30d"

[[trait]]
name = "events_90d"
kind = "count_by_type"
window = "90d"

[[trait]]
name = "favourite_channel"
kind = "most_frequent"
field = "source"

[[trait]]
name = "favourite_category"
kind = "most_frequent"
types = ["purchase"]
field = "category"

[[trait]]
name = "device_count"
kind = "identifier_count"
identifier_type = "device_id"
"""

_DEFAULT = TraitsConfig.from_toml(DEFAULT_TRAITS_TOML)


# -- computing ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ComputedTrait:
    """A computed trait's value, for Customer.profile, with its definition."""

    name: str
    value: Any
    definition: str
    kind: str


def compute_traits(facts: CustomerFacts, now: str,
                   config: TraitsConfig | None = None) -> dict[str, Any]:
    """Every configured trait's value for one customer at `now`."""
    now = normal_ts(now)
    return {t.name: t.compute(facts.events, facts.identifiers, now)
            for t in (config or _DEFAULT).traits}


def computed_profile(facts: CustomerFacts, now: str,
                     config: TraitsConfig | None = None) -> tuple[ComputedTrait, ...]:
    """The computed traits with their definitions, in configuration order."""
    config = config or _DEFAULT
    values = compute_traits(facts, now, config)
    return tuple(ComputedTrait(t.name, values[t.name], t.definition, t.kind)
                 for t in config.traits)


def next_trait_change(facts: CustomerFacts, now: str,
                      config: TraitsConfig | None = None) -> str | None:
    """When any computed trait could next change without a new event (None: never)."""
    now = normal_ts(now)
    times = [t.next_change(facts.events, now) for t in (config or _DEFAULT).traits]
    return min((t for t in times if t is not None), default=None)
