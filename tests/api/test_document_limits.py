"""The walks that measure a document (cost, depth, aliases) look at each fragment once,
however often it is spread: fragments that spread the next one twice at every level
write out 2^n fields, and are measured in n steps."""

from __future__ import annotations

from typing import Any

from graphql import get_operation_ast, parse

from app.api.cost import query_cost
from app.api.schema import build_schema
from app.api.shape import ShapeMeter, fragments_of
from app.config import Settings

LEVELS = 16


class CountingFragments(dict[str, Any]):
    """A fragment table that counts how often a walk looks a fragment up."""

    lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.lookups += 1
        return super().__getitem__(key)


def doubling(levels: int, leaf: str) -> str:
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return " ".join(["query Q { ...F0 }", *fragments,
                     f"fragment F{levels} on Query {{ {leaf} }}"])


def table(document: Any) -> CountingFragments:
    return CountingFragments(fragments_of(document.definitions))


def test_the_cost_walk_measures_each_fragment_once():
    schema = build_schema(Settings())._schema
    document = parse(doubling(LEVELS, "viewer { role } customers(identifiers: []) { id }"))
    fragments = table(document)
    cost = query_cost(schema, get_operation_ast(document), fragments, {})
    assert cost == 2**LEVELS * 2  # viewer 1, customers (no identifiers: 1)
    assert fragments.lookups <= 2 * (LEVELS + 1)


def test_the_cost_walk_scales_a_fragment_by_where_it_is_spread():
    schema = build_schema(Settings())._schema
    document = parse("""query Q($n: Int!) { customer(id: "x") { ...T } segments { ...S }
        other: customer(id: "y") { timeline(first: $n) { edges { node { eventId } } } } }
        fragment T on Customer { timeline(first: 5) { edges { node { eventId } } } }
        fragment S on Segment { members(first: 3) { edges { node { ...T } } } }""")
    cost = query_cost(schema, get_operation_ast(document), fragments_of(document.definitions),
                      {"n": 7})
    # customer 1 + timeline (1 + 5 edges x (1 + node 1)) = 12; segments: 10 x (1 + members
    # (1 + 3 edges x (1 + node 1 + T 11))) = 10 x 41 = 410; other: 1 + (1 + 7 x 2) = 16
    assert cost == 12 + 410 + 16


def test_the_depth_and_alias_walk_measures_each_fragment_once():
    document = parse(doubling(LEVELS, "a: viewer { role } b: viewer { actor }"))
    fragments = table(document)
    shape = ShapeMeter(fragments).selections(get_operation_ast(document).selection_set)
    assert shape.aliases == 2 * 2**LEVELS
    assert shape.depth == 1
    assert fragments.lookups <= 2 * (LEVELS + 1)


def test_a_fragment_cycle_ends_the_walk():
    document = parse("query Q { ...A } fragment A on Query { viewer { role } ...B } "
                     "fragment B on Query { ...A }")
    shape = ShapeMeter(fragments_of(document.definitions)).selections(
        get_operation_ast(document).selection_set)
    assert shape.depth == 1
