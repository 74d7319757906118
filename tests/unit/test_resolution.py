"""The pure resolution core: merges, survivors, replays, out-of-order events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from networkx.utils import UnionFind

from app.domain.plan import Component, CustomerInfo, NeedComponents, Snapshot, StoredIdentifier
from app.domain.resolution import customer_id_for, plan_ingest
from app.domain.resolution.fast import _Union
from tests.helpers import event

NOW = "2024-06-01T00:00:00.000000Z"
T0, T1, T2 = "2024-03-01T10:00:00Z", "2024-03-02T10:00:00Z", "2024-03-03T10:00:00Z"


def owners(plan):
    return {d.key: d.customer_id for d in plan.identifiers}


def new_and_old_customer() -> Snapshot:
    """cookie:a belongs to c_new, cookie:b to the earlier seen c_old."""
    return Snapshot(
        owners={"cookie:a": "c_new", "cookie:b": "c_old"},
        customers={
            "c_new": CustomerInfo("c_new", "2024-02-01"),
            "c_old": CustomerInfo("c_old", "2024-01-01"),
        },
    )


def test_a_new_identifier_creates_one_customer_with_an_id_from_its_seed_event():
    plan = plan_ingest([event("e1", T0, "cookie:a", "email:a@example.com")], Snapshot(), NOW)
    [customer] = plan.new_customers
    assert customer.id == customer_id_for("e1", "cookie:a")
    assert customer.first_seen == "2024-03-01T10:00:00.000000Z"
    assert set(owners(plan).values()) == {customer.id}
    assert [(link.a, link.b, link.count) for link in plan.links] == [
        ("cookie:a", "email:a@example.com", 1)
    ]


def test_events_of_a_batch_chain_into_one_customer():
    plan = plan_ingest(
        [
            event("e1", T0, "cookie:a", "email:a@x.com"),
            event("e2", T1, "email:a@x.com", "cookie:b"),
            event("e3", T2, "cookie:b", "phone:+31612345678"),
        ],
        Snapshot(),
        NOW,
    )
    assert len(plan.new_customers) == 1 and len(set(owners(plan).values())) == 1
    assert not plan.merges


def test_the_outcome_does_not_depend_on_the_order_within_a_batch():
    events = [
        event("e1", T1, "cookie:a", "email:a@x.com"),
        event("e2", T0, "cookie:b", "email:a@x.com"),
    ]
    forward = plan_ingest(events, Snapshot(), NOW)
    backward = plan_ingest(list(reversed(events)), Snapshot(), NOW)
    assert forward == backward
    assert forward.new_customers[0].id == customer_id_for("e2", "cookie:b")


def test_new_identifiers_join_their_existing_customer():
    snap = Snapshot(owners={"cookie:a": "c1"}, customers={"c1": CustomerInfo("c1", "2024-01-01")})
    plan = plan_ingest([event("e1", T0, "cookie:a", "email:a@x.com")], snap, NOW)
    assert not plan.new_customers and not plan.merges
    assert owners(plan) == {"cookie:a": "c1", "email:a@x.com": "c1"}


def test_the_first_seen_customer_survives_a_merge():
    snap = new_and_old_customer()
    plan = plan_ingest([event("e9", T2, "cookie:a", "cookie:b")], snap, NOW)
    [merge] = plan.merges
    # dated by the event that tied them, not by when it was loaded
    assert (merge.absorbed, merge.survivor, merge.event_id, merge.at) == (
        "c_new",
        "c_old",
        "e9",
        "2024-03-03T10:00:00.000000Z",
    )
    assert "e9" in merge.reason
    assert plan.history == {"c_old": [merge]}


def test_ties_in_first_seen_go_to_the_smaller_id():
    snap = Snapshot(
        owners={"cookie:a": "c2", "cookie:b": "c1"},
        customers={"c2": CustomerInfo("c2", "2024-01-01"), "c1": CustomerInfo("c1", "2024-01-01")},
    )
    [merge] = plan_ingest([event("e", T2, "cookie:a", "cookie:b")], snap, NOW).merges
    assert (merge.absorbed, merge.survivor) == ("c2", "c1")


def test_an_out_of_order_event_renames_the_customer_after_its_new_anchor():
    may = "2024-05-01T00:00:00.000000Z"
    c1 = CustomerInfo(customer_id_for("e0", "cookie:a"), may, "e0", "cookie:a", f"{may}|e0")
    snap = Snapshot(
        owners={"cookie:a": c1.id},
        customers={c1.id: c1},
        components={c1.id: Component(
            identifiers={"cookie:a": StoredIdentifier("cookie:a", "active", c1.id, may, "e0")},
            customer=c1)},
    )
    plan = plan_ingest([event("e", T0, "cookie:a")], snap, NOW)
    [renamed] = plan.new_customers
    assert (renamed.id, renamed.first_seen) == (customer_id_for("e", "cookie:a"),
                                               "2024-03-01T10:00:00.000000Z")
    [rename] = plan.renames
    assert (rename.absorbed, rename.survivor, rename.event_id) == (c1.id, renamed.id, "e")
    assert not plan.merges and plan.history_reset == {c1.id}


def test_an_out_of_order_event_asks_for_the_whole_component():
    may = "2024-05-01T00:00:00.000000Z"
    c1 = CustomerInfo("c1", may, "e0", "cookie:a", f"{may}|e0")
    snap = Snapshot(owners={"cookie:a": "c1"}, customers={"c1": c1})
    with pytest.raises(NeedComponents):
        plan_ingest([event("e", T0, "cookie:a")], snap, NOW)


def test_each_absorbed_customer_names_the_event_that_tied_it():
    snap = Snapshot(
        owners={"cookie:a": "c1", "cookie:b": "c2", "cookie:c": "c3"},
        customers={c: CustomerInfo(c, f"2024-01-0{c[1]}") for c in ("c1", "c2", "c3")},
    )
    plan = plan_ingest(
        [
            event("e1", T0, "cookie:a", "email:x@x.com"),
            event("e2", T1, "cookie:b", "email:x@x.com"),
            event("e3", T2, "cookie:c", "cookie:b"),
        ],
        snap,
        NOW,
    )
    assert {(m.absorbed, m.survivor, m.event_id) for m in plan.merges} == {
        ("c2", "c1", "e2"),
        ("c3", "c1", "e3"),
    }


def test_an_event_whose_identifiers_share_a_customer_is_no_merge():
    snap = Snapshot(
        owners={"cookie:a": "c1", "cookie:b": "c1"},
        customers={"c1": CustomerInfo("c1", "2024-01-01")},
    )
    plan = plan_ingest([event("e", T0, "cookie:a", "cookie:b")], snap, NOW)
    assert not plan.merges and not plan.new_customers


def test_seen_and_repeated_events_are_left_out():
    e1, e2 = event("e1", T0, "cookie:a"), event("e2", T1, "cookie:a")
    plan = plan_ingest([e1, e2, e2], Snapshot(seen_events={"e1"}), NOW)
    assert [e.event_id for e in plan.events] == ["e2"]
    assert not plan_ingest([e1], Snapshot(seen_events={"e1"}), NOW)


def test_link_evidence_aggregates_over_the_batch():
    plan = plan_ingest(
        [
            event("e1", T1, "cookie:a", "email:a@x.com", source="web"),
            event("e2", T0, "email:a@x.com", "cookie:a", source="app"),
        ],
        Snapshot(),
        NOW,
    )
    [link] = plan.links
    assert (link.count, link.sources, link.event_ids) == (2, ("app", "web"), ("e2", "e1"))
    assert link.first_seen < link.last_seen


def test_profile_changes_name_each_customer_as_it_is_after_the_plan():
    snap = new_and_old_customer()
    plan = plan_ingest(
        [
            event("e1", T0, "cookie:a", traits={"first_name": "Ann"}),
            event("e2", T1, "cookie:a", "cookie:b"),
            event("e3", T2, "cookie:z", consent={"email": True}),
            event("e4", T2, "cookie:y"),
        ],
        snap,
        NOW,
    )
    created = owners(plan)["cookie:z"]
    profile = {(c.customer_id, c.event_ids) for c in plan.changes if c.kind == "profile_changed"}
    # e1's customer was absorbed by c_old in the same plan; e4 carries nothing for a profile
    assert profile == {("c_old", ("e1",)), (created, ("e3",))}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60))
def test_the_fast_paths_union_find_partitions_as_networkx_does(joins):
    ours, theirs = _Union(), UnionFind()
    for x, y in joins:
        ours._join(f"k{x}", ("customer", f"c{y}") if y % 3 == 0 else f"k{y}", event=None)
        theirs.union(f"k{x}", ("customer", f"c{y}") if y % 3 == 0 else f"k{y}")
    nodes = {n for pair_ in joins for n in (f"k{pair_[0]}",)} | set(theirs.parents)
    assert ({frozenset(n for n in nodes if ours.root(n) == ours.root(m)) for m in nodes}
            == {frozenset(n for n in nodes if theirs[n] == theirs[m]) for m in nodes})
