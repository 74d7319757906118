"""The segment half of the IdentityStore contract: each test runs on SQLite and on Neo4j.

At the end, the Neo4j segment statements are checked without a database by the rules of
tests/unit/test_neo4j_adapter.py (they live in app/stores/neo4j/segments.py, not queries.py)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from neo4j.exceptions import ConstraintError

from app.domain.segments.membership import ENTERED, LEFT, Membership, MembershipChange
from app.stores.neo4j import segments as neo4j_segments
from app.stores.values import SegmentRecord, SegmentState
from tests.unit.test_neo4j_adapter import (
    NODE,
    WRITE_CLAUSE,
    clauses,
    cypher,
    indexed_properties,
)

T0 = "2024-03-01T10:00:00.000000Z"
T1 = "2024-03-02T10:00:00.000000Z"
T2 = "2024-03-03T10:00:00.000000Z"
T3 = "2024-03-04T10:00:00.000000Z"


def member(segment: str, since: str, *why: str) -> Membership:
    return Membership(segment, since, why)


def state(*members: Membership, checked_at: str | None = None,
          next_check: str | None = None) -> SegmentState:
    return SegmentState({m.segment: m for m in members}, checked_at, next_check)


def entered(cid: str, segment: str, at: str, *why: str) -> MembershipChange:
    return MembershipChange(cid, segment, ENTERED, at, why)


def left(cid: str, segment: str, at: str, *why: str) -> MembershipChange:
    return MembershipChange(cid, segment, LEFT, at, why)


VIP_C1 = member("vip", T0, "orders >= 3", "country = 'NL'")
ACTIVE_C1 = member("active", T1, "days_since(last_seen) < 30")
VIP_C2 = member("vip", T1, "café bought")


# -- definitions ---------------------------------------------------------------------

async def test_definitions_are_listed_by_name_and_replaced_keeping_created_at(store):
    assert await store.segment_definitions() == []
    await store.save_segment(SegmentRecord("vip", "orders >= 3", T0, T0))
    await store.save_segment(SegmentRecord("active", "seen within 30 days", T1, T1))
    await store.save_segment(SegmentRecord("vip", "orders >= 5", T2, T2))
    assert await store.segment_definitions() == [
        SegmentRecord("active", "seen within 30 days", T1, T1),
        SegmentRecord("vip", "orders >= 5", T0, T2),
    ]


async def test_deleting_a_definition_removes_its_memberships_but_keeps_history(store):
    await store.save_segment(SegmentRecord("vip", "orders >= 3", T0, T0))
    await store.save_segment(SegmentRecord("active", "seen", T0, T0))
    history = [entered("c1", "vip", T0, "orders >= 3"), entered("c2", "vip", T1, "café bought")]
    await store.save_segment_states(
        {"c1": state(VIP_C1, ACTIVE_C1, checked_at=T1), "c2": state(VIP_C2, checked_at=T1)},
        history)

    exits = [MembershipChange(c, "vip", "left", T2, ("the segment was deleted",))
             for c in ("c1", "c2")]
    await store.delete_segment("vip", exits)
    await store.delete_segment("never-defined", [])  # nothing to delete is no error

    assert await store.segment_definitions() == [SegmentRecord("active", "seen", T0, T0)]
    assert await store.segment_members("vip", 10, None) == []
    assert await store.segment_sizes() == {"active": 1}
    assert await store.segment_states(["c1", "c2"]) == {
        "c1": state(ACTIVE_C1, checked_at=T1), "c2": state(checked_at=T1)}
    assert await store.membership_history(["c1", "c2"], 10) == {
        "c1": [exits[0], history[0]], "c2": [exits[1], history[1]]}


# -- states --------------------------------------------------------------------------

async def test_customers_never_checked_have_no_state(store):
    assert await store.segment_states([]) == {}
    assert await store.segment_states(["c_unknown"]) == {}
    await store.save_segment_states({"c1": state(VIP_C1, checked_at=T1)}, [])
    assert await store.segment_states(["c_unknown", "c1", "c1"]) == {
        "c1": state(VIP_C1, checked_at=T1)}


async def test_states_are_saved_and_read_back_exactly(store):
    await store.save_segment_states({
        "c1": state(VIP_C1, ACTIVE_C1, checked_at=T1, next_check=T3),
        "c2": state(VIP_C2, checked_at=T2),
        "c3": state(checked_at=T2, next_check=T3),  # checked, in no segment
    }, [])
    assert await store.segment_states(["c1", "c2", "c3"]) == {
        "c1": SegmentState({"vip": VIP_C1, "active": ACTIVE_C1}, T1, T3),
        "c2": SegmentState({"vip": VIP_C2}, T2, None),
        "c3": SegmentState({}, T2, T3),
    }


async def test_a_saved_state_replaces_the_old_one_and_leaves_other_customers_alone(store):
    await store.save_segment_states({
        "c1": state(VIP_C1, ACTIVE_C1, checked_at=T1, next_check=T2),
        "c2": state(VIP_C2, checked_at=T1),
    }, [])
    vip_again = member("vip", T2, "orders >= 3")
    await store.save_segment_states({"c1": state(vip_again, checked_at=T2)}, [])
    assert await store.segment_states(["c1", "c2"]) == {
        "c1": state(vip_again, checked_at=T2),
        "c2": state(VIP_C2, checked_at=T1),
    }


async def test_a_none_state_removes_memberships_and_check_but_keeps_history(store):
    history = [entered("c1", "vip", T0, "orders >= 3")]
    await store.save_segment_states(
        {"c1": state(VIP_C1, ACTIVE_C1, checked_at=T1), "c2": state(VIP_C2, checked_at=T1)},
        history)
    merged = left("c1", "vip", T2, "merged into c2")
    await store.save_segment_states({"c1": None, "c_never": None}, [merged])
    assert await store.segment_states(["c1", "c2", "c_never"]) == {
        "c2": state(VIP_C2, checked_at=T1)}
    assert await store.segment_members("vip", 10, None) == [("c2", VIP_C2)]
    assert await store.segment_sizes() == {"vip": 1}
    assert await store.membership_history(["c1"], 10) == {"c1": [merged, history[0]]}


async def test_a_save_that_fails_stores_nothing(store):
    """States and changes are one transaction: two memberships of one segment for one
    customer break the store's key, and the changes of the same call are not kept."""
    await store.save_segment_states({"c1": state(ACTIVE_C1, checked_at=T0)}, [])
    twice = SegmentState({"a": VIP_C1, "b": member("vip", T1)}, T1)
    with pytest.raises((sqlite3.IntegrityError, ConstraintError)):
        await store.save_segment_states({"c1": twice}, [entered("c1", "vip", T1)])
    assert await store.segment_states(["c1"]) == {"c1": state(ACTIVE_C1, checked_at=T0)}
    assert await store.membership_history(["c1"], 10) == {}


# -- history -------------------------------------------------------------------------

async def test_history_is_newest_first_with_ties_in_reverse_insertion_order(store):
    first_write = [
        entered("c1", "vip", T1, "orders >= 3"),
        entered("c1", "active", T1, "seen"),
        left("c1", "active", T2, "not seen for 30 days"),
        entered("c2", "vip", T0, "café bought"),
    ]
    second_write = [
        left("c1", "vip", T1, "refund"),  # the same moment as two earlier changes
        entered("c1", "new", T0, "a late event"),  # older than all, inserted last
    ]
    await store.save_segment_states({}, first_write)
    await store.save_segment_states({}, second_write)

    expected_c1 = [first_write[2], second_write[0], first_write[1], first_write[0],
                   second_write[1]]
    history = await store.membership_history(["c1", "c2", "c_none", "c1"], 10)
    assert history == {"c1": expected_c1, "c2": [first_write[3]]}
    assert await store.membership_history(["c1"], 3) == {"c1": expected_c1[:3]}
    assert await store.membership_history(["c1"], 1) == {"c1": expected_c1[:1]}
    assert await store.membership_history([], 10) == {}


async def test_changes_of_one_write_at_one_moment_come_back_reversed(store):
    changes = [entered("c1", s, T1) for s in ("b", "a", "c")]
    await store.save_segment_states({"c1": state(checked_at=T1)}, changes)
    assert await store.membership_history(["c1"], 10) == {"c1": changes[::-1]}


# -- members and sizes -------------------------------------------------------------------

async def test_members_are_paged_by_customer_id(store):
    members = {cid: member("vip", T0, f"why {cid}") for cid in ("c3", "c1", "c4", "c2")}
    await store.save_segment_states({
        **{cid: state(m, checked_at=T1) for cid, m in members.items()},
        "c0": state(member("other", T0), checked_at=T1),
    }, [])
    everyone = [(cid, members[cid]) for cid in ("c1", "c2", "c3", "c4")]
    assert await store.segment_members("vip", 10, None) == everyone
    assert await store.segment_members("vip", 2, None) == everyone[:2]
    assert await store.segment_members("vip", 2, "c2") == everyone[2:]
    assert await store.segment_members("vip", 2, "c25") == everyone[2:]
    assert await store.segment_members("vip", 2, "c4") == []
    assert await store.segment_members("missing", 10, None) == []


async def test_sizes_count_current_members_per_segment(store):
    assert await store.segment_sizes() == {}
    await store.save_segment_states({
        "c1": state(VIP_C1, ACTIVE_C1, checked_at=T1),
        "c2": state(VIP_C2, checked_at=T1),
        "c3": state(checked_at=T1),
    }, [])
    assert await store.segment_sizes() == {"vip": 2, "active": 1}


# -- erasure -------------------------------------------------------------------------

async def test_erasure_forgets_memberships_state_and_history_of_those_customers_only(store):
    c3_vip = member("vip", T2)
    history = [entered("c1", "vip", T0), entered("c2", "vip", T1), entered("c3", "vip", T2)]
    await store.save_segment_states({
        "c1": state(VIP_C1, ACTIVE_C1, checked_at=T1),
        "c2": state(VIP_C2, checked_at=T1, next_check=T3),
        "c3": state(c3_vip, checked_at=T2),
    }, history)

    await store.erase_segment_data(["c1", "c2", "c_unknown"])
    await store.erase_segment_data([])

    assert await store.segment_states(["c1", "c2", "c3"]) == {
        "c3": state(c3_vip, checked_at=T2)}
    assert await store.membership_history(["c1", "c2", "c3"], 10) == {"c3": [history[2]]}
    assert await store.segment_members("vip", 10, None) == [("c3", c3_vip)]
    assert await store.segment_sizes() == {"vip": 1}


# -- the Neo4j statements, without a database ------------------------------------------

SEGMENT_QUERIES = {name: text for name, text in vars(neo4j_segments).items()
                   if name.isupper() and isinstance(text, str)
                   and name != "SEGMENT_CHANGE_SEQUENCE"}
# (segment states are read with the customers' other data: queries.CUSTOMER_READS)
READS = {"SEGMENT_DEFINITIONS", "SEGMENT_MEMBERS", "SEGMENT_SIZES", "MEMBERSHIP_HISTORY"}
SINGLE_WRITES = {"SAVE_SEGMENT", "DELETE_SEGMENT_ONLY"}  # one definition, not rows


def test_every_segment_operation_has_a_statement():
    assert set(SEGMENT_QUERIES) == READS | SINGLE_WRITES | {
        "SAVE_SEGMENT_STATES", "DELETE_SEGMENT", "ERASE_SEGMENT_DATA"}


@pytest.mark.parametrize("name", sorted(SEGMENT_QUERIES))
def test_segment_statements_take_values_as_parameters(name):
    text = cypher(SEGMENT_QUERIES[name])
    assert not re.search(r"'[^']*'|\"[^\"]*\"", text), f"{name} holds a string literal"
    numbers = set(re.findall(r"(?<![\w.$])\d+(?:\.\d+)?", text))
    assert numbers <= {"0", "1"}, f"{name} holds literal values {numbers}"


@pytest.mark.parametrize("name", sorted(SEGMENT_QUERIES))
def test_segment_reads_do_not_write_and_writes_are_batched(name):
    text = cypher(SEGMENT_QUERIES[name])
    if name in READS:
        assert not WRITE_CLAUSE.search(text)
    elif name not in SINGLE_WRITES:
        assert re.search(r"UNWIND \$\w+ AS \w+|WITH \$\w+ AS rows", text)


@pytest.mark.parametrize("name", sorted(SEGMENT_QUERIES))
def test_segment_lookups_are_anchored_on_an_index(name):
    """A node is found through an indexed property in its map, or (a whole-index read)
    through `WHERE x.p IS NOT NULL` on an indexed p; only the definitions are a label scan."""
    text = cypher(SEGMENT_QUERIES[name])
    indexed = indexed_properties()
    for keyword, body in clauses(text):
        if keyword not in ("MATCH", "OPTIONAL MATCH", "MERGE"):
            continue
        for var, label, props in NODE.findall(body):
            if first := re.match(r"\{\s*(\w+)\s*:", props or ""):
                assert (label, first.group(1)) in indexed, f"{name}: {label}.{first.group(1)}"
            elif label and name != "SEGMENT_DEFINITIONS":
                where = re.search(rf"WHERE {var}\.(\w+) IS NOT NULL", text)
                assert where and (label, where.group(1)) in indexed, f"{name}: {label} scan"
