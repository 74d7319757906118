"""A reader sees none of a customer's personal values, in any spelling, in any field it can
reach: every field of every type reachable from Query and Subscription is selected (the
walk fails when a field with required arguments has no arguments here, so a new field is
covered or this test fails), run as a reader, and searched for every spelling of the
customer's values. The same queries run as a steward find every spelling: the values do
reach those fields. The explorer's own calls: tests/browser/test_reader_privacy.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
)

from app.api.schema import schema
from tests.api.test_subscriptions import collect, wait_for_subscribers
from tests.helpers import raw_event
from tests.privacy_data import (
    COOKIE,
    EMAIL,
    NOTE,
    OTHER_COOKIE,
    PHONE,
    SEGMENTS,
    TRACES,
    patterns_found,
    seed_services,
    traces,
)

# The nodes a reader may refetch (an AuditEntry is for stewards: tests/api/test_nodes.py).
NODE_KINDS = ["Customer", "Identifier", "IdentifierInfo", "Link", "Event"]
NODE_IDS = f"""query($cid: ID!) {{
  customer(id: $cid) {{ id identifiers {{ id }} timeline(first: 100) {{ edges {{ node {{ id }} }} }}
    identityGraph(depth: 2) {{ links {{ id }} }} }}
  identifier(type: "email", value: "{EMAIL}") {{ id links {{ id }} }} }}"""

# The arguments of each field that needs some (or that gives more with some), as GraphQL
# literals; a field listed more than once is asked under aliases. {cid}: the customer.
ARGUMENTS: dict[tuple[str, str], list[str]] = {
    ("Query", "customer"): ['id: "{cid}"'],
    ("Query", "customerByIdentifier"): [f'type: "email", value: "{EMAIL.upper()}"',
                                        f'type: "user_id", value: "{EMAIL.upper()}"'],
    ("Query", "customers"): [f'identifiers: [{{type: "phone", value: "06 2222 3333"}}, '
                             f'{{type: "cookie", value: "{COOKIE}"}}]'],
    ("Query", "searchCustomers"): ['query: "maartje van dijk"', 'query: "31622223333"',
                                   f'query: "{EMAIL}"'],
    ("Query", "identifier"): [f'type: "email", value: "{EMAIL}"',
                              f'type: "phone", value: "{PHONE}"',
                              f'type: "user_id", value: "{EMAIL.upper()}"',
                              f'type: "cookie", value: "{OTHER_COOKIE}"',
                              'type: "cookie", value: "ck_bob"'],
    ("Query", "reviewQueue"): ["first: 50"],
    ("Query", "auditLog"): ["first: 50"],
    ("Query", "segment"): [f'id: "{name}"' for name in SEGMENTS],
    ("Query", "campaignPerformance"): ['since: "2024-01-01T00:00:00Z", '
                                       'until: "2025-01-01T00:00:00Z", '
                                       'funnel: ["login", "purchase"]'],
    # admin and steward only: a reader is refused (the diffs name identifiers)
    ("Query", "previewRules"): ['rules: "[limits]\\ncrm_id = 2"'],
    ("Query", "previewAction"): [f'action: {{kind: SPLIT, identifiers: [{{type: "email", '
                                 f'value: "{EMAIL}"}}]}}'],
    ("Query", "whyNot"): [f'identifiers: [{{type: "email", value: "{EMAIL}"}}, '
                          f'{{type: "email", value: "bob@example.org"}}]',
                          'customers: ["{cid}", "{cid}"]'],
    ("Customer", "timeline"): ["first: 50"],
    ("Customer", "segmentHistory"): ["first: 50"],
    ("Customer", "identityGraph"): ["depth: 2"],
    ("Customer", "explain"): [f'type: "email", value: "{EMAIL}"',
                              f'type: "cookie", value: "{OTHER_COOKIE}"'],
    ("Profile", "trait"): ['name: "Last_Name"', 'name: "mobile"', 'name: "date_of_birth"'],
    ("Segment", "members"): ["first: 50"],
    # {Type}: an id of each kind of node of hers, {nodes}: all of them (node_ids below)
    ("Query", "node"): [f'id: "{{{kind}}}"' for kind in NODE_KINDS],
    ("Query", "nodes"): ['ids: [{nodes}]'],
    ("Subscription", "customerChanged"): ['id: "{cid}"'],
    ("Subscription", "segmentMembershipChanged"): ['segmentId: "named"'],
}


class Walk:
    """Selections of every field reachable from a root type, and the fields it selected."""

    def __init__(self) -> None:
        self.covered: set[tuple[str, str]] = set()

    def field(self, parent: str, name: str, field: GraphQLField,
              path: tuple[str, ...], prefix: str = "") -> list[str]:
        variants = ARGUMENTS.get((parent, name))
        if variants is None:
            required = [a for a, arg in field.args.items()
                        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is None]
            assert not required, f"{parent}.{name} needs {required}: add it to ARGUMENTS"
            variants = [""]
        self.covered.add((parent, name))
        selected = self.selection(get_named_type(field.type), path)
        # a limit counts aliases: only where they are needed (variants, and a name that two
        # members of an interface give different types)
        many = len(variants) > 1
        return [(f"{prefix}{name}{n if many else ''}: " if many or prefix else "") + name
                + (f"({args})" if args else "") + selected for n, args in enumerate(variants)]

    def selection(self, kind: GraphQLNamedType, path: tuple[str, ...],
                  clashes: frozenset[str] = frozenset()) -> str:
        if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
            members = schema._schema.get_possible_types(kind)
            clashes = clashing(members)
            return ("{ __typename " + " ".join(f"... on {m.name} "
                                               f"{self.selection(m, path, clashes)}"
                                               for m in members) + " }")
        if not isinstance(kind, GraphQLObjectType):
            return ""
        parts = []
        for name, field in kind.fields.items():
            inner = get_named_type(field.type)
            if inner.name in path:  # a type inside itself: asked for once, higher up
                continue
            parts += self.field(kind.name, name, field, (*path, kind.name),
                                f"{kind.name}_" if name in clashes else "")
        return "{ " + " ".join(parts) + " }"


def clashing(members: Any) -> frozenset[str]:
    """Field names that members of one union or interface give different types: asked for
    together, they need an alias each."""
    types: dict[str, set[str]] = {}
    for member in members:
        for name, field in member.fields.items():
            types.setdefault(name, set()).add(str(field.type))
    return frozenset(name for name, found in types.items() if len(found) > 1)


async def node_ids(api: Any, cid: str) -> dict[str, str]:
    """What stands for {Type} and {nodes} in the operations: ids of her nodes."""
    data = await api.run("steward", NODE_IDS, cid=cid)
    customer, identifier = data["customer"], data["identifier"]
    found = {
        "Customer": [customer["id"]],
        "Identifier": [i["id"] for i in customer["identifiers"]],
        "IdentifierInfo": [identifier["id"]],
        "Link": [link["id"] for link in (*customer["identityGraph"]["links"],
                                        *identifier["links"])],
        "Event": [e["node"]["id"] for e in customer["timeline"]["edges"]],
    }
    assert all(found.values()), found
    every = sorted({i for ids in found.values() for i in ids})[:100]
    return {**{f"{{{kind}}}": ids[0] for kind, ids in found.items()},
            "{nodes}": ", ".join(json.dumps(i) for i in every)}


def reachable_fields(root: GraphQLObjectType) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    todo: list[GraphQLNamedType] = [root]
    seen: set[str] = set()
    while todo:
        kind = todo.pop()
        if kind.name in seen:
            continue
        seen.add(kind.name)
        if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
            todo += schema._schema.get_possible_types(kind)
        elif isinstance(kind, GraphQLObjectType):
            for name, field in kind.fields.items():
                found.add((kind.name, name))
                todo.append(get_named_type(field.type))
    return found


def root_operations(root: GraphQLObjectType, keyword: str, walk: Walk) -> dict[str, str]:
    """One operation per root field: the cost and depth limits apply per operation."""
    return {name: f"{keyword} {{ {' '.join(walk.field(root.name, name, field, ()))} }}"
            for name, field in root.fields.items()}


def test_the_walk_selects_every_field_a_reader_can_reach():
    walk = Walk()
    for root in (schema._schema.query_type, schema._schema.subscription_type):
        root_operations(root, "query", walk)
    assert walk.covered == (reachable_fields(schema._schema.query_type)
                            | reachable_fields(schema._schema.subscription_type))


async def test_no_query_field_shows_a_reader_any_spelling_of_a_personal_value(api_with, store):
    async with api_with(store, api_max_cost=10**9, api_max_depth=50) as api:
        cid = await seed_services(api.services)
        operations = root_operations(schema._schema.query_type, "query", Walk())
        ids = await node_ids(api, cid)
        seen = {"reader": "", "steward": ""}
        for name, operation in operations.items():
            query = operation.replace("{cid}", cid)
            for placeholder, value in ids.items():
                query = query.replace(placeholder, value)
            for role in seen:
                text = json.dumps(await api.run(role, query), ensure_ascii=False)
                assert role == "steward" or traces(text) == [], name
                seen[role] += text
        assert patterns_found(seen["steward"]) == {p.pattern for p in TRACES}
        # what a reader sees instead
        for shown in ("m***@example.com", "***3333", '"v."', '"M."', '"1988"'):
            assert shown in seen["reader"], shown


SUBSCRIBED = 3  # customerChanged: identifiers added, profile changed, segment entered


async def test_no_subscription_shows_a_reader_any_spelling_of_a_personal_value(api_with, store):
    async with api_with(store, api_max_cost=10**9, api_max_depth=50) as api:
        cid = await seed_services(api.services)
        # no member yet: an unknown segment cannot be subscribed to
        await api.services.segments.define("named", "count(purchase) >= 1000")
        operations = root_operations(schema._schema.subscription_type, "subscription", Walk())
        heard: dict[tuple[str, str], list[dict[str, Any]]] = {}
        listeners = []
        for role in ("reader", "steward"):
            for name, operation in operations.items():
                into = heard.setdefault((role, name), [])
                n = SUBSCRIBED if name == "customerChanged" else 1
                listeners.append(asyncio.create_task(
                    collect(api, role, operation.replace("{cid}", cid), {}, n, into)))
        await wait_for_subscribers(api, len(listeners))
        await api.run("steward", """mutation($events: [JSON!]!) { ingestEvents(events: $events)
            { __typename } }""", events=[raw_event(
            "mvd-web-9", "2024-06-01T10:00:00Z", f"cookie:{COOKIE}", "email:m.vandijk@example.org",
            traits={"surname": "van Dijk-Jansen"}, properties={"note": NOTE})])
        defined = await api.run("admin", """mutation { updateSegment(id: "named",
            definition: "trait(surname) exists") { __typename } }""")
        assert defined["updateSegment"]["__typename"] == "SegmentDefined"
        async with asyncio.timeout(30):
            await asyncio.gather(*listeners)

        for (role, name), results in heard.items():
            text = json.dumps(results, ensure_ascii=False)
            if role == "reader":
                assert traces(text) == [], name
        steward = json.dumps([heard[("steward", n)] for n in operations], ensure_ascii=False)
        assert patterns_found(steward) >= {"maartje", "dijk", "prinsengracht"}
