"""Subscriptions over graphql-transport-ws with the gql websockets transport."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gql import GraphQLRequest

from app.api.events import CUSTOMERS
from app.domain.changes import Change
from app.services.ingest import IngestService
from tests.api.data import seed
from tests.api.websocket import ws_send
from tests.helpers import event, raw_event

CHANGED = """subscription($id: ID!) { customerChanged(id: $id) {
  kind customerId fromCustomers absorbedId identifiers eventIds customer { id } } }"""
LINK = """mutation { linkIdentifiers(a: {type: "cookie", value: "ck_carl"},
  b: {type: "cookie", value: "ck_anna"}, reason: "same person") { __typename } }"""
INGEST = """mutation($events: [JSON!]!) { ingestEvents(events: $events) { __typename } }"""


def causes(exc: BaseException | None) -> str:
    """The exception and its causes, as text."""
    text = ""
    while exc is not None:
        text += f"{exc!r} {getattr(exc, 'rcvd', '')}\n"
        exc = exc.__cause__ or exc.__context__
    return text


async def wait_for_subscribers(api, n: int) -> None:
    for _ in range(500):
        if api.bus.subscribers >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{api.bus.subscribers} subscribers after 10 s, expected {n}")


async def collect(api, role: str, query: str, variables: dict[str, Any], n: int,
                  into: list[dict[str, Any]]) -> None:
    async with api.ws_client(role) as session:
        request = GraphQLRequest(query, variable_values=variables)
        async for result in session.subscribe(request):
            into.append(result)
            if len(into) == n:
                return


async def test_both_sides_of_a_merge_hear_of_it_and_then_follow_the_survivor(api):
    ids = await seed(api.services)
    await api.caught_up()
    heard: dict[str, list[dict[str, Any]]] = {"anna": [], "carl": []}
    listeners = [asyncio.create_task(collect(api, "reader", CHANGED, {"id": ids[name]}, 3,
                                             heard[name])) for name in heard]
    await wait_for_subscribers(api, 2)
    assert (await api.run("steward", LINK))["linkIdentifiers"]["__typename"] == "ActionSuccess"
    await api.run("steward", INGEST, events=[raw_event(
        "web-9", "2024-04-01T00:00:00Z", "cookie:ck_carl", "email:anna2@example.com",
        traits={"city": "Utrecht"})])
    try:
        async with asyncio.timeout(15):
            await asyncio.gather(*listeners)
    except TimeoutError:
        raise AssertionError(f"heard only {heard}") from None

    survivor = (await api.services.store.owners(["cookie:ck_carl"]))["cookie:ck_carl"]
    for name, results in heard.items():
        merged, added, profile = (r["customerChanged"] for r in results)
        assert merged["kind"] == "CUSTOMER_MERGED", name
        assert set(merged["fromCustomers"]) == {ids["anna"], ids["carl"]}
        assert merged["customerId"] == survivor and merged["customer"] == {"id": survivor}
        assert merged["absorbedId"] == ({ids["anna"], ids["carl"]} - {survivor}).pop()
        assert merged["eventIds"] == []  # a steward's link, no event
        assert (added["kind"], added["customerId"]) == ("IDENTIFIERS_ADDED", survivor)
        assert added["identifiers"] == ["email:a***@example.com"]  # a reader: masked
        assert added["eventIds"] == ["web-9"]
        assert (profile["kind"], profile["customerId"]) == ("PROFILE_CHANGED", survivor)


async def test_a_subscription_needs_an_accepted_key_and_a_known_customer(api):
    ids = await seed(api.services)
    for role in (None, "nobody"):
        client = api.ws_client(role) if role is None else api.ws_client("reader")
        if role == "nobody":
            client.transport.init_payload = {"Authorization": "Bearer wrong-key"}
        with pytest.raises(Exception) as refused:  # noqa: B017 - gql raises several kinds
            async with asyncio.timeout(10), client as session:
                async for _ in session.subscribe(GraphQLRequest(CHANGED, variable_values={
                        "id": ids["anna"]})):
                    break
        assert "4403" in causes(refused.value)
    with pytest.raises(Exception) as unknown:  # noqa: B017
        async with asyncio.timeout(10), api.ws_client("reader") as session:
            async for _ in session.subscribe(GraphQLRequest(CHANGED, variable_values={
                    "id": "c_nope"})):
                break
    assert "no customer c_nope" in str(unknown.value)


async def test_segment_membership_changes_reach_their_subscribers(api):
    heard: list[dict[str, Any]] = []
    query = """subscription($s: ID!) { segmentMembershipChanged(segmentId: $s) {
        segmentId customerId joined at why } }"""
    await api.services.segments.define("vip", "count(purchase) >= 1")
    listener = asyncio.create_task(collect(api, "reader", query, {"s": "vip"}, 2, heard))
    await wait_for_subscribers(api, 1)
    at = "2024-01-01T00:00:00Z"
    await api.bus.publish(CUSTOMERS, [
        Change("segment_entered", "c_1", at, (), data={"segment": "other", "why": []}),
        Change("profile_changed", "c_2", at, ()),
        Change("segment_entered", "c_2", at, (), data={"segment": "vip", "why": ["spent 1000"]}),
        Change("segment_left", "c_3", at, (), data={"segment": "vip", "why": ["merged into c_2"]})])
    async with asyncio.timeout(10):
        await listener
    assert heard == [
        {"segmentMembershipChanged": {"segmentId": "vip", "customerId": "c_2", "joined": True,
                                      "at": at, "why": ["spent 1000"]}},
        {"segmentMembershipChanged": {"segmentId": "vip", "customerId": "c_3", "joined": False,
                                      "at": at, "why": ["merged into c_2"]}}]


async def test_changes_written_outside_the_api_reach_its_subscribers(api):
    """A loader, a CLI command or another API process writes to the store: its changes,
    read from the store's outbox, reach this process's subscribers too."""
    ids = await seed(api.services)
    await api.caught_up()
    heard: list[dict[str, Any]] = []
    listener = asyncio.create_task(collect(api, "reader", CHANGED, {"id": ids["carl"]}, 2,
                                           heard))
    await wait_for_subscribers(api, 1)
    loader = IngestService(api.services.store)  # not through the API: nothing wakes it
    await loader.ingest([event("kafka-1", "2024-04-01T00:00:00Z", "cookie:ck_carl",
                               "email:carl@example.com", traits={"city": "Delft"})])
    async with asyncio.timeout(15):
        await listener
    assert [(h["customerChanged"]["kind"], h["customerChanged"]["eventIds"]) for h in heard] == [
        ("IDENTIFIERS_ADDED", ["kafka-1"]), ("PROFILE_CHANGED", ["kafka-1"])]


@pytest.mark.parametrize("query, code, message", [
    ("subscription { customerChanged(id: ", "GRAPHQL_PARSE_FAILED", "Syntax Error: "),
    ("subscription { nope }", "GRAPHQL_VALIDATION_FAILED", "Cannot query field 'nope'"),
    ('subscription { segmentMembershipChanged(segmentId: "nope") { joined } }',
     "BAD_USER_INPUT", "segmentId: no segment nope"),
    ('subscription { customerChanged(id: "c_nope") { kind } }', "BAD_USER_INPUT",
     "id: no customer c_nope"),
])
async def test_a_subscription_that_cannot_start_is_answered_with_a_coded_error(
        api, query, code, message):
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
    received, closed, _ = await ws_send(api, json.dumps(subscribe))
    assert closed is None, received  # the connection stays open for other subscriptions
    [reply] = received
    assert reply["id"] == "1"
    errors = reply["payload"] if reply["type"] == "error" else reply["payload"]["errors"]
    assert errors[0]["message"].startswith(message)
    assert errors[0]["extensions"]["code"] == code
