"""What each segment definition reads, and so which segments a write can affect.

An input is a text `kind:name` (SegmentInput): `event:purchase` (events of a type;
`event:*` for a condition or computed trait over every type), `trait:country`,
`identifier:email`, `consent:marketing`. A write names the inputs it touched per customer
(app.domain.effects.pending_checks); streaming evaluation then evaluates only the segments
that read one of them, and those that read those through in_segment. The rest keep their
memberships: nothing they read changed, and time could not change them (the customer's
next time-based check is later; when it is due, every segment that time can change is
evaluated as well).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from app.domain.segments.evaluate import evaluate_all, with_readers
from app.domain.segments.language import (
    ComputedCondition,
    ConsentGiven,
    EventCondition,
    HasIdentifier,
    InSegment,
    Segment,
    TraitCondition,
    leaves,
)
from app.domain.traits import CustomerFacts, TraitsConfig

# With no events, no time window holds anything: any moment gives the same answers.
NO_DATA_MOMENT = "2000-01-01T00:00:00.000000Z"


class SegmentInput(StrEnum):
    """The kinds of customer data a definition reads."""

    EVENT = "event"
    TRAIT = "trait"
    IDENTIFIER = "identifier"
    CONSENT = "consent"


ANY_TYPE = "*"
# Not read by any definition: marks a customer that a write created, so that everything
# it holds came from the writes its check lists (SegmentIndex.new_customer).
CREATED = "customer:created"


def input_key(kind: SegmentInput, name: str) -> str:
    return f"{kind}:{name}"


def reads(segment: Segment, traits: TraitsConfig) -> frozenset[str]:
    """The inputs a definition reads directly (in_segment conditions are not inputs: the
    index follows them)."""
    return frozenset(key for node in leaves(segment.condition) for key in _leaf_reads(node, traits))


def _leaf_reads(node: object, traits: TraitsConfig) -> Iterator[str]:
    if isinstance(node, EventCondition):
        yield input_key(SegmentInput.EVENT, node.event_type or ANY_TYPE)
    elif isinstance(node, TraitCondition):
        yield input_key(SegmentInput.TRAIT, node.name)
    elif isinstance(node, HasIdentifier):
        yield input_key(SegmentInput.IDENTIFIER, node.identifier_type)
    elif isinstance(node, ConsentGiven):
        yield input_key(SegmentInput.CONSENT, node.purpose)
    elif isinstance(node, ComputedCondition):
        trait = traits.get(node.name)
        if trait is None:
            return  # an unknown computed trait is always None: nothing changes it
        if trait.kind == "identifier_count":
            yield input_key(SegmentInput.IDENTIFIER, trait.identifier_type)
        else:
            yield from (input_key(SegmentInput.EVENT, t) for t in trait.types or (ANY_TYPE,))
    elif not isinstance(node, InSegment):
        raise TypeError(f"not a condition: {node!r}")


def touched_event(event_type: str) -> str:
    return input_key(SegmentInput.EVENT, event_type)


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """From each input to the segments that read it, directly or through in_segment."""

    readers: dict[str, frozenset[str]]  # input -> segments (with their dependents)
    timed: frozenset[str]  # segments time alone can change (with their dependents)
    names: frozenset[str]
    # segments a customer with no data at all is in (`NOT has(email)`), with their
    # dependents: a new customer is evaluated for these and for what its writes touched
    without_data: frozenset[str]

    @classmethod
    def of(cls, segments: dict[str, Segment] | Iterable[Segment],
           traits: TraitsConfig) -> SegmentIndex:
        catalogue = segments if isinstance(segments, dict) else {s.name: s for s in segments}
        closed = with_readers(catalogue, list(catalogue))
        readers: dict[str, set[str]] = {}
        for segment in catalogue.values():
            for key in reads(segment, traits):
                readers.setdefault(key, set()).update(closed[segment.name])
        timed = {n for s in catalogue.values() if s.timed for n in closed[s.name]}
        empty = evaluate_all(catalogue, CustomerFacts(""), NO_DATA_MOMENT, traits=traits)
        without_data = {n for name, r in empty.items() if r.member for n in closed[name]}
        return cls({k: frozenset(v) for k, v in readers.items()}, frozenset(timed),
                   frozenset(catalogue), frozenset(without_data))

    def new_customer(self, touched: Collection[str] | None) -> frozenset[str]:
        """The segments to evaluate for a customer never evaluated: when a write created
        it (CREATED among `touched`), everything it holds came from writes that touched
        `touched`, and the other segments read nothing it has: they answer as for no data
        at all, at every moment (not a member). Otherwise every segment."""
        if touched is None or CREATED not in touched:
            return self.names
        return self.affected(touched, time_due=False) | self.without_data

    def affected(self, touched: Collection[str] | None, *, time_due: bool) -> frozenset[str]:
        """The segments to evaluate for a customer whose `touched` inputs changed (None:
        anything may have), with those time can change when its timed check is due."""
        if touched is None:
            return self.names
        found: set[str] = set(self.timed) if time_due else set()
        for key in touched:
            found |= self.readers.get(key, frozenset())
            kind, _, name = key.partition(":")
            if kind == SegmentInput.EVENT and name != ANY_TYPE:
                found |= self.readers.get(touched_event(ANY_TYPE), frozenset())
        return frozenset(found)
