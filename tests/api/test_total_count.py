"""`totalCount` on every Relay connection, on SQLite and Neo4j: it counts what the
connection's arguments select, all pages together, and is read only when asked for."""

from __future__ import annotations

import pytest

from app.domain.plan import Gather, Plan, ReviewItem
from app.domain.steward import Action
from tests.api.data import ANNA_TIMELINE, seed

TIMELINE = """query($id: ID!, $types: [String!], $since: DateTime, $until: DateTime) {
  customer(id: $id) { timeline(first: 2, types: $types, since: $since, until: $until) {
    totalCount edges { node { eventId } } pageInfo { hasNextPage } } } }"""


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, len(ANNA_TIMELINE)),
    ({"types": ["page_view"]}, 2),
    ({"types": ["purchase", "login"]}, 2),
    ({"since": "2024-01-02T10:00:00Z", "until": "2024-01-04T10:00:00Z"}, 2),
    ({"since": "2024-01-04T10:00:00Z"}, 2),
    ({"types": ["call"]}, 0),
])
async def test_a_timeline_counts_the_events_its_filters_select_not_the_page(
        api, filters, expected):
    ids = await seed(api.services)
    timeline = (await api.run("reader", TIMELINE, id=ids["anna"], **filters)
                )["customer"]["timeline"]
    assert timeline["totalCount"] == expected
    assert len(timeline["edges"]) == min(2, expected)


async def test_counts_are_read_only_when_asked_for_and_once_for_many_customers(api):
    ids = await seed(api.services)
    page = """query($a: ID!, $b: ID!) {
      a: customer(id: $a) { timeline(first: 1) { edges { cursor } %s } }
      b: customer(id: $b) { timeline(first: 1) { edges { cursor } %s } } }"""
    api.counting.reset()
    await api.run("reader", page % ("", ""), a=ids["anna"], b=ids["bob"])
    assert api.counting.calls["timeline_counts"] == 0
    api.counting.reset()
    data = await api.run("reader", page % ("totalCount", "totalCount"),
                         a=ids["anna"], b=ids["bob"])
    assert api.counting.calls["timeline_counts"] == 1
    assert (data["a"]["timeline"]["totalCount"], data["b"]["timeline"]["totalCount"]) == (5, 2)


async def test_a_timeline_as_of_a_moment_counts_as_of_then(api):
    ids = await seed(api.services)
    query = """query($id: ID!) { customer(id: $id, asOf: "2024-01-03T12:00:00Z") {
      timeline(first: 1) { totalCount } } }"""
    assert (await api.run("steward", query, id=ids["anna"])
            )["customer"]["timeline"]["totalCount"] == 3


async def test_the_review_queue_and_the_audit_log_count_all_their_entries(api):
    await seed(api.services)

    def decide(_snapshot):
        plan = Plan()
        plan.reviews = [
            ReviewItem("cookie:ck_carl", "cookie:ck_anna", 3.1, {"name": 2.0}, "2024-06-01"),
            ReviewItem("cookie:ck_carl", "email:bob@example.org", 2.2, {}, "2024-06-01"),
            ReviewItem("cookie:ck_bob", "cookie:ck_anna", 2.0, {}, "2024-06-01")]
        return plan

    await api.services.store.transact(Gather(), decide)
    for reason in ("one", "two", "three"):
        await api.services.steward.act(Action("quarantine", "sam", reason, ("cookie:ck_carl",)))
        await api.services.steward.act(Action("release", "sam", reason, ("cookie:ck_carl",)))
    query = """{ reviewQueue(first: 1) { ... on ReviewConnection { totalCount
                                                                  edges { cursor } } }
                 auditLog(first: 2) { ... on AuditConnection { totalCount edges { cursor } } } }"""
    data = await api.run("steward", query)
    assert (data["reviewQueue"]["totalCount"], len(data["reviewQueue"]["edges"])) == (3, 1)
    assert (data["auditLog"]["totalCount"], len(data["auditLog"]["edges"])) == (6, 2)
    closed = await api.services.store.reviews(1, None)
    await api.services.steward.resolve_review(closed[0].id, False, "sam", "not the same")
    data = await api.run("steward", query)
    assert (data["reviewQueue"]["totalCount"], data["auditLog"]["totalCount"]) == (2, 7)


async def test_search_and_segment_members_count_every_result(api):
    await seed(api.services)
    await api.services.segments.define("everyone", "count(page_view) >= 0")
    query = """{ searchCustomers(query: "anna bob", first: 1) { totalCount edges { cursor } }
                 segment(id: "everyone") { size members(first: 1) { totalCount
                                                                  edges { cursor } } } }"""
    data = await api.run("reader", query)
    search = data["searchCustomers"]
    assert (search["totalCount"], len(search["edges"])) == (2, 1)  # anna and bob
    members = data["segment"]["members"]
    assert members["totalCount"] == data["segment"]["size"] == 3
    assert len(members["edges"]) == 1
