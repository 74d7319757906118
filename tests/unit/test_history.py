"""Ids and merge history as functions of event time (app/domain/history.py)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.history import Anchor, Tie, component_history, customer_id_for, moment

T = [f"2024-03-0{d}T10:00:00.000000Z" for d in range(1, 8)]


def at(day: int, event_id: str) -> str:
    return moment(T[day], event_id)


def test_a_link_between_two_earlier_parts_is_a_merge_at_its_event_time():
    firsts = {"cookie:x": at(0, "e1"), "email:y": at(1, "e2")}
    anchor, merges = component_history(firsts, [Tie("cookie:x", "email:y", at(2, "e3"))],
                                       "final")
    assert anchor == Anchor(at(0, "e1"), "cookie:x")
    [merge] = merges
    assert (merge.absorbed, merge.survivor) == (customer_id_for("e2", "email:y"), "final")
    assert (merge.at, merge.event_id) == (T[2], "e3")
    assert "e3" in merge.reason


def test_an_identifier_first_seen_with_an_old_one_is_growth_not_a_merge():
    firsts = {"cookie:x": at(0, "e1"), "email:y": at(2, "e3")}
    _, merges = component_history(firsts, [Tie("cookie:x", "email:y", at(2, "e3"))], "final")
    assert merges == []


def test_a_match_counts_from_when_both_records_exist():
    # the matcher found the pair when the older record arrived late: a record can't be
    # tied to one that did not exist yet, so the tie counts from the later record
    firsts = {"crm_id:1": at(0, "e1"), "loyalty_id:2": at(3, "e4")}
    _, merges = component_history(
        firsts, [Tie("crm_id:1", "loyalty_id:2", at(0, "e1"), matcher=True)], "final")
    assert merges == []


def test_an_event_joining_three_customers_records_two_merges_at_its_time():
    firsts = {"a:1": at(0, "e1"), "b:2": at(1, "e2"), "c:3": at(2, "e3")}
    ties = [Tie("a:1", "b:2", at(4, "e5")), Tie("a:1", "c:3", at(4, "e5")),
            Tie("b:2", "c:3", at(4, "e5"))]
    _, merges = component_history(firsts, ties, "final")
    assert [(m.absorbed, m.survivor) for m in merges] == [
        (customer_id_for("e2", "b:2"), "final"), (customer_id_for("e3", "c:3"), "final")]


def test_a_steward_link_is_a_merge_by_the_steward():
    firsts = {"a:1": at(0, "e1"), "b:2": at(1, "e2")}
    [merge] = component_history(firsts, [Tie("a:1", "b:2", moment(T[5], ""), steward=True)],
                                "final")[1]
    assert merge.event_id == "" and "steward" in merge.reason


@st.composite
def components(draw):
    n = draw(st.integers(1, 8))
    keys = [f"k:{i}" for i in range(n)]
    firsts = {k: at(draw(st.integers(0, 6)), f"e{draw(st.integers(0, 9))}") for k in keys}
    ties = []
    for i in range(1, n):
        j = draw(st.integers(0, i - 1))
        m = max(firsts[keys[i]], firsts[keys[j]], at(draw(st.integers(0, 6)), "e"))
        ties.append(Tie(keys[j], keys[i], m))
    return firsts, ties


@given(components(), st.randoms())
@settings(max_examples=200)
def test_the_history_is_a_function_of_the_links_not_of_their_order(component, rnd: random.Random):
    firsts, ties = component
    shuffled = list(ties)
    rnd.shuffle(shuffled)
    assert component_history(firsts, ties, "f") == component_history(firsts, shuffled, "f")


@given(components())
@settings(max_examples=200)
def test_the_whole_keeps_the_id_of_the_earliest_part(component):
    firsts, ties = component
    anchor, merges = component_history(firsts, ties, "final")
    assert anchor == min(Anchor(m, k) for k, m in firsts.items())
    assert all(m.absorbed != "final" for m in merges)
    assert len({m.absorbed for m in merges}) == len(merges)
