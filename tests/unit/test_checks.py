"""What a write leaves for after its commit: its pending segment checks, and the ids of
its change events."""

from __future__ import annotations

from app.domain.changes import Change, change_id, membership_change
from app.domain.checks import PendingCheck
from app.domain.effects import pending_checks, with_checks
from app.domain.plan import CustomerInfo, Erasure, IdentifierDelta, Merge, Plan, Split
from app.domain.segments import LEFT, MembershipChange

T = "2024-03-01T00:00:00.000000Z"
FIELDS = ("kind", "customer_id", "at", "event_ids", "from_customers", "data")


def test_a_plan_leaves_a_check_for_each_customer_it_touches():
    plan = Plan(
        new_customers=[CustomerInfo("c_new", T)],
        identifiers=[IdentifierDelta("cookie:n", "cookie", "n", T, T, ("web",), "c_new")],
        merges=[Merge("c_b", "c_a", T, "e1", "shared e-mail")],
        splits=[Split("c_s", ("c_p1", "c_p2"), T, "unlinked")],
        moves={"cookie:x": "c_p1", "cookie:y": None},
    )
    assert pending_checks(plan, T) == [
        PendingCheck("c_a", T, T),
        PendingCheck("c_b", T, T, survivor="c_a"),  # leaves its segments
        PendingCheck("c_new", T, T),
        PendingCheck("c_p1", T, T, split=True),  # as it is at the split
        PendingCheck("c_p2", T, T, split=True),
        PendingCheck("c_s", T, T),
    ]
    assert with_checks(plan, T).segment_checks == pending_checks(plan, T)


def test_an_erased_customer_leaves_no_check_and_a_plan_that_touches_none_leaves_none():
    erasure = Plan(erasures=[Erasure("c_x", ("email:x@x.com",), ("h",), T)],
                   moves={"email:x@x.com": None})
    assert pending_checks(erasure, T) == []
    assert pending_checks(Plan(), T) == []


def test_a_change_id_names_one_change_and_travels_with_it():
    change = Change("identifiers_added", "c_1", T, ("e1",), data={"identifiers": ["cookie:a"]})
    assert change_id(change) == change_id(Change(*[getattr(change, f) for f in FIELDS]))
    later = Change(change.kind, change.customer_id, "2024-03-01T00:00:01.000000Z",
                   change.event_ids, data=change.data)
    other = Change(change.kind, change.customer_id, T, change.event_ids,
                   data={"identifiers": ["cookie:b"]})
    assert len({change_id(change), change_id(later), change_id(other)}) == 3
    read_back = Change.from_json(change.to_json(), change_id(change))
    assert read_back.change_id == change.change_id and read_back.to_json() == change.to_json()
    assert Change.from_json(change.to_json(), "kept-id").change_id == "kept-id"


def test_a_membership_change_is_a_segment_change_event():
    left = membership_change(MembershipChange("c_1", "vip", LEFT, T, ("merged into c_2",)))
    assert (left.kind, left.customer_id, left.at, left.data) == (
        "segment_left", "c_1", T, {"segment": "vip", "why": ["merged into c_2"]})
