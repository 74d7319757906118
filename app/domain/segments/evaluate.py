"""Evaluating segments for one customer at `now`, and knowing when the answer could next
change without a new event.

Evaluation reads only events at or before `now`. A time window `within 30d` holds the
events in (now - 30d, now]: an event leaves it exactly 30 days after it happened. So the
answer for a customer can change only when data changes (an event, a merge, a split, a
new definition) or at a time `next_change_at` names; streaming and batch evaluation that
both re-check at those times agree (see membership.catch_up).

A Result says why: for a member, the conditions that held; for a non-member, the
conditions that failed. A condition under NOT is shown with its NOT.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import networkx as nx

from app.domain.segments.language import (
    And,
    ComputedCondition,
    ConsentGiven,
    EventCondition,
    Exists,
    FieldCondition,
    HasIdentifier,
    InSegment,
    Node,
    Not,
    OneOf,
    Or,
    Predicate,
    Segment,
    SegmentError,
    SegmentErrorCode,
    TraitCondition,
    Vocabulary,
    check_definition,
    format_value,
    leaves,
    parse_segment,
    render,
)
from app.domain.segments.why import NO_DETAIL, word
from app.domain.traits import (
    CustomerFacts,
    EventLike,
    TraitsConfig,
    amount_of,
    normal_ts,
    shift,
)

Catalogue = Mapping[str, Segment]


@dataclass(frozen=True, slots=True)
class Result:
    member: bool
    why: tuple[str, ...]  # member: the conditions that held; otherwise those that failed

    @property
    def why_text(self) -> str:
        return "; ".join(self.why)


# -- the catalogue: definitions that read each other ---------------------------------------
def dependency_graph(segments: Catalogue) -> nx.DiGraph:
    """An edge a -> b when segment a reads in_segment(b)."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(segments)
    for segment in segments.values():
        graph.add_edges_from((segment.name, ref) for ref in segment.references)
    return graph


def check_catalogue(segments: Catalogue, focus: str | None = None) -> None:
    """Refuse references to unknown segments and cycles; blame `focus` when it is part of
    the fault (the definition being saved)."""
    first = [focus] if focus is not None and focus in segments else []
    for name in first + sorted(set(segments) - set(first)):
        for node in leaves(segments[name].condition):
            if isinstance(node, InSegment) and node.segment not in segments:
                raise _at(segments[name], node, f"unknown segment {node.segment!r}")
    graph = dependency_graph(segments)
    cycle = _cycle_through(graph, first[0]) if first else None
    if cycle is None:
        try:
            cycle = [a for a, _ in nx.find_cycle(graph)]
        except nx.NetworkXNoCycle:
            return
    blamed, read = cycle[0], cycle[1 % len(cycle)]
    node = next(n for n in leaves(segments[blamed].condition)
                if isinstance(n, InSegment) and n.segment == read)
    loop = " -> ".join([*cycle, cycle[0]])
    raise _at(segments[blamed], node, f"in_segment({read}) makes a cycle: {loop}; a "
                                      "segment cannot depend on itself")


def _cycle_through(graph: nx.DiGraph, name: str) -> list[str] | None:
    for ref in sorted(graph.successors(name)):
        if nx.has_path(graph, ref, name):
            path: list[str] = nx.shortest_path(graph, ref, name)
            return [name, *path[:-1]]
    return None


def _at(segment: Segment, node: InSegment, reason: str) -> SegmentError:
    return SegmentError(reason, text=segment.text, line=node.span.line,
                        column=node.span.column, length=node.span.length,
                        segment=segment.name)


_ORDERS: dict[tuple[tuple[str, int], ...], tuple[tuple[Segment, ...], list[str]]] = {}


def evaluation_order(segments: Catalogue) -> list[str]:
    """Every segment after the segments it reads, otherwise in name order. Remembered per
    catalogue (the same Segment objects), since it runs on every evaluation."""
    key = tuple((name, id(segment)) for name, segment in segments.items())
    found = _ORDERS.get(key)
    if found is None:
        if len(_ORDERS) > 64:
            _ORDERS.clear()
        # the segments are kept with the order, so their ids cannot be reused meanwhile
        found = _ORDERS[key] = (tuple(segments.values()), _order(segments))
    return found[1]


def _order(segments: Catalogue) -> list[str]:
    """A plain depth-first walk; the graph library only on faults."""
    order: list[str] = []
    state: dict[str, bool] = {}  # False: being visited; True: placed

    def visit(name: str) -> None:
        if state.get(name) is False or name not in segments:
            check_catalogue(segments)  # raises, pointing at the cycle or unknown name
        if name in state:
            return
        state[name] = False
        for ref in sorted(segments[name].references):
            visit(ref)
        state[name] = True
        order.append(name)

    for name in sorted(segments):
        visit(name)
    return order


def dependents(segments: Catalogue, names: Collection[str]) -> set[str]:
    """`names` and every segment that reads one of them, directly or not: what to
    re-evaluate when they change."""
    graph = dependency_graph(segments)
    found = {n for n in names if n in graph}
    for name in list(found):
        found |= nx.ancestors(graph, name)
    return found


@dataclass(frozen=True, slots=True)
class DefinitionLimits:
    """The policy for new definitions (check_definition); stored ones keep loading."""

    conditions: int
    nesting: int


def define_segment(segments: Catalogue, name: str, text: str, vocabulary: Vocabulary, *,
                   update: bool = False, limits: DefinitionLimits | None = None
                   ) -> dict[str, Segment]:
    """The catalogue with `name` defined (update=False) or redefined (update=True), the
    text held to `limits` when given (check_definition). Raises SegmentError: the name's
    refusal first, then the fault in the text."""
    if not update and name in segments:
        raise SegmentError(f"segment {name!r} exists already; update it instead",
                           segment=name, code=SegmentErrorCode.SEGMENT_EXISTS)
    if update and name not in segments:
        raise SegmentError(f"there is no segment {name!r} to update", segment=name,
                           code=SegmentErrorCode.UNKNOWN_SEGMENT)
    if limits is not None:
        check_definition(parse_segment(name, text), limits.conditions, limits.nesting)
    known = replace(vocabulary, segments=frozenset(segments) | {name})
    catalogue = {**segments, name: parse_segment(name, text, known)}
    check_catalogue(catalogue, focus=name)
    return catalogue


def delete_segment(segments: Catalogue, name: str) -> dict[str, Segment]:
    """The catalogue without `name`; refused while other segments read it."""
    if name not in segments:
        raise SegmentError(f"there is no segment {name!r} to delete", segment=name,
                           code=SegmentErrorCode.UNKNOWN_SEGMENT)
    users = sorted(s.name for s in segments.values() if name in s.references and s.name != name)
    if users:
        raise SegmentError(f"segment {name!r} is read by {', '.join(users)}; change "
                           "those definitions first", segment=name,
                           code=SegmentErrorCode.SEGMENT_IN_USE)
    return {n: s for n, s in segments.items() if n != name}


# -- evaluation ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Context:
    facts: CustomerFacts
    now: str
    traits: TraitsConfig
    memberships: dict[str, bool] = field(default_factory=dict)
    computed: dict[str, Any] = field(default_factory=dict)

    def computed_value(self, name: str) -> Any:
        if name not in self.computed:
            trait = self.traits.get(name)
            self.computed[name] = (None if trait is None else
                                   trait.compute(self.facts.events, self.facts.identifiers,
                                                 self.now))
        return self.computed[name]


def evaluate(segment: Segment, facts: CustomerFacts, now: str, *,
             traits: TraitsConfig | None = None,
             memberships: Mapping[str, bool] | None = None) -> Result:
    """One segment for one customer; `memberships` answers its in_segment conditions."""
    context = _Context(facts, normal_ts(now), traits or TraitsConfig.default(),
                       dict(memberships or {}))
    return Result(*_evaluate(segment.condition, context))


def evaluate_all(segments: Catalogue, facts: CustomerFacts, now: str, *,
                 traits: TraitsConfig | None = None) -> dict[str, Result]:
    """Every segment for one customer, each after the segments it reads."""
    context = _Context(facts, normal_ts(now), traits or TraitsConfig.default())
    results: dict[str, Result] = {}
    for name in evaluation_order(segments):
        results[name] = Result(*_evaluate(segments[name].condition, context))
        context.memberships[name] = results[name].member
    return results


def _evaluate(node: Node, context: _Context) -> tuple[bool, tuple[str, ...]]:
    if isinstance(node, And | Or):
        parts = [_evaluate(item, context) for item in node.items]
        held = all(p[0] for p in parts) if isinstance(node, And) else any(p[0] for p in parts)
        # the parts that decided: all of them when they agree with the outcome
        return held, tuple(w for ok, why in parts if ok == held for w in why)
    if isinstance(node, Not):
        held, why = _evaluate(node.item, context)
        return not held, tuple("NOT " + w for w in why)
    held, value = _leaf(node, context)
    return held, (word(render(node), value),)


def _leaf(node: Node, context: _Context) -> tuple[bool, Any]:
    facts = context.facts
    if isinstance(node, TraitCondition):
        value = facts.traits.get(node.name)
        return holds(node.predicate, value), value
    if isinstance(node, ComputedCondition):
        value = context.computed_value(node.name)
        if node.key is not None:
            value = value.get(node.key, 0) if isinstance(value, Mapping) else None
        return holds(node.predicate, value), value
    if isinstance(node, EventCondition):
        value = event_value(node, facts.events, context.now)
        return compare(value, node.op, node.value), value
    if isinstance(node, HasIdentifier):
        return node.identifier_type in facts.identifier_types, NO_DETAIL
    if isinstance(node, ConsentGiven):
        answer = facts.consent.get(node.purpose)
        return answer is True, {True: "granted", False: "refused", None: "no answer"}[answer]
    if isinstance(node, InSegment):
        if node.segment not in context.memberships:
            raise SegmentError(f"in_segment({node.segment}) needs {node.segment!r} "
                               "evaluated first; use evaluate_all")
        return context.memberships[node.segment], NO_DETAIL
    raise TypeError(f"not a condition: {node!r}")


def event_value(node: EventCondition, events: Iterable[EventLike], now: str) -> float:
    """count(...) or sum(...) of the matching events in the condition's window at `now`."""
    since = shift(now, -node.window) if node.window is not None else ""
    seen = [e for e in events if since < e.timestamp <= now and matches(node, e)]
    if node.function == "count":
        return len(seen)
    amounts = (amount_of(_field(e, "properties." + (node.property_name or ""))) for e in seen)
    return round(math.fsum(a for a in amounts if a is not None), 2)


def matches(node: EventCondition, event: EventLike) -> bool:
    if node.event_type is not None and event.type != node.event_type:
        return False
    return node.where is None or _passes(node.where, event)


def _passes(node: Node, event: EventLike) -> bool:
    if isinstance(node, And):
        return all(_passes(item, event) for item in node.items)
    if isinstance(node, Or):
        return any(_passes(item, event) for item in node.items)
    if isinstance(node, Not):
        return not _passes(node.item, event)
    if isinstance(node, FieldCondition):
        return holds(node.predicate, _field(event, node.name))
    raise TypeError(f"not a filter: {node!r}")


def _field(event: EventLike, name: str) -> Any:
    if name == "source":
        return event.source
    if name == "type":
        return event.type
    value: Any = event.properties
    for part in name.removeprefix("properties.").split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def holds(predicate: Predicate, value: Any) -> bool:
    """A missing value satisfies no comparison (not even !=); test it with `exists`."""
    if isinstance(predicate, Exists):
        return value is not None and value != "" and value != {}
    if isinstance(predicate, OneOf):
        return any(compare(value, "=", v) for v in predicate.values)
    return compare(value, predicate.op, predicate.value)


def compare(value: Any, op: str, expected: Any) -> bool:
    if value is None or value == "":
        return False
    pair = _comparable(value, expected)
    if pair is None:  # values of different kinds: only "differs" is true
        return op == "!="
    left, right = pair
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(left, bool):  # true and false have no order
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[op]


def _comparable(value: Any, expected: Any) -> tuple[Any, Any] | None:
    """Both sides as one kind: numbers (numeric text counts), booleans, or text."""
    if isinstance(expected, bool):
        return (value, expected) if isinstance(value, bool) else None
    if isinstance(expected, int | float):
        # Python compares a float with an int exactly, however large: no float() that
        # could overflow on a long number in a definition. A finite float is compared as
        # it is: a sum or a computed total of amounts within the bounds may exceed the
        # bound of one amount, and is still a number.
        number = value if type(value) is float and math.isfinite(value) else amount_of(value)
        return None if number is None else (number, expected)
    if isinstance(value, bool | dict | list):
        return None
    return (value if isinstance(value, str) else format_value(value)), expected


# -- when could it change --------------------------------------------------------------------
def next_change_at(segments: Catalogue, facts: CustomerFacts, now: str, *,
                   traits: TraitsConfig | None = None,
                   names: Collection[str] | None = None) -> str | None:
    """The earliest time after `now` at which a time window (or an event dated after
    `now`) could change a result of these segments (`names` and what they read; all when
    None) without any new data; None when only new data can."""
    now = normal_ts(now)
    traits = traits or TraitsConfig.default()
    wanted = set(segments) if names is None else _with_dependencies(segments, names)
    times: set[str] = set()
    for name in wanted:
        for node in segments[name].timed:
            at = _leaf_change(node, facts, now, traits)
            if at is not None:
                times.add(at)
    return min(times, default=None)


def _with_dependencies(segments: Catalogue, names: Collection[str]) -> set[str]:
    graph = dependency_graph(segments)
    found = {n for n in names if n in graph}
    for name in list(found):
        found |= nx.descendants(graph, name)
    return found


def _leaf_change(node: Node, facts: CustomerFacts, now: str,
                 traits: TraitsConfig) -> str | None:
    if isinstance(node, ComputedCondition):
        trait = traits.get(node.name)
        if trait is None:
            return None
        marks = _day_marks(node.predicate) if trait.kind == "days_since" else None
        return trait.next_change(facts.events, now, marks)
    if not isinstance(node, EventCondition):
        return None  # traits, identifiers, consent change only with new data
    return window_change([e for e in facts.events if matches(node, e)], now, node.window)


def _day_marks(predicate: Predicate) -> set[int] | None:
    """The whole-day counts at which a comparison of a days_since value can flip: for
    `> 60`, reaching 60 and 61 days. None: any day (a comparison with text)."""
    if isinstance(predicate, Exists):
        return set()
    values = predicate.values if isinstance(predicate, OneOf) else (predicate.value,)
    numbers = [amount_of(v) for v in values if not isinstance(v, bool)]
    if len(numbers) != len(values) or None in numbers:
        return None
    return {k for n in numbers if n is not None for k in (math.floor(n), math.floor(n) + 1)}


def window_change(events: Iterable[EventLike], now: str,
                  window: timedelta | None) -> str | None:
    """For time-ordered events: when the first one in the window (now - window, now]
    leaves it, or the first one dated after `now` comes into view, whichever is first."""
    since = shift(now, -window) if window is not None else None
    leaves_at = None
    for event in events:
        if event.timestamp > now:
            return min(event.timestamp, leaves_at or event.timestamp)
        if window is not None and since is not None and leaves_at is None \
                and event.timestamp > since:
            leaves_at = shift(event.timestamp, window)
    return leaves_at
