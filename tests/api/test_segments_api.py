"""Segments, computed traits, next-best-action and campaign performance over the API, on
SQLite and Neo4j: admin-only definitions with typed failures, memberships with their why
after ingest, history, subscriptions, the model and attribution."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.api.events import KafkaBus
from tests.api.data import seed
from tests.api.test_kafka_bus import seed_store
from tests.api.test_subscriptions import collect, wait_for_subscribers
from tests.conftest import KAFKA_BOOTSTRAP
from tests.helpers import raw_event
from tests.loaders.streams import create_topic, unique

SEGMENT_RESULT = """__typename
... on Failure { code message suggestion }
... on Forbidden { requiredRole }
... on InvalidInput { field }"""
DEFINE = f"""mutation($id: ID!, $definition: String!) {{
  r: defineSegment(id: $id, definition: $definition) {{
    {SEGMENT_RESULT}
    ... on InvalidDefinition {{ segmentId reason line column length }}
    ... on SegmentDefined {{ entered left segment {{ id definition size createdAt updatedAt }} }}
  }} }}"""
UPDATE = DEFINE.replace("defineSegment", "updateSegment")
DELETE = f"""mutation($id: ID!) {{ r: deleteSegment(id: $id) {{
    {SEGMENT_RESULT}
    ... on SegmentDeleted {{ segmentId left }} }} }}"""
SEGMENT = """query($id: ID!, $first: Int!, $after: String) { segment(id: $id) {
  id definition size
  members(first: $first, after: $after) {
    edges { cursor since why node { id } }
    pageInfo { hasNextPage endCursor } } } }"""
MEMBERSHIPS = """query($id: ID!) { customer(id: $id) {
  segments { segmentId since why }
  segmentHistory(first: 10) { segmentId change at why } } }"""
INGEST = """mutation($events: [JSON!]!) { ingestEvents(events: $events) {
  __typename ... on IngestSuccess { stored } } }"""
BUYERS = "count(purchase where amount > 20) >= 1\nAND has(email)"


async def define(api, name: str, text: str, role: str = "admin") -> dict[str, Any]:
    return (await api.run(role, DEFINE, id=name, definition=text))["r"]


async def ingest(api, *events: dict[str, Any]) -> None:
    done = await api.run("steward", INGEST, events=list(events))
    assert done["ingestEvents"] == {"__typename": "IngestSuccess", "stored": len(events)}


async def test_an_admin_defines_updates_and_deletes_a_segment(api):
    ids = await seed(api.services)
    defined = await define(api, "buyers", BUYERS)
    assert defined["__typename"] == "SegmentDefined"
    assert (defined["entered"], defined["left"]) == (1, 0)
    segment = defined["segment"]
    assert (segment["id"], segment["definition"], segment["size"]) == ("buyers", BUYERS, 1)
    assert segment["createdAt"] == segment["updatedAt"]

    updated = (await api.run("admin", UPDATE, id="buyers",
                             definition="count(purchase) >= 2"))["r"]
    assert updated["__typename"] == "SegmentDefined"
    assert (updated["entered"], updated["left"]) == (0, 1)
    assert updated["segment"]["size"] == 0
    assert updated["segment"]["createdAt"] == segment["createdAt"]
    assert updated["segment"]["updatedAt"] >= segment["updatedAt"]

    await define(api, "buyers_again", "in_segment(buyers)")
    in_use = (await api.run("admin", DELETE, id="buyers"))["r"]
    assert (in_use["__typename"], in_use["code"]) == ("ActionRejected", "SEGMENT_IN_USE")
    assert "buyers_again" in in_use["message"]
    listed = await api.run("reader", "{ segments { id size } }")
    assert listed["segments"] == [{"id": "buyers", "size": 0}, {"id": "buyers_again", "size": 0}]

    for name in ("buyers_again", "buyers"):
        deleted = (await api.run("admin", DELETE, id=name))["r"]
        assert deleted == {"__typename": "SegmentDeleted", "segmentId": name, "left": 0}
    gone = await api.run("reader", SEGMENT, id="buyers", first=5)
    assert gone == {"segment": None}
    customer = (await api.run("reader", MEMBERSHIPS, id=ids["anna"]))["customer"]
    assert customer["segments"] == []


async def test_defining_a_segment_that_exists_or_changing_one_that_does_not_is_refused(api):
    await define(api, "buyers", BUYERS)
    again = await define(api, "buyers", "has(email)")
    assert (again["__typename"], again["code"]) == ("ActionRejected", "SEGMENT_EXISTS")
    assert "updateSegment" in again["suggestion"]
    for query, variables in ((UPDATE, {"definition": "has(email)"}), (DELETE, {})):
        missing = (await api.run("admin", query, id="nobody", **variables))["r"]
        assert (missing["__typename"], missing["code"]) == ("NotFound", "UNKNOWN_SEGMENT")
    bad_id = await define(api, "Big Spenders", "has(email)")
    assert (bad_id["__typename"], bad_id["field"]) == ("InvalidInput", "id")


async def test_segments_are_defined_by_admins_only(api):
    await seed(api.services)
    for role in ("reader", "steward"):
        for query, variables in ((DEFINE, {"definition": BUYERS}), (UPDATE, {"definition": BUYERS}),
                                 (DELETE, {})):
            refused = (await api.run(role, query, id="buyers", **variables))["r"]
            assert refused["__typename"] == "Forbidden"
            assert (refused["code"], refused["requiredRole"]) == ("FORBIDDEN", "ADMIN")
    assert (await api.run("reader", "{ segments { id } }")) == {"segments": []}
    assert await api.services.store.segment_definitions() == []


async def test_an_invalid_definition_points_at_the_fault(api):
    refused = await define(api, "big_spenders",
                           "has(email)\nAND computed(lifetime_valu) >= 100")
    assert refused["__typename"] == "InvalidDefinition"
    assert refused["code"] == "INVALID_DEFINITION"
    assert (refused["segmentId"], refused["line"], refused["column"]) == ("big_spenders", 2, 14)
    assert refused["length"] == len("lifetime_valu")
    assert "did you mean 'lifetime_value'" in refused["reason"]
    # the message shows the line with a caret under the fault
    assert refused["message"].endswith("computed(lifetime_valu) >= 100\n"
                                       "                 ^^^^^^^^^^^^^")
    syntax = await define(api, "big_spenders", "has(email) has(phone)")
    assert (syntax["__typename"], syntax["line"], syntax["column"]) == ("InvalidDefinition", 1, 12)
    assert await api.services.store.segment_definitions() == []


async def test_ingested_events_move_customers_into_segments_with_the_why(api):
    ids = await seed(api.services)
    await define(api, "buyers", BUYERS)
    await ingest(api, raw_event("pos-b1", "2024-02-03T10:00:00Z", "crm_id:C-2", type_="purchase",
                                source="pos", properties={"amount": 80}))

    for name in ("anna", "bob"):
        # a reader sees the why as it is: conditions and values, no identifiers
        customer = (await api.run("reader", MEMBERSHIPS, id=ids[name]))["customer"]
        [membership] = customer["segments"]
        assert membership["segmentId"] == "buyers"
        assert membership["why"] == ["count(purchase where amount > 20) >= 1 (value: 1)",
                                     "has(email)"]
        [entered] = customer["segmentHistory"]
        assert entered == {"segmentId": "buyers", "change": "ENTERED",
                           "at": membership["since"], "why": membership["why"]}
    carl = (await api.run("reader", MEMBERSHIPS, id=ids["carl"]))["customer"]
    assert carl == {"segments": [], "segmentHistory": []}

    first = (await api.run("reader", SEGMENT, id="buyers", first=1))["segment"]
    assert (first["size"], first["definition"]) == (2, BUYERS)
    members = first["members"]
    assert members["pageInfo"]["hasNextPage"]
    rest = (await api.run("reader", SEGMENT, id="buyers", first=5,
                          after=members["pageInfo"]["endCursor"]))["segment"]["members"]
    assert not rest["pageInfo"]["hasNextPage"]
    edges = members["edges"] + rest["edges"]
    assert sorted(e["node"]["id"] for e in edges) == sorted([ids["anna"], ids["bob"]])
    assert all(e["why"][-1] == "has(email)" and e["since"] for e in edges)
    bad = await api.fails("reader", SEGMENT, id="buyers", first=5, after="nonsense")
    assert "after:" in bad.errors[0]["message"]

    api.counting.reset()
    await api.run("reader", """query($ids: [IdentifierInput!]!) { customers(identifiers: $ids) {
        segments { segmentId } segmentHistory { at } } }""", ids=[
        {"type": "cookie", "value": c} for c in ("ck_anna", "ck_bob", "ck_carl")])
    # segments from the profile documents, read with the owners (docs/api.md)
    assert api.counting.calls["owner_documents"] == api.counting.calls["membership_history"] == 1
    assert "read_customers" not in api.counting.calls


async def test_segment_history_lists_entries_and_exits_newest_first(api):
    ids = await seed(api.services)
    await define(api, "buyers", BUYERS)
    await api.run("admin", UPDATE, id="buyers", definition="count(purchase) >= 2")
    await api.run("admin", UPDATE, id="buyers", definition="count(purchase) >= 1")
    history = (await api.run("reader", MEMBERSHIPS, id=ids["anna"]))["customer"][
        "segmentHistory"]
    assert [h["change"] for h in history] == ["ENTERED", "LEFT", "ENTERED"]
    assert history[1]["why"] == ["count(purchase) >= 2 (value: 1)"]
    assert history[0]["at"] >= history[1]["at"] >= history[2]["at"]
    one = await api.run("reader", """query($id: ID!) { customer(id: $id) {
        segmentHistory(first: 1) { change } } }""", id=ids["anna"])
    assert one["customer"]["segmentHistory"] == [{"change": "ENTERED"}]


async def test_computed_traits_are_in_the_profile_batched_across_customers(api):
    await seed(api.services)
    await ingest(api, raw_event("pos-2", "2024-01-06T10:00:00Z", "crm_id:C-1", type_="purchase",
                                source="pos", properties={"amount": "49.95",
                                                          "category": "shoes"}))
    api.counting.reset()
    found = await api.run("reader", """query($ids: [IdentifierInput!]!) {
        customers(identifiers: $ids) { profile {
          computed { name value definition kind } } } }""", ids=[
        {"type": "cookie", "value": c} for c in ("ck_anna", "ck_bob", "ck_carl")])
    # one read of the events for the three customers
    assert api.counting.calls["timelines"] == 1
    anna, bob, carl = ({t["name"]: t for t in c["profile"]["computed"]}
                       for c in found["customers"])
    assert anna["order_count"] == {"name": "order_count", "value": 2, "kind": "COUNT",
                                   "definition": anna["order_count"]["definition"]}
    assert anna["lifetime_value"]["value"] == 74.95
    assert anna["favourite_category"]["value"] == "shoes"
    assert anna["first_seen"]["value"] == "2024-01-01T10:00:00.000000Z"
    assert bob["order_count"]["value"] == 0 and bob["lifetime_value"]["value"] == 0
    assert carl["average_order_value"]["value"] is None
    assert "purchase" in anna["order_count"]["definition"]


async def test_a_subscriber_hears_customers_enter_and_leave_its_segment(api):
    ids = await seed(api.services)
    await define(api, "buyers", BUYERS)
    await define(api, "cookie_only", "NOT has(crm_id)")
    await api.caught_up()
    heard: list[dict[str, Any]] = []
    query = """subscription($s: ID!) { segmentMembershipChanged(segmentId: $s) {
        segmentId customerId joined at why customer { id } } }"""
    listener = asyncio.create_task(collect(api, "reader", query, {"s": "buyers"}, 1, heard))
    left: list[dict[str, Any]] = []
    other = asyncio.create_task(collect(api, "reader", query, {"s": "cookie_only"}, 1, left))
    await wait_for_subscribers(api, 2)
    await ingest(api, raw_event("pos-b1", "2024-02-03T10:00:00Z", "crm_id:C-2",
                                type_="purchase", source="pos", properties={"amount": 80}))
    # a steward action moves carl out of cookie_only: merged into anna, or absorbing her
    link = await api.run("steward", """mutation { linkIdentifiers(
        a: {type: "cookie", value: "ck_carl"}, b: {type: "cookie", value: "ck_anna"},
        reason: "same person") { __typename } }""")
    assert link["linkIdentifiers"]["__typename"] == "ActionSuccess"
    try:
        async with asyncio.timeout(15):
            await asyncio.gather(listener, other)
    except TimeoutError:
        raise AssertionError(f"heard only {heard} {left}") from None
    [entered] = [h["segmentMembershipChanged"] for h in heard]
    assert entered["segmentId"] == "buyers" and entered["joined"]
    assert entered["customerId"] == ids["bob"] == entered["customer"]["id"]
    assert entered["why"] == ["count(purchase where amount > 20) >= 1 (value: 1)", "has(email)"]
    [carl_left] = [h["segmentMembershipChanged"] for h in left]
    assert (carl_left["customerId"], carl_left["joined"]) == (ids["carl"], False)
    assert carl_left["why"]


async def test_the_next_best_action_needs_a_trained_model(api):
    ids = await seed(api.services)
    query = """query($id: ID!) { customer(id: $id) { nextBestAction {
        step eventType source score after evidence alternatives { step score }
        propensity drivers { feature value contribution } } } }"""
    untrained = await api.run("reader", query, id=ids["anna"])
    assert untrained == {"customer": {"nextBestAction": None}}

    await api.services.marketing.train()
    action = (await api.run("reader", query, id=ids["anna"]))["customer"]["nextBestAction"]
    assert action["step"] == f"{action['eventType']}@{action['source']}"
    assert action["alternatives"][0] == {"step": action["step"], "score": action["score"]}
    assert 0 < action["score"] <= 1 and 0 <= action["propensity"] <= 1
    assert action["after"] == "page_view@app"  # anna's last step
    assert all(isinstance(d["contribution"], float) for d in action["drivers"])


PERFORMANCE = """query($since: DateTime!, $until: DateTime!) {
  campaignPerformance(since: $since, until: $until, funnel: ["page_view", "purchase"],
                      funnelWithinDays: 7) {
    since until conversions value paths
    lastTouch { bySource { key conversions value } byCampaign { key conversions value } }
    linear { byCampaign { key conversions value } }
    markov { byCampaign { key conversions value } }
    funnel { step customers fromPrevious fromStart } } }"""


async def test_campaign_performance_credits_the_campaign_touches(api):
    await seed(api.services)
    await ingest(
        api,
        raw_event("ad-1", "2024-05-01T10:00:00Z", "cookie:ck_bob",
                  properties={"url": "/?utm_campaign=spring&utm_source=newsletter"}),
        raw_event("buy-1", "2024-05-02T10:00:00Z", "cookie:ck_bob", type_="purchase",
                  properties={"amount": 40}),
        raw_event("ad-2", "2024-05-03T10:00:00Z", "cookie:ck_carl",
                  properties={"utm_campaign": "spring", "utm_source": "newsletter"}),
    )
    found = (await api.run("reader", PERFORMANCE, since="2024-05-01T00:00:00Z",
                           until="2024-06-01T00:00:00+00:00"))["campaignPerformance"]
    assert (found["conversions"], found["value"], found["paths"]) == (1, 40.0, 2)
    assert found["since"].startswith("2024-05-01T00:00:00")
    spring = [{"key": "spring", "conversions": 1.0, "value": 40.0}]
    assert found["lastTouch"]["byCampaign"] == spring
    assert found["lastTouch"]["bySource"] == [{"key": "newsletter", "conversions": 1.0,
                                               "value": 40.0}]
    assert found["linear"]["byCampaign"] == spring == found["markov"]["byCampaign"]
    assert found["funnel"] == [
        {"step": "page_view", "customers": 2, "fromPrevious": None, "fromStart": 1.0},
        {"step": "purchase", "customers": 1, "fromPrevious": 0.5, "fromStart": 0.5}]


async def test_a_bad_time_for_campaign_performance_names_the_argument(api):
    bad = await api.fails("reader", PERFORMANCE, since="last tuesday",
                          until="2024-06-01T00:00:00Z")
    assert bad.errors[0]["message"].startswith("Variable '$since' has invalid value")
    assert "not an RFC 3339 time" in bad.errors[0]["message"]
    assert "'last tuesday'" in bad.errors[0]["message"]
    naive = await api.fails("reader", PERFORMANCE, since="2024-05-01T00:00:00",
                            until="2024-06-01T00:00:00Z")
    assert naive.errors[0]["message"].startswith("since: 2024-05-01T00:00:00 has no offset")
    backwards = await api.fails("reader", PERFORMANCE, since="2024-06-01T00:00:00Z",
                                until="2024-05-01T00:00:00Z")
    assert backwards.errors[0]["message"].startswith("until:")
    window = await api.fails("reader", """{ campaignPerformance(since: "2024-05-01T00:00:00Z",
        until: "2024-06-01T00:00:00Z", funnelWithinDays: 0) { conversions } }""")
    assert window.errors[0]["message"].startswith("funnelWithinDays:")


@pytest.mark.kafka
async def test_a_segment_defined_through_one_replica_reaches_a_subscriber_of_another(
        sqlite_store, api_with):
    topic = await create_topic(unique("api-segments"), partitions=2)
    ids = await seed_store(sqlite_store)
    query = """subscription($s: ID!) { segmentMembershipChanged(segmentId: $s) {
        customerId joined why } }"""
    async with api_with(sqlite_store, bus=KafkaBus(KAFKA_BOOTSTRAP, topic)) as one, \
            api_with(sqlite_store, bus=KafkaBus(KAFKA_BOOTSTRAP, topic)) as two:
        # Defined with no member yet (an unknown segment cannot be subscribed to), then
        # changed through the other replica.
        assert (await define(one, "buyers", "count(purchase) >= 1000"))["__typename"] \
            == "SegmentDefined"
        heard: list[dict[str, Any]] = []
        listener = asyncio.create_task(collect(two, "reader", query, {"s": "buyers"}, 1, heard))
        await wait_for_subscribers(two, 1)
        updated = await one.run("admin", """mutation($d: String!) { r: updateSegment(
            id: "buyers", definition: $d) { __typename } }""", d=BUYERS)
        assert updated["r"]["__typename"] == "SegmentDefined"
        async with asyncio.timeout(20):
            await listener
    assert heard == [{"segmentMembershipChanged": {
        "customerId": ids["anna"], "joined": True,
        "why": ["count(purchase where amount > 20) >= 1 (value: 1)", "has(email)"]}}]
