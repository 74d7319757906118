"""Whole components resolved at once (app/domain/rebuild.py) give what `plan_ingest` gives
for the same events in one batch into an empty store: groups, ids, anchors, settled
moments, merge histories and every link's and identifier's status and reason."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.events import Event
from app.domain.history import moment
from app.domain.plan import ACTIVE, Plan, Snapshot
from app.domain.rebuild import Sighting, inactive_keys, resolve_component, stopped_links
from app.domain.resolution import LinkFacts, plan_ingest
from app.domain.rules import Rules
from tests.helpers import event

NOW = "2024-06-01T00:00:00.000000Z"
RULES = Rules.from_toml("""
[blocked]
email = ["test@test.com"]
[limits]
crm_id = 1
phone = 2
[hubs]
max_links = 4
""")
# Few values, so that events collide: merges, limits, a blocked value and hubs.
POOL = ([f"cookie:c{n}" for n in range(7)] + [f"email:p{n}@x.com" for n in range(6)]
        + [f"crm_id:C{n}" for n in range(3)] + [f"phone:+3161234567{n}" for n in range(4)]
        + ["device_id:shared", "email:test@test.com"])
DAYS = [f"2024-03-{d:02}T10:00:00Z" for d in range(1, 6)]

events_strategy = st.lists(
    st.tuples(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True),
              st.sampled_from(DAYS), st.sampled_from(["web", "crm", "pos", "app"])),
    min_size=1, max_size=40)


def whole_batch(events: list[Event], rules: Rules) -> dict:
    """The dataflow of a rebuild on one machine: sightings, evidence, inactive identifiers,
    components of the links among active ones, then each component resolved at once."""
    firsts: dict[str, str] = {}
    evidence: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.ts, e.event_id)):
        for ident in e.identifiers:
            firsts.setdefault(ident.key, moment(e.ts, e.event_id))
        for p in combinations(sorted({i.key for i in e.identifiers}), 2):
            evidence[p].append(e)
    counted = set(rules.hub_count_types)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in evidence:
        if b.partition(":")[0] in counted:
            neighbours[a].add(b)
        if a.partition(":")[0] in counted:
            neighbours[b].add(a)
    sightings = {k: Sighting(k.partition(":")[0], k.partition(":")[2], len(neighbours[k]))
                 for k in firsts}
    inactive = inactive_keys(sightings, {}, rules)
    candidates = {p: LinkFacts(*p, evs[0].ts, tuple(sorted({e.source for e in evs})),
                               first_event=evs[0].event_id) for p, evs in evidence.items()}
    graph = nx.Graph()
    graph.add_nodes_from(k for k in firsts if k not in inactive)
    graph.add_edges_from(p for p in candidates if not set(p) & inactive.keys())
    owners, customers, history, decisions = {}, {}, {}, {}
    for component in nx.connected_components(graph):
        resolution = resolve_component(
            {k: firsts[k] for k in component},
            [c for p, c in candidates.items() if p[0] in component], (), rules)
        decisions.update(resolution.decisions)
        for resolved in resolution.customers:
            customers[resolved.info.id] = resolved.info
            history[resolved.info.id] = list(resolved.history)
            owners.update(dict.fromkeys(resolved.keys, resolved.info.id))
    decisions.update(stopped_links([c for p, c in candidates.items() if set(p) & inactive.keys()],
                                   inactive, rules))
    return {"owners": owners, "customers": customers,
            "history": {c: h for c, h in history.items() if h},
            "links": {p: decisions[p] for p in candidates},
            "statuses": {k: inactive.get(k, (ACTIVE, "")) for k in firsts}}


def stream(plan: Plan) -> dict:
    return {"owners": {d.key: d.customer_id for d in plan.identifiers if d.customer_id},
            "customers": {c.id: c for c in plan.new_customers},
            "history": {c: h for c, h in plan.history.items() if h},
            "links": {(d.a, d.b): (d.status, d.reason) for d in plan.links},
            "statuses": {d.key: (d.status, d.reason) for d in plan.identifiers}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=events_strategy)
def test_whole_components_resolve_as_one_batch_of_the_stream(drawn):
    events = [event(f"e{n:03}", ts, *keys, source=source)
              for n, (keys, ts, source) in enumerate(drawn)]
    expected = stream(plan_ingest(events, Snapshot(), NOW, RULES))
    got = whole_batch(events, RULES)
    for part in expected:
        assert got[part] == expected[part], part


def test_a_hub_is_named_with_its_whole_degree_and_its_links_are_rejected():
    events = [event(f"e{n}", DAYS[0], "device_id:d", f"email:u{n}@x.com") for n in range(6)]
    got = whole_batch(events, RULES)
    assert got["statuses"]["device_id:d"] == (
        "quarantined", "hub: linked to 6 distinct identifiers of people (limit 4)")
    assert got["links"][("device_id:d", "email:u0@x.com")] == (
        "rejected", "device_id:d is quarantined: hub: linked to 6 distinct identifiers of "
        "people (limit 4)")
    assert len(set(got["owners"].values())) == 6
